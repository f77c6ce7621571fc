"""Backup, verify and restore through a k8s:// Redis URL: a port-forward to the Redis container in the cluster.

Needs pods that run (the real-node sandbox, `real_sandbox` skips with the reason when this
machine cannot run them); tests/integration/sandbox/test_port_forward_on_sandbox.py covers
what kwok's API objects alone decide.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.backup import open_store, read_manifest, take_backup, verify_backup
from harness.config import load_settings
from harness.errors import ConnectionFailed
from harness.platform.client import Cluster, namespaced
from harness.platform.port_forward import forwarded_redis
from harness.redis_client import connect as redis_connect
from harness.restore import restore_backup
from harness.sandbox import SandboxInfo
from harness.target import open_target


def _redis_runs_in_a_container(cluster: Cluster, namespace: str) -> None:
    pods = cluster.list_items(namespaced("v1", "pods", namespace), labelSelector="app=redis")
    running = [p for p in pods if any(s.get("containerID") and s.get("ready")
                                      for s in (p.get("status") or {}).get("containerStatuses") or [])]
    if not running:
        pytest.skip(f"no Redis container runs in namespace {namespace} (kwok pods never run): "
                    "k8s:// needs the real-node sandbox")


def test_backup_verify_and_restore_through_a_k8s_url(real_sandbox: SandboxInfo, real_cluster: Cluster,
                                                     tmp_path: Path) -> None:
    _redis_runs_in_a_container(real_cluster, real_sandbox.namespace)
    password = real_sandbox.redis_password()
    (tmp_path / "store").mkdir()
    store = open_store(f"file://{tmp_path / 'store'}")
    with forwarded_redis(f"k8s://{real_sandbox.namespace}/svc/redis:6379", lambda: real_cluster) as url:
        assert url.startswith("redis://127.0.0.1:")
        keys_before = int(redis_connect(url, password).dbsize())
        backup = take_backup(url, store, password=password)
        assert read_manifest(store, backup.id).key_count == keys_before > 0

        report = verify_backup(store, backup.id, min_keys=1)
        assert report.failed_check is None, report.to_json()

        restored = restore_backup(store, backup.id, target_url=url, target_password=password, strategy="network",
                                  replace=True)  # the same data back: the shared sandbox stays as it was
        assert restored.keys_restored >= keys_before - 50  # keys with TTLs may expire meanwhile
        assert restored.snapshot  # the non-empty target was snapshotted first, through the forward too
        held = int(redis_connect(url, password).dbsize())
        assert restored.keys_restored - 50 <= held <= restored.keys_restored  # the same TTL allowance as above


def test_a_cluster_target_with_a_k8s_redis_url_reaches_redis_by_pod_name_and_releases_the_forward(
        real_sandbox: SandboxInfo, real_cluster: Cluster) -> None:
    _redis_runs_in_a_container(real_cluster, real_sandbox.namespace)
    settings = load_settings(env={"DRILL_TARGET": "real-node-staging", "DRILL_KUBECONFIG": str(real_sandbox.kubeconfig),
                                  "DRILL_CONTEXT": real_sandbox.context, "DRILL_NAMESPACE": real_sandbox.namespace,
                                  "DRILL_REDIS_URL": f"k8s://{real_sandbox.namespace}/pod/redis-0:6379",
                                  "REDIS_PASSWORD": real_sandbox.redis_password()})
    with open_target(settings) as target:
        url = target.redis_url
        assert target.redis().dbsize() > 0
        assert target.redis_url == url  # one forward per URL and context for the target's lifetime
    with pytest.raises(ConnectionFailed):  # the listener is gone with the target
        redis_connect(url, real_sandbox.redis_password(), timeout=1.0)
