"""Drills on running software: scenario 1 really kills Brain's processes and availability is real traffic;
scenario 2 drains a zone and stops one hard, and the cluster notices by itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from harness.platform.client import Cluster, namespaced
from harness.platform.nodes import not_ready_nodes
from harness.platform.volumes import pods_pinned_to_zone
from harness.sandbox import SandboxInfo
from harness.sandbox.state import REPO_ROOT


def _brain_containers(cluster: Cluster, namespace: str) -> set[str]:
    pods = cluster.list_items(namespaced("v1", "pods", namespace), labelSelector="app=sentinel-brain")
    return {s["containerID"] for p in pods for s in p["status"].get("containerStatuses") or [] if s.get("containerID")}


def test_scenario_1_kills_real_processes_and_measures_real_traffic(real_sandbox: SandboxInfo, real_cluster: Cluster,
                                                                    tmp_path) -> None:
    before = _brain_containers(real_cluster, real_sandbox.namespace)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRILL_")}
    env.update(DRILL_SANDBOX_DIR=str(real_sandbox.state_dir), DRILL_REPORTS_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "drill", "scenario-1", "--results",
                           str(tmp_path / "allure-results")], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert "ran on: sandbox real nodes" in output
    results = json.loads((tmp_path / "drill-results.json").read_text())
    assert {s["verdict"] for s in results["scenarios"]} == {"PASS"}
    after = _brain_containers(real_cluster, real_sandbox.namespace)
    assert before and not (before & after)  # every Brain container was killed and replaced by a new one


def test_scenario_2_drains_and_stops_a_zone_hard_and_the_evidence_says_which(real_sandbox: SandboxInfo,
                                                                           real_cluster: Cluster, tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRILL_")}
    env.update(DRILL_SANDBOX_DIR=str(real_sandbox.state_dir), DRILL_REPORTS_DIR=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "drill", "scenario-2", "--results",
                           str(tmp_path / "allure-results")], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    results = json.loads((tmp_path / "drill-results.json").read_text())
    by_kind = {s["details"]["zone_failure_kind"]: s for s in results["scenarios"]}
    assert set(by_kind) == {"drain", "hard"} and {s["verdict"] for s in by_kind.values()} == {"PASS"}
    hard = by_kind["hard"]["details"]
    assert hard["fault_proof"]["not_ready"] == ["node-zone-a"]  # the cluster noticed by itself
    assert hard["zone_drain"]["cordoned_after_drain"] == []  # nothing was cordoned: not a drain in disguise
    assert not results["meta"]["not_run"]
    assert not not_ready_nodes(real_cluster, "zone-a")  # the rollback gave the zone back


def test_losing_the_zone_that_holds_redis_would_strand_it_and_the_drill_says_so(real_sandbox: SandboxInfo,
                                                                                 real_cluster: Cluster) -> None:
    pinned = pods_pinned_to_zone(real_cluster, namespace=real_sandbox.namespace, zone="zone-c")
    assert [p.pod for p in pinned] == ["redis-0"]
    assert pods_pinned_to_zone(real_cluster, namespace=real_sandbox.namespace, zone="zone-a") == []
