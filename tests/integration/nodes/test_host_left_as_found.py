"""The real-node sandbox leaves this host as it found it: after a crash, without its state dir, beside others.

The session's own check (conftest.py) compares the whole host before and after
its sandbox; these tests add what that cannot: another program's changes made
while the sandbox is up (checked at the session's end), `kill -9` of `sandbox
up` midway with the state dir gone afterwards, and the refusal of ranges the
host already routes.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from harness.measure.availability import probe_once
from harness.platform.client import connect
from harness.sandbox import SandboxInfo, sandbox_status
from harness.sandbox.netplan import BASE_ENV, DEFAULT_BASE, free_base, host_routes, network_from_base
from harness.sandbox.state import REPO_ROOT
from tests.integration.nodes.host_state import ForeignChanges, differences, run, snapshot

OVERLAPPING_ROUTE = ("blackhole", "10.0.0.0/8", "table", "4243")  # e.g. a VPN's, in a table of its own


def _cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRILL_")}
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def _components_running() -> bool:
    """kube-proxy has written its chains and the sandbox its routes: the node pool is half-way up (the host held
    none of them before: `host_without_real_sandbox` checks)."""
    nat = subprocess.run(["iptables", "-w", "-t", "nat", "-S"], capture_output=True, text=True, check=False).stdout
    routes = subprocess.run(["ip", "route"], capture_output=True, text=True, check=False).stdout
    return "-N KUBE-SERVICES" in nat and "unreachable 10.251.0.0/16" in routes


def test_another_programs_changes_made_while_up_are_still_there_after_down(
        real_sandbox: SandboxInfo, foreign_changes: ForeignChanges) -> None:
    foreign_changes.make()
    assert foreign_changes.missing() == []  # the session's end checks them again after `down`, then removes them


def _swap(a: Path, b: Path) -> None:
    """Exchange two paths atomically (renameat2 RENAME_EXCHANGE): no process sees neither."""
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd, rename_exchange = -100, 2
    if libc.renameat2(at_fdcwd, bytes(a), at_fdcwd, bytes(b), rename_exchange) != 0:
        raise OSError(ctypes.get_errno(), f"renameat2 {a} <-> {b}")


def test_kill_9_of_up_midway_then_down_without_the_state_dir_repairs_the_host(
        host_without_real_sandbox: dict[str, list[str]], tmp_path_factory: pytest.TempPathFactory) -> None:
    state = tmp_path_factory.mktemp("k9")  # short: the nodes' unix sockets live below it (108 bytes at most)
    gone = state.with_name(f"{state.name}-gone")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRILL_")}
    up = subprocess.Popen([sys.executable, "-m", "harness.cli", "sandbox", "up", "--nodes", "real", "--keys", "100",
                           "--state-dir", str(state)], cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not _components_running() and up.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert up.poll() is None, f"`sandbox up` ended (exit {up.returncode}) before its nodes were half-way up"
        assert _components_running(), "the node pool did not get half-way up within 300 s"
        os.kill(up.pid, signal.SIGKILL)
        up.wait()
        # the state dir is gone: a dangling link takes its place in one step, so the processes still running
        # (they create files by path) cannot bring it back; only what the host itself records can repair it
        gone.symlink_to(state.with_name("nowhere"))
        _swap(state, gone)
        down = _cli("sandbox", "down", "--state-dir", str(state))
        after = snapshot()
    finally:
        if up.poll() is None:
            os.kill(up.pid, signal.SIGKILL)
            up.wait()
        if state.is_symlink():
            _swap(state, gone)
            gone.unlink()
        _cli("sandbox", "down", "--state-dir", str(state))  # the control plane and moto, whose pids live there
    assert differences(host_without_real_sandbox, after) == [], down.stdout + down.stderr
    assert differences(host_without_real_sandbox, snapshot()) == []


def test_up_refuses_a_sandbox_range_the_host_already_routes(host_without_real_sandbox: dict[str, list[str]],
                                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    state = tmp_path_factory.mktemp("rr")
    run("ip", "route", "add", *OVERLAPPING_ROUTE)
    try:
        up = _cli("sandbox", "up", "--nodes", "real", "--keys", "100", "--state-dir", str(state))
        refused_with = snapshot()
    finally:
        run("ip", "route", "del", *OVERLAPPING_ROUTE)
        _cli("sandbox", "down", "--state-dir", str(state))
    output = up.stdout + up.stderr
    assert up.returncode == 2, output
    assert "10.0.0.0/8" in output and "10.250.0.0/24" in output and "DRILL_SANDBOX_NET_BASE=" in output, output
    # refused before anything changed: nothing but the route the test added differs
    assert differences(host_without_real_sandbox, refused_with) == [
        f"routes: + {' '.join(OVERLAPPING_ROUTE[:2])} {' '.join(OVERLAPPING_ROUTE[2:])}"]


def test_what_the_sandbox_lets_through_names_its_own_interfaces(real_sandbox: SandboxInfo) -> None:
    for chain in ("SENTINEL-DRILL-FORWARD", "SENTINEL-DRILL-GUARD"):
        rules = subprocess.run(["iptables", "-w", "-t", "filter", "-S", chain], capture_output=True, text=True,
                               check=True).stdout.splitlines()
        letting_through = [r for r in rules if r.startswith("-A") and r.split()[-1] in ("ACCEPT", "RETURN")]
        assert letting_through, rules
        unbound = [r for r in letting_through if not any(f"-{d} {i}" in r for d in "io" for i in ("lo", "sdr-+"))]
        assert unbound == [], f"{chain} lets through traffic from any interface: {unbound}"


@pytest.mark.slow
def test_a_sandbox_on_the_suggested_ranges_runs_its_stack_there(host_without_real_sandbox: dict[str, list[str]],
                                                                tmp_path_factory: pytest.TempPathFactory) -> None:
    """The base a refusal suggests moves every range the stack uses (a full real-node `up`, hence slow)."""
    base = free_base(host_routes())
    assert base is not None and base != DEFAULT_BASE
    network = network_from_base(base)
    state = tmp_path_factory.mktemp("nb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRILL_")} | {BASE_ENV: base}
    try:
        up = subprocess.run([sys.executable, "-m", "harness.cli", "sandbox", "up", "--nodes", "real", "--keys", "100",
                             "--state-dir", str(state)], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=900, check=False)
        assert up.returncode == 0, up.stdout + up.stderr
        info = sandbox_status(state)
        assert info is not None and probe_once(info.health_url, timeout=3.0).ok  # front door → Gateway Service → pods
        cluster = connect(info.kubeconfig, info.context)
        addresses = {a["address"] for n in cluster.list_items("/api/v1/nodes", labelSelector="sentinel-drill/node=real")
                     for a in n["status"]["addresses"] if a["type"] == "InternalIP"}
        assert addresses == {network.node_address(i) for i in range(3)}
        pod_ips = {p["status"].get("podIP") for p in cluster.list_items(f"/api/v1/namespaces/{info.namespace}/pods")}
        assert pod_ips and all(IPv4Address(ip) in network.pod_range for ip in pod_ips if ip), pod_ips
        services = cluster.list_items(f"/api/v1/namespaces/{info.namespace}/services")
        assert all(IPv4Address(s["spec"]["clusterIP"]) in network.service_range for s in services
                   if s["spec"].get("clusterIP") not in (None, "None"))
        routes = subprocess.run(["ip", "route"], capture_output=True, text=True, check=True).stdout
        default = network_from_base(DEFAULT_BASE)
        assert f"unreachable {network.pod_range}" in routes
        assert not [r for r in (*default.ranges, default.dns_address) if f"{r} " in routes], routes
    finally:
        _cli("sandbox", "down", "--state-dir", str(state))
    assert differences(host_without_real_sandbox, snapshot()) == []
