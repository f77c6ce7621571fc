"""The undo ledger outlives the machine that ran the drill, and replays only on the cluster it was written for
(the sandbox's real control plane, its store on moto's server)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.platform.client import Cluster, connect
from harness.platform.nodes import cordon_zone, uncordon_zone, unschedulable_nodes
from harness.sandbox import SandboxInfo
from harness.sandbox.state import REPO_ROOT
from harness.target import open_target
from harness.undo import cluster_ref, ledger_for

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]

RUN_ID = "20261206T120000Z-sandbox-ledger"


def _recover(sandbox: SandboxInfo, state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRILL_")}
    env.update(DRILL_SANDBOX_DIR=str(sandbox.state_dir), DRILL_STATE_DIR=str(state_dir))
    return subprocess.run([sys.executable, "-m", "harness.cli", "recover", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def _drain_on_machine_a(sandbox: SandboxInfo, state_dir: Path, **cluster_changes: str) -> tuple[Cluster, tuple[str, ...]]:
    """What a drill's drain does: the undo written first (locally and to the store), then the cordon."""
    settings = sandbox.to_settings(sandbox_dir=str(sandbox.state_dir)).model_copy(
        update={"state_dir": str(state_dir), "run_id": RUN_ID})
    with open_target(settings, start_sandbox=False) as target:
        cluster = target.cluster()
        where = {**cluster_ref(cluster), "kubeconfig": "/home/ci-runner/gone/kubeconfig", **cluster_changes}
        ledger_for(target).before("uncordon_nodes", action="drain zone zone-a", cluster=where, zone="zone-a",
                                  nodes=list(cordon_zone(cluster, "zone-a").changed))
        nodes = unschedulable_nodes(cluster, "zone-a")
    return cluster, nodes


def test_recover_from_another_machine_replays_the_ledgers_copy_in_the_store(sandbox: SandboxInfo,
                                                                           tmp_path: Path) -> None:
    cluster, cordoned = _drain_on_machine_a(sandbox, tmp_path / "machine-a")
    assert cordoned
    shutil.rmtree(tmp_path / "machine-a")  # the CI runner (or the Job's emptyDir) is gone with its state dir
    try:
        nothing = _recover(sandbox, tmp_path / "machine-b")
        assert nothing.returncode == 0 and "nothing to recover" in nothing.stdout  # the local ledger is empty
        proc = _recover(sandbox, tmp_path / "machine-b", "--from-store", "--run-id", RUN_ID)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "uncordoned" in proc.stdout
        assert unschedulable_nodes(connect(str(sandbox.kubeconfig), sandbox.context), "zone-a") == ()
        again = _recover(sandbox, tmp_path / "machine-b", "--from-store", "--run-id", RUN_ID)
        assert again.returncode == 0 and "nothing to recover" in again.stdout
    finally:
        uncordon_zone(cluster, "zone-a")


def test_an_undo_written_for_another_cluster_is_refused_even_at_the_same_address(sandbox: SandboxInfo,
                                                                                 tmp_path: Path) -> None:
    """A rebuilt cluster answers at the same URL with a new kube-system UID: the undo is not applied there."""
    cluster, cordoned = _drain_on_machine_a(sandbox, tmp_path / "machine-a", kubeconfig=str(sandbox.kubeconfig),
                                            kube_system_uid="00000000-0000-0000-0000-000000000000")
    try:
        proc = _recover(sandbox, tmp_path / "machine-a")
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "kube-system uid 00000000-0000-0000-0000-000000000000" in proc.stderr
        assert unschedulable_nodes(cluster, "zone-a") == cordoned  # nothing was undone on the wrong cluster
    finally:
        uncordon_zone(cluster, "zone-a")
