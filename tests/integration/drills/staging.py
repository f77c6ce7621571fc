"""A "staging" target built on a sandbox: what a user with a real cluster configures, nothing of the sandbox's shortcuts.

Production is the sandbox's namespace, Redis, health endpoint and DNS record,
reached through a config file with `target: staging` (so `ClusterTarget`); the
DR environment is a namespace of the same control plane with a Redis and a
health endpoint of its own. The DR health endpoint reads the Redis password from
the DR namespace's `sentinel-redis` Secret, as SENTINEL's pods would, so the
restored and the rotated Secrets are what make it healthy.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import yaml

from harness.measure.canary import CANARY_PREFIX
from harness.platform.client import Cluster, ObjectNotFound, connect
from harness.redis_process import RedisProcess, free_port
from harness.sandbox import SandboxInfo, processes
from harness.sandbox.cluster import create_redis_volume
from harness.sandbox.health import HealthConfig
from harness.sandbox.state import SandboxPaths

REPO_ROOT = Path(__file__).resolve().parents[3]
DR_NAMESPACE = "sentinel-dr"
TARGET = "staging"


@dataclass
class Staging:
    """The files, processes and coordinates of one staging-on-sandbox target."""

    sandbox: SandboxInfo
    config_file: Path
    dr_redis: RedisProcess
    dr_health_url: str
    dr_record: str

    def env(self) -> dict[str, str]:
        """What a user's shell would hold: AWS coordinates, the two Redis passwords, the export key, the confirmation."""
        env = {k: v for k, v in self.sandbox.env(include_secrets=True).items()
               if not k.startswith(("DRILL_", "KUBE"))}
        env.update(DRILL_CONFIG=str(self.config_file), DR_REDIS_PASSWORD=self.dr_redis.password or "",
                   DRILL_CONFIRM_DESTRUCTIVE=TARGET, DRILL_CONFIG_KEY=fernet_key(self.config_file.parent))
        return env

    def cluster(self) -> Cluster:
        return connect(self.sandbox.kubeconfig, self.sandbox.context)


def fernet_key(directory: Path) -> str:
    path = directory / "config-export.key"
    if not path.exists():
        from harness.backup.config_export import new_key

        path.write_text(new_key())
    return path.read_text().strip()


def ensure_namespace(cluster: Cluster, name: str) -> None:
    try:
        cluster.get(f"/api/v1/namespaces/{name}")
    except ObjectNotFound:
        cluster.request("POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace",
                                                             "metadata": {"name": name}})


def _start_dr_health(sandbox: SandboxInfo, directory: Path, dr_redis: RedisProcess) -> tuple[str, Any]:
    port = free_port()
    config = HealthConfig(port=port, kubeconfig=str(sandbox.kubeconfig), context=sandbox.context,
                          namespace=DR_NAMESPACE, services=("sentinel-brain", "sentinel-gateway"),
                          redis_host="127.0.0.1", redis_port=dr_redis.port,
                          redis_password_file=str(directory / "unused"), redis_password_secret="sentinel-redis/password")
    path = directory / "dr-health.json"
    config.save(path)
    proc = processes.spawn("dr-health", [sys.executable, "-m", "harness.sandbox.health", "--config", str(path)],
                           log=directory / "dr-health.log", pidfile=directory / "dr-health.pid", cwd=REPO_ROOT)
    return f"http://127.0.0.1:{port}/health", proc


