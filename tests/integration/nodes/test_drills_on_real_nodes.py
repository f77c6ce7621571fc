"""Drills on running software: scenario 1 really kills Brain's processes and availability is real traffic;
scenario 2 drains a zone and stops one hard, and the cluster notices by itself."""

from __future__ import annotations

from pathlib import Path

from harness.platform.client import Cluster, namespaced
from harness.platform.nodes import not_ready_nodes
from harness.platform.volumes import pods_pinned_to_zone
from harness.sandbox import SandboxInfo


def _brain_containers(cluster: Cluster, namespace: str) -> set[str]:
    pods = cluster.list_items(namespaced("v1", "pods", namespace), labelSelector="app=sentinel-brain")
    return {s["containerID"] for p in pods for s in p["status"].get("containerStatuses") or [] if s.get("containerID")}


def test_scenario_1_kills_real_processes_and_measures_real_traffic(real_sandbox: SandboxInfo, real_cluster: Cluster,
                                                                    real_drill, tmp_path) -> None:
    before = _brain_containers(real_cluster, real_sandbox.namespace)
    output, results = real_drill("scenario-1", tmp_path)
    assert "ran on: sandbox real nodes" in output
    assert {s["verdict"] for s in results["scenarios"]} == {"PASS"}
    after = _brain_containers(real_cluster, real_sandbox.namespace)
    assert before and not (before & after)  # every Brain container was killed and replaced by a new one


def test_scenario_2_drains_and_stops_a_zone_hard_and_the_evidence_says_which(real_cluster: Cluster, real_drill,
                                                                           tmp_path) -> None:
    _, results = real_drill("scenario-2", tmp_path)
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


def test_the_integration_smoke_and_backup_coverage_pass_on_running_software(real_drill, tmp_path: Path) -> None:
    _, smoke = real_drill("smoke", tmp_path / "smoke")
    assert {s["verdict"] for s in smoke["scenarios"]} == {"PASS"} and len(smoke["scenarios"]) == 2
    assert smoke["meta"].get("not_run", []) == []
    replicas = next(s for s in smoke["scenarios"] if "replica" in s["name"])["details"]["gateway_replicas"]
    assert len(replicas) == 2  # both Gateway pods served the session from the one Redis

    _, coverage = real_drill("coverage", tmp_path / "coverage")
    assert [s["details"]["coverage"]["verdict"] for s in coverage["scenarios"]] == ["PASS"] * 4
