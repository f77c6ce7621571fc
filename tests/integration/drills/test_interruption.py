"""A drill stopped mid-fault leaves nothing broken: SIGTERM and SIGINT run every rollback, SIGKILL is
undone by `sentinel-drill recover`, and a node cordoned before the drill stays cordoned.

The zone drain is held mid-fault by a PodDisruptionBudget that refuses every
eviction (the drain retries 429s until its deadline), so the signal always
lands while zone-a is cordoned; the test waits for the undo ledger's record
of the drain, which is written before any node is touched.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.ledger import UndoLedger
from harness.platform.client import Cluster, ObjectNotFound, connect
from harness.platform.nodes import nodes_in_zone, unschedulable_nodes
from harness.sandbox import SandboxInfo, sandbox_status

REPO_ROOT = Path(__file__).resolve().parents[3]
ZONE = "zone-a"
PDB = "sentinel-brain"  # the stack's own budget, tightened for the test (a pod may have only one)
POLICY = "drill-isolate-compromise"


@pytest.fixture(scope="module")
def sandbox_info(drill_sandbox: SandboxInfo) -> SandboxInfo:
    """The module's own sandbox (tests/integration/drills/conftest.py): scenario 4 moves its namespace."""
    return drill_sandbox


@pytest.fixture(scope="module")
def cluster(sandbox_info: SandboxInfo) -> Cluster:
    return connect(sandbox_info.kubeconfig, sandbox_info.context)


@pytest.fixture
def held_drain(cluster: Cluster, sandbox_info: SandboxInfo) -> Iterator[str]:
    """Brain's budget refusing every eviction, and one node of the zone cordoned before the drill."""
    ns = sandbox_info.namespace
    budget = f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/{PDB}"
    cluster.request("PATCH", budget, body={"spec": {"maxUnavailable": 0}},
                    content_type="application/merge-patch+json")
    before = nodes_in_zone(cluster, ZONE)[0]
    cluster.request("PATCH", f"/api/v1/nodes/{before}", body={"spec": {"unschedulable": True}},
                    content_type="application/merge-patch+json")
    try:
        yield before
    finally:
        cluster.request("PATCH", budget, body={"spec": {"maxUnavailable": 1}},
                        content_type="application/merge-patch+json")
        cluster.request("PATCH", f"/api/v1/nodes/{before}", body={"spec": {"unschedulable": None}},
                        content_type="application/merge-patch+json")


def start_drill(sandbox_info: SandboxInfo, selection: str, tmp_path: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRILL_")}
    env.update(DRILL_SANDBOX_DIR=str(sandbox_info.state_dir), DRILL_REPORTS_DIR=str(tmp_path),
               DRILL_STATE_DIR=str(tmp_path / "state"))
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "drill", selection, "--results", str(tmp_path / "allure-results")],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(check, timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def interrupt_when(drill: subprocess.Popen[str], ready: Callable[[], bool], sig: signal.Signals, what: str) -> str:
    """Send `sig` to the drill once `ready()`, wait for it to finish; its output (the drill is killed on timeout)."""
    try:
        wait_for(ready, what=what)
        drill.send_signal(sig)
        output, _ = drill.communicate(timeout=90)
    finally:
        if drill.poll() is None:
            drill.kill()
    return output


def drill_children(tmp_path: Path) -> list[int]:
    """Processes still running this drill's child pytest (found by its results dir in argv)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"pytest" in b" ".join(argv) and str(tmp_path).encode() in b" ".join(argv):
                pids.append(int(entry.name))
    return pids


def ledger_pending(tmp_path: Path) -> list[str]:
    return [e.kind for e in UndoLedger.in_dir(tmp_path / "state").pending()]


def drain_held(cluster: Cluster, tmp_path: Path) -> bool:
    """The drain wrote its undo and cordoned zone-a (more than the one node cordoned before it)."""
    return "uncordon_nodes" in ledger_pending(tmp_path) and len(unschedulable_nodes(cluster, ZONE)) > 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_drain_runs_the_rollback_and_keeps_the_node_cordoned_before(
        sandbox_info: SandboxInfo, cluster: Cluster, held_drain: str, tmp_path: Path, sig: signal.Signals) -> None:
    drill = start_drill(sandbox_info, "scenario-2", tmp_path)
    output = interrupt_when(drill, lambda: drain_held(cluster, tmp_path), sig, "the drain to cordon zone-a")
    assert drill.returncode == 130, output[-3000:]
    assert "interrupted" in output
    assert unschedulable_nodes(cluster, ZONE) == (held_drain,)  # ours uncordoned, the one before stays
    assert ledger_pending(tmp_path) == [], "every undo ran and was marked done"
    assert drill_children(tmp_path) == [], "the child pytest is gone"
    journal = next((tmp_path / "journals").glob("zone-drain-*.journal.json"))
    data = json.loads(journal.read_text())
    assert data["status"] == "interrupted"
    assert [r["activity"]["name"] for r in data["run"]] == ["drain-zone"], "the method stopped at the interrupt"
    assert [r["status"] for r in data["rollbacks"]] == ["succeeded", "succeeded"]


def test_sigkill_mid_drain_then_recover_gives_the_same_end_state_and_a_second_recover_is_a_no_op(
        sandbox_info: SandboxInfo, cluster: Cluster, held_drain: str, tmp_path: Path) -> None:
    drill = start_drill(sandbox_info, "scenario-2", tmp_path)
    try:
        wait_for(lambda: drain_held(cluster, tmp_path), what="the drain to cordon zone-a")
        for pid in drill_children(tmp_path):
            os.kill(pid, signal.SIGKILL)
        drill.kill()
        drill.communicate(timeout=30)
    finally:
        if drill.poll() is None:
            drill.kill()
    assert len(unschedulable_nodes(cluster, ZONE)) > 1, "a killed drill ran no rollback"

    env = {k: v for k, v in os.environ.items() if not k.startswith("DRILL_")}
    env["DRILL_STATE_DIR"] = str(tmp_path / "state")
    recover = [sys.executable, "-m", "harness.cli", "recover"]
    first = subprocess.run(recover, check=False, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert "uncordoned" in first.stdout
    assert unschedulable_nodes(cluster, ZONE) == (held_drain,)
    second = subprocess.run(recover, check=False, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert "nothing to recover" in second.stdout
    assert unschedulable_nodes(cluster, ZONE) == (held_drain,)


def _isolation_present(cluster: Cluster, namespace: str) -> bool:
    try:
        cluster.get(f"/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies/{POLICY}")
        return True
    except ObjectNotFound:
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_isolation_lifts_the_isolation(sandbox_info: SandboxInfo, cluster: Cluster,
                                                    tmp_path: Path, sig: signal.Signals) -> None:
    """Last in the module: an interrupted scenario 4 may leave the sandbox in its clean namespace."""
    current = sandbox_status(sandbox_info.state_dir)
    assert current is not None
    namespace = current.namespace  # a previous run may have moved the sandbox to a clean namespace
    drill = start_drill(sandbox_info, "scenario-4", tmp_path)
    output = interrupt_when(drill, lambda: _isolation_present(cluster, namespace), sig, "the isolation policy")
    assert drill.returncode == 130, output[-3000:]
    assert not _isolation_present(cluster, namespace)
    assert ledger_pending(tmp_path) == []
    assert drill_children(tmp_path) == []