def start_staging(sandbox: SandboxInfo, directory: Path) -> Iterator[Staging]:
    """Set up the DR environment beside the sandbox and write the staging config; stop it all afterwards."""
    cluster = connect(sandbox.kubeconfig, sandbox.context)
    ensure_namespace(cluster, DR_NAMESPACE)
    # the DR environment is provisioned ahead: its Redis claim has a volume (the sandbox has no provisioner)
    create_redis_volume(cluster, SandboxPaths(sandbox.state_dir), namespace=DR_NAMESPACE, name="staging-dr-redis-data")
    # the DR Redis is configured with production's credentials, as a DR deploy from the same Secrets would be
    dr_redis = RedisProcess(data_dir=directory / "dr-redis", port=free_port(), password=sandbox.redis_password())
    dr_redis.start()
    health_url, health_proc = _start_dr_health(sandbox, directory, dr_redis)
    dr_record = f"dr-drill.{sandbox.hosted_zone_name}"
    config = {
        "target": TARGET, "allowed_targets": [TARGET],
        "kubeconfig": str(sandbox.kubeconfig), "context": sandbox.context, "namespace": sandbox.namespace,
        "redis_url": sandbox.redis_url, "store_url": sandbox.store_url, "log_store_url": sandbox.log_store_url,
        "health_url": sandbox.health_url,
        "hosted_zone_id": sandbox.hosted_zone_id, "dns_record_name": sandbox.record_name,
        "dr_context": sandbox.context, "dr_namespace": DR_NAMESPACE,
        "dr_redis_url": f"redis://127.0.0.1:{dr_redis.port}/0", "dr_health_url": health_url,
        "dr_dns_record_name": dr_record, "load_balancer": f"lb-dr.{sandbox.hosted_zone_name}",
        "redis_restore_method": "network",
        "integration_smoke": False,  # the stack runs on kwok here: its health URL is a stand-in, not the Gateway
        # kwok pods never run, so no Job from the backup CronJob could write a backup (and production must stay
        # untouched): scenarios 3 and 4 restore the pipeline's newest backup as it is
        "request_pipeline_backup": False,
        "rto_seconds": 120,  # recovery here takes seconds; a hang fails in minutes, not 15
    }
    config_file = directory / "staging.yaml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    # what a user does once per target: record the cluster identity the drill may break
    pin = subprocess.run([sys.executable, "-m", "harness.cli", "target", "pin", "--config", str(config_file)],
                         check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert pin.returncode == 0, pin.stderr
    staging = Staging(sandbox, config_file, dr_redis, health_url, dr_record)
    # the user's configuration CronJob, with the user's key: its export is the one scenario 3 restores
    exported = subprocess.run([sys.executable, "-m", "harness.cli", "backup", "config", "--config", str(config_file)],
                              check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                              env={**os.environ, **staging.env()})
    assert exported.returncode == 0, exported.stderr
    try:
        yield staging
    finally:
        processes.terminate(health_proc, timeout=5.0)
        dr_redis.stop()


# ----------------------------------------------------------------------------- what "unchanged" means


NAMESPACED_LISTS = (
    ("v1", "configmaps"), ("v1", "secrets"), ("v1", "services"), ("v1", "serviceaccounts"),
    ("v1", "persistentvolumeclaims"), ("v1", "pods"), ("apps/v1", "deployments"), ("apps/v1", "statefulsets"),
    ("apps/v1", "replicasets"), ("networking.k8s.io/v1", "networkpolicies"), ("policy/v1", "poddisruptionbudgets"),
    ("batch/v1", "cronjobs"),
)


def namespace_versions(cluster: Cluster, namespace: str) -> dict[str, str]:
    """kind/name → resourceVersion of every object of the namespace a drill could touch."""
    out: dict[str, str] = {}
    for group_version, plural in NAMESPACED_LISTS:
        base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
        for item in cluster.list_items(f"{base}/namespaces/{namespace}/{plural}"):
            out[f"{plural}/{item['metadata']['name']}"] = item["metadata"]["resourceVersion"]
    return out


def redis_digest(client: redis.Redis) -> tuple[int, str]:
    """(every key but the drill's canaries, a digest of those without a TTL: name and DUMP payload).

    Keys with a TTL (sessions, rate-limit counters) expire on their own while a drill runs: on real nodes
    production once went from 1980 to 1979 keys that way, which is not a change the drill made. So the
    digest, which is what is compared, covers the keys that never expire; the count says how much was there.
    """
    digest = hashlib.sha256()
    count = 0
    for key in sorted(k for k in client.scan_iter(count=1000) if not k.startswith(CANARY_PREFIX.encode())):
        count += 1
        if client.pttl(key) != -1:  # expiring (or gone since the scan)
            continue
        digest.update(key + b"\0" + (client.dump(key) or b"") + b"\0")
    return count, digest.hexdigest()


@dataclass(frozen=True)
class ProductionState:
    objects: dict[str, str]
    redis_keys: int
    redis_digest: str
    dns_record: str | None

    def differences(self, other: ProductionState) -> list[str]:
        changed = sorted(k for k in set(self.objects) | set(other.objects)
                         if self.objects.get(k) != other.objects.get(k))
        out = [f"object {k}: {self.objects.get(k)} → {other.objects.get(k)}" for k in changed]
        if self.redis_digest != other.redis_digest:  # the keys without a TTL (redis_digest)
            out.append(f"production Redis: {self.redis_keys} keys {self.redis_digest[:12]} → "
                       f"{other.redis_keys} keys {other.redis_digest[:12]}")
        if self.dns_record != other.dns_record:
            out.append(f"production DNS record: {self.dns_record} → {other.dns_record}")
        return out


def dns_value(sandbox: SandboxInfo, name: str) -> str | None:
    """What the sandbox's zone says `name` points at (boto3 on moto, endpoint passed explicitly)."""
    import boto3

    route53 = boto3.client("route53", endpoint_url=sandbox.s3_endpoint, region_name=sandbox.region,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    fqdn = name.rstrip(".") + "."
    sets = route53.list_resource_record_sets(HostedZoneId=sandbox.hosted_zone_id, StartRecordName=fqdn,
                                             StartRecordType="CNAME", MaxItems="1")["ResourceRecordSets"]
    return next((str(r["ResourceRecords"][0]["Value"]) for r in sets if r["Name"] == fqdn), None)


def production_state(staging: Staging) -> ProductionState:
    sandbox = staging.sandbox
    client = redis.Redis.from_url(sandbox.redis_url, password=sandbox.redis_password())
    keys, digest = redis_digest(client)
    return ProductionState(namespace_versions(staging.cluster(), sandbox.namespace), keys, digest,
                           dns_value(sandbox, sandbox.record_name))


def dump_results(results: dict[str, Any]) -> str:
    return json.dumps({s["name"]: [s["verdict"], s.get("reason", "")] for s in results.get("scenarios", [])},
                      indent=1)


__all__ = ["DR_NAMESPACE", "ProductionState", "Staging", "dns_value", "dump_results", "ensure_namespace", "fernet_key",
           "production_state", "start_staging"]
