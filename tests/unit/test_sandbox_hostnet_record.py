"""The host's record of the sandbox's changes: outside the state dir, written first, enough to repair after a crash."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.sandbox import host_record, hostnet, node_pool
from harness.sandbox.host_record import HostRecord
from harness.sandbox.netplan import configured_network
from harness.sandbox.state import SandboxPaths
from tests.fakes.host_network import FakeEdge, FakeHost, install_fake_edge

DEFAULT = configured_network({})
EMPTY: dict[str, Any] = {"routes": [], "addresses": [], "jumps": []}


@pytest.fixture
def edge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeEdge:
    return install_fake_edge(monkeypatch, tmp_path, {"net/ipv4/ip_forward": "0", "kernel/panic": "0"})


def _host_state(host: FakeHost) -> object:
    return (sorted(host.routes), sorted(host.lo_addresses), sorted(host.bridges),
            {b: {t: dict(c) for t, c in ipt.tables.items()} for b, ipt in host.iptables.items()})


def _recorded_before(argv: list[str], record: dict[str, Any]) -> bool | None:
    """For a command that changes the host outside the sandbox's own chains: is its undo in the record already?
    (None for any other command.)"""
    if argv[:3] == ["ip", "route", "add"]:
        return " ".join(argv[3:]) in record["routes"]
    if argv[:3] == ["ip", "addr", "add"]:
        return argv[3] in record["addresses"]
    if argv[0] in ("iptables", "ip6tables") and "-I" in argv:
        at = argv.index("-I")
        return [argv[0], argv[argv.index("-t") + 1], argv[at + 1], *argv[at + 3:]] in record["jumps"]
    return None


def test_the_record_lives_outside_the_state_dir_and_each_change_is_in_it_before_it_is_made(
        edge: FakeEdge, tmp_path: Path) -> None:
    state = tmp_path / "state"
    seen: list[str] = []
    answer = edge.host.run

    def checking(argv: list[str], **kw: object):  # type: ignore[no-untyped-def]
        saved = host_record.record_file()
        recorded = _recorded_before(argv, json.loads(saved.read_text()) if saved.exists() else EMPTY)
        if recorded is not None:
            assert recorded, f"{argv} made before it was recorded"
            seen.append(" ".join(argv))
        return answer(argv, **kw)

    edge.host.run = checking  # type: ignore[method-assign]
    state.mkdir()
    hostnet.prepare_host(HostRecord(owner=str(state)), DEFAULT, nodes=3)
    assert len([s for s in seen if s.startswith("ip route add")]) == 4
    assert len([s for s in seen if s.startswith("ip addr add")]) == 4  # the DNS address and three nodes
    assert len([s for s in seen if s.startswith("iptables")]) == 2  # INPUT and FORWARD into our chains
    assert host_record.record_file().parent == edge.run_dir and not list(state.iterdir())
    saved = json.loads(host_record.record_file().read_text())
    assert saved["owner"] == str(state) and saved["boot"] == host_record.boot_id()
    assert saved["sysctls"]["net/ipv4/ip_forward"] == {"before": "0", "set": "1"}
    assert saved["sysctls"]["kernel/panic"] == {"before": "0", "set": "10"}  # the kubelet's, recorded before it runs


def test_a_crash_midway_is_repaired_from_the_record(edge: FakeEdge, tmp_path: Path) -> None:
    before = _host_state(edge.host)
    answer = edge.host.run

    def dies_at_the_third_address(argv: list[str], **kw: object):  # type: ignore[no-untyped-def]
        if argv[:3] == ["ip", "addr", "add"] and len(edge.host.lo_addresses) == 3:
            raise KeyboardInterrupt  # stands for kill -9: nothing after this line of `up` runs
        return answer(argv, **kw)

    edge.host.run = dies_at_the_third_address  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        hostnet.prepare_host(HostRecord(owner=str(tmp_path / "state")), DEFAULT, nodes=3)
    edge.host.run = answer  # type: ignore[method-assign]
    assert _host_state(edge.host) != before
    record = host_record.load()
    assert record is not None
    assert hostnet.restore_host(record) == []
    assert _host_state(edge.host) == before and not host_record.record_file().exists()


def test_down_with_the_state_dir_gone_repairs_the_host_and_another_sandbox_leaves_a_live_pool_alone(
        edge: FakeEdge, tmp_path: Path) -> None:
    before = _host_state(edge.host)
    owner, beside = SandboxPaths(tmp_path / "owner"), SandboxPaths(tmp_path / "beside")
    assert node_pool.claim_host(owner) is None
    hostnet.prepare_host(node_pool._claimed_record(owner), DEFAULT, nodes=3)
    edge.host.bridges.append("sdr-a")  # the CNI plugin's, once a pod started
    assert node_pool.claim_host(beside) == f"this host's real nodes belong to the sandbox in {owner.root}"
    assert node_pool.stop_pool(beside) == []  # a kwok sandbox going down beside the live pool
    assert _host_state(edge.host) != before and host_record.load() is not None

    shutil.rmtree(owner.root)
    assert node_pool.claim_host(beside).startswith(  # type: ignore[union-attr]
        f"this host still carries changes of the sandbox in {owner.root}")
    assert node_pool.stop_pool(owner) == []  # `sandbox down` of the deleted state dir
    assert _host_state(edge.host) == before and host_record.load() is None
    assert node_pool.claim_host(beside) is None


def test_the_next_up_of_any_sandbox_repairs_an_orphaned_record(edge: FakeEdge, tmp_path: Path) -> None:
    before = _host_state(edge.host)
    owner, other = SandboxPaths(tmp_path / "owner"), SandboxPaths(tmp_path / "other")
    assert node_pool.claim_host(owner) is None
    hostnet.prepare_host(node_pool._claimed_record(owner), DEFAULT, nodes=3)
    shutil.rmtree(owner.root)
    assert node_pool.stop_pool(other) == []  # what `up` does first in its own state dir
    assert _host_state(edge.host) == before


def test_a_record_from_an_earlier_boot_is_dropped_not_replayed(edge: FakeEdge, tmp_path: Path) -> None:
    HostRecord(owner=str(tmp_path), boot="another-boot", sysctls={"kernel/panic": {"before": "5", "set": "0"}}).save()
    assert host_record.load() is None and not host_record.record_file().exists()
    assert edge.sysctls.get("kernel/panic") == "0"


def test_an_earlier_versions_record_in_the_state_dir_is_adopted(edge: FakeEdge, tmp_path: Path) -> None:
    state = SandboxPaths(tmp_path / "old")
    state.root.mkdir()
    edge.host.routes.append("unreachable 10.250.0.0/24")
    edge.host.lo_addresses.append("10.250.0.11/32")
    edge.sysctls.set("net/ipv4/ip_forward", "1")
    (state.root / "hostnet.json").write_text(json.dumps({
        "addresses": ["10.250.0.11/32"], "routes": ["unreachable 10.250.0.0/24"],
        "sysctls": {"net/ipv4/ip_forward": "0", "kernel/panic": "0"}, "chains_before": {}, "jumps": []}))
    assert node_pool.stop_pool(state) == []
    assert "unreachable 10.250.0.0/24" not in edge.host.routes and "10.250.0.11/32" not in edge.host.lo_addresses
    assert edge.sysctls.get("net/ipv4/ip_forward") == "0"
    assert not (state.root / "hostnet.json").exists() and host_record.load() is None


def test_the_claim_keeps_a_marker_earlier_versions_read_as_held(edge: FakeEdge, tmp_path: Path) -> None:
    owner = SandboxPaths(tmp_path / "owner")
    assert node_pool.claim_host(owner) is None
    marker = owner.root / node_pool.HELD_MARKER
    assert marker.exists() and json.loads(node_pool.HOST_LOCK.read_text()) == {"state_dir": str(owner.root)}
    assert node_pool.stop_pool(owner) == []
    assert not marker.exists() and not node_pool.HOST_LOCK.exists() and host_record.load() is None
    assert os.listdir(edge.run_dir) == ["real-nodes.lock"]
