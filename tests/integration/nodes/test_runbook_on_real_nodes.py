"""The runbook's Redis commands, as written, against redis-0 running on a real node.

`kubectl exec … redis-cli` runs inside the container with the password from
its own environment (REDISCLI_AUTH), so no password is ever on a command line.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.backup.store import open_store
from harness.backup.take import take_backup
from harness.backup.verify import verify_backup
from harness.config import Settings
from harness.polling import wait_until
from harness.redis_client import connect as redis_connect
from harness.restore.run import restore_to
from harness.sandbox import SandboxInfo
from harness.sandbox.aws import sandbox_aws
from harness.sandbox.cluster import bin_dir
from harness.target.sandbox_nodes import RealNodeSandboxTarget

REDIS_CLI = 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli '


def kubectl(sandbox: SandboxInfo, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir() / "kubectl"), "--kubeconfig", str(sandbox.kubeconfig), "--context",
                           sandbox.context, *args], capture_output=True, text=True, timeout=120, check=check)


def redis_cli(sandbox: SandboxInfo, command: str) -> str:
    out = kubectl(sandbox, "exec", "-n", sandbox.namespace, "redis-0", "--", "sh", "-c", REDIS_CLI + command)
    return out.stdout.strip()


def persistent_keys(sandbox: SandboxInfo) -> int:
    """Keys without a TTL (INFO keyspace: keys − expires): a rate-limit counter or session that expires between two
    reads is not data the volume lost (a runbook DBSIZE once read 2013 and then 2012 for that reason)."""
    line = next(x for x in redis_cli(sandbox, "INFO keyspace").splitlines() if x.startswith("db0:"))
    fields = dict(part.split("=") for part in line.split(":", 1)[1].split(","))
    return int(fields["keys"]) - int(fields["expires"])


def test_bgsave_lastsave_cp_scale_and_dbsize_as_the_runbook_writes_them(real_sandbox: SandboxInfo,
                                                                        tmp_path: Path) -> None:
    keys = int(redis_cli(real_sandbox, "DBSIZE"))
    assert keys > 1_000
    persistent = persistent_keys(real_sandbox)
    before = int(redis_cli(real_sandbox, "LASTSAVE"))
    assert "Background saving started" in redis_cli(real_sandbox, "BGSAVE")
    wait_until(lambda: int(redis_cli(real_sandbox, "LASTSAVE")) > before or None, timeout=60, interval=0.5,
               what="LASTSAVE to move past the BGSAVE", describe=lambda: "LASTSAVE unchanged")

    copy = tmp_path / "redis-backup.rdb"
    kubectl(real_sandbox, "cp", f"{real_sandbox.namespace}/redis-0:/data/dump.rdb", str(copy))
    check = subprocess.run(["redis-check-rdb", str(copy)], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout[-400:]

    kubectl(real_sandbox, "scale", "-n", real_sandbox.namespace, "statefulset", "redis", "--replicas=0")
    kubectl(real_sandbox, "wait", "-n", real_sandbox.namespace, "--for=delete", "pod/redis-0", "--timeout=60s")
    # the runbook's "kubectl cp … sentinel/redis-pvc:/data/dump.rdb" cannot work: a claim is not a pod, and
    # with replicas=0 nothing mounts it (the harness copies through a helper pod instead)
    literal = kubectl(real_sandbox, "cp", str(copy), f"{real_sandbox.namespace}/redis-pvc:/data/dump.rdb", check=False)
    assert literal.returncode != 0 and "not found" in (literal.stderr + literal.stdout)
    kubectl(real_sandbox, "scale", "-n", real_sandbox.namespace, "statefulset", "redis", "--replicas=1")
    kubectl(real_sandbox, "rollout", "status", "-n", real_sandbox.namespace, "statefulset/redis", "--timeout=90s")
    assert persistent_keys(real_sandbox) == persistent  # the volume kept the data across the restart


def test_kubernetes_file_restore_brings_back_the_manifest_key_count(real_sandbox: SandboxInfo, tmp_path: Path) -> None:
    """The harness's in-cluster restore: scale 0 → helper pod copies into the volume → scale 1 → DBSIZE."""
    store = open_store(real_sandbox.store_url, aws=sandbox_aws(real_sandbox.s3_endpoint))
    password = real_sandbox.redis_password()
    backup = take_backup(real_sandbox.redis_url, store, password=password, keep_copy=tmp_path / "backup.rdb")
    client = redis_connect(real_sandbox.redis_url, password, timeout=10.0)
    client.flushall()
    client.set("written-after-the-backup", "must be gone after the restore")
    verify_backup(store, backup.id, min_keys=1)
    target = RealNodeSandboxTarget(Settings(), real_sandbox)
    result = restore_to(target.restore_plane(), store, backup.id, replace=True,
                        trusted_keys=target.settings.verifier_public_keys)
    assert [name for name, _ in result.phases] == ["stopped", "placed", "started"]
    assert result.keys == backup.manifest.key_count  # the runbook's DBSIZE, taken by the restore itself
    assert result.snapshot is not None and result.others_keys_before == 1  # what it overwrote was kept first
    client = redis_connect(real_sandbox.redis_url, password, timeout=10.0)
    assert client.exists("written-after-the-backup") == 0


@pytest.fixture(autouse=True)
def _redis_answers_first(real_sandbox: SandboxInfo) -> None:
    """Each test starts with redis-0 serving (a failed earlier test may have left it scaled down)."""
    kubectl(real_sandbox, "scale", "-n", real_sandbox.namespace, "statefulset", "redis", "--replicas=1")
    kubectl(real_sandbox, "rollout", "status", "-n", real_sandbox.namespace, "statefulset/redis", "--timeout=90s")
    RealNodeSandboxTarget(Settings(), real_sandbox).redis_dbsize(60)  # answering through the Service too
