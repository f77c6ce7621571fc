"""Platform operations against the real API server of the sandbox, and the Redis data seam on its local Redis."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.backup.manifest import DRILL
from harness.backup.take import take_backup
from harness.backup.verify import verify_backup
from harness.platform.client import Cluster, ObjectNotFound
from harness.platform.config_objects import ALL, export_config_objects, import_config_objects
from harness.platform.endpoints import service_endpoints
from harness.platform.network import is_isolated, isolate_namespace, unisolate_namespace
from harness.platform.pod_exec import PodCommandFailed
from harness.platform.redis_volume import ClusterRedisVolumeOps
from harness.platform.workloads import rollout_status
from harness.restore.process_plane import LocalProcessPlane
from harness.restore.run import restore_to
from harness.sandbox import SandboxInfo, sandbox_status
from harness.target import open_target

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]
NS = "sentinel"


def test_isolation_adds_and_removes_a_deny_all_policy(cluster: Cluster) -> None:
    assert not is_isolated(cluster, namespace=NS)
    assert isolate_namespace(cluster, namespace=NS, dry_run=True).changed and not is_isolated(cluster, namespace=NS)
    try:
        assert isolate_namespace(cluster, namespace=NS).changed
        assert not isolate_namespace(cluster, namespace=NS).changed  # idempotent
        assert is_isolated(cluster, namespace=NS)
        policy = cluster.get(f"/apis/networking.k8s.io/v1/namespaces/{NS}/networkpolicies/sentinel-drill-isolate")
        assert policy["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    finally:
        assert unisolate_namespace(cluster, namespace=NS).changed
    assert not unisolate_namespace(cluster, namespace=NS).changed
    assert not is_isolated(cluster, namespace=NS)


def test_exported_config_restores_into_a_fresh_namespace_identically(cluster: Cluster) -> None:
    exported = export_config_objects(cluster, namespace=NS, secrets=["sentinel-auth", "sentinel-redis"],
                                     config_maps=["sentinel-config"])
    assert [(o["kind"], o["metadata"]["name"]) for o in exported] == [
        ("ConfigMap", "sentinel-config"), ("Secret", "sentinel-auth"), ("Secret", "sentinel-redis")]
    assert all("uid" not in o["metadata"] and "resourceVersion" not in o["metadata"] for o in exported)
    assert {o["metadata"]["name"] for o in export_config_objects(cluster, namespace=NS, secrets=[ALL])} == {
        "sentinel-auth", "sentinel-redis"}

    target = f"restore-{int(time.time())}"
    cluster.request("POST", "/api/v1/namespaces", body={"metadata": {"name": target}})
    try:
        applied = import_config_objects(cluster, exported, namespace=target)
        assert all(a.created for a in applied)
        again = export_config_objects(cluster, namespace=target, secrets=["sentinel-auth", "sentinel-redis"],
                                      config_maps=["sentinel-config"])
        strip = [{**o, "metadata": {k: v for k, v in o["metadata"].items() if k != "namespace"}} for o in exported]
        assert [{**o, "metadata": {k: v for k, v in o["metadata"].items() if k != "namespace"}} for o in again] == strip
    finally:
        cluster.request("DELETE", f"/api/v1/namespaces/{target}")
    with pytest.raises(ObjectNotFound, match="secret sentinel/nope"):
        export_config_objects(cluster, namespace=NS, secrets=["nope"])


def test_services_have_ready_endpoints(cluster: Cluster) -> None:
    assert len(service_endpoints(cluster, namespace=NS, service="sentinel-brain").ready) == 3
    assert len(service_endpoints(cluster, namespace=NS, service="sentinel-gateway").ready) == 2


def test_the_restore_plane_the_sandbox_target_hands_out_is_its_local_process(sandbox: SandboxInfo) -> None:
    with open_target(sandbox.to_settings(sandbox_dir=str(sandbox.state_dir)), start_sandbox=False) as target:
        plane = target.restore_plane()
    assert isinstance(plane, LocalProcessPlane)
    assert (plane.url, plane.server.rdb_path) == (sandbox.redis_url, sandbox.redis_data_dir / "dump.rdb")


def test_a_local_process_restore_brings_back_the_backup_and_the_sandbox_keeps_tracking_redis(
    sandbox: SandboxInfo, tmp_path: Path
) -> None:
    """Through the one restore gate: the live server is snapshotted, stopped, given the file, started again."""
    import redis

    r = redis.Redis(port=sandbox.redis_port, password=sandbox.redis_password())
    r.set("drill:before-backup", "1")
    with open_target(sandbox.to_settings(sandbox_dir=str(sandbox.state_dir)), start_sandbox=False) as target:
        store = target.store()
        backup = take_backup(sandbox.redis_url, store, password=sandbox.redis_password(), origin=DRILL)
        verify_backup(store, backup.id, min_keys=1)
        r.set("drill:after-backup", "lost on restore")
        old_pid = sandbox_status(sandbox.state_dir).pids["redis"]  # type: ignore[union-attr]
        result = restore_to(target.restore_plane(), store, backup.id, replace=True,
                            trusted_keys=target.settings.verifier_public_keys, work_dir=tmp_path)

    r = redis.Redis(port=sandbox.redis_port, password=sandbox.redis_password())
    assert result.keys == r.dbsize() and abs(result.keys - backup.manifest.key_count) <= 5  # a few TTLs may lapse
    assert r.get("drill:before-backup") == b"1" and r.get("drill:after-backup") is None
    assert result.snapshot is not None  # what it overwrote went into the store first
    status = sandbox_status(sandbox.state_dir)
    assert status is not None and status.running and status.pids["redis"] != old_pid


def test_the_kubernetes_volume_ops_run_against_the_api_up_to_the_copy(cluster: Cluster, sandbox: SandboxInfo,
                                                                      tmp_path: Path) -> None:
    """kwok runs no containers, so the exec-based copy is the one step that cannot succeed here."""
    ops = ClusterRedisVolumeOps(cluster, NS)
    assert ops.scale("redis", 0) == 1
    try:
        ops.wait_stopped("redis", 60)
        assert ops.replicas("redis") == 0
        helper = ops.start_helper("data-redis-0", "/data", 60, name="sentinel-drill-restore-test",
                                  labels={"sentinel-drill/run-id": "test-run"})
        try:
            pod = cluster.get(f"/api/v1/namespaces/{NS}/pods/{helper}")
            assert pod["metadata"]["labels"]["sentinel-drill/run-id"] == "test-run"  # what `recover` checks
            rdb = tmp_path / "x.rdb"
            rdb.write_bytes(b"REDIS0010")
            with pytest.raises(PodCommandFailed, match=helper):
                ops.upload(helper, rdb, "/data/dump.rdb", 10)
        finally:
            ops.delete_helper(helper)
    finally:
        ops.scale("redis", 1)
        ops.wait_ready("redis", 60)
    assert rollout_status(cluster, "StatefulSet", "redis", namespace=NS).complete
