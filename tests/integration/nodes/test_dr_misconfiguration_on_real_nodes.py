"""A DR environment that is production, however it is spelt, is refused before any fault (exit 2), on real nodes.

Production is the real-node sandbox (its namespace, its in-cluster Redis behind the sandbox's front port, its DNS
record); each config is a pinned, allowed, confirmed `target: staging` whose DR settings point back at production
one way or another. Each run must exit 2 naming the setting to change, start no pytest, and leave production's
objects (resourceVersions), Redis (a digest of every key) and DNS record exactly as they were.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from harness.redis_process import RedisProcess, free_port
from harness.sandbox import SandboxInfo
from harness.sandbox.state import REPO_ROOT
from tests.integration.drills.staging import ProductionState, dns_value, namespace_versions, redis_digest

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def other_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """A Redis that is not production's, for the configs whose mistake lies elsewhere."""
    proc = RedisProcess(tmp_path_factory.mktemp("dr-redis"), port=free_port(), password="dr-" + os.urandom(8).hex())
    proc.start()
    yield proc
    proc.stop()


def _objects(cluster: Any, namespace: str) -> dict[str, str]:
    """resourceVersion of every object a drill could touch; the CronJobs' own churn left out (their controller
    updates their status and starts Jobs on schedule): a CronJob counts by its spec's generation, Jobs and
    their pods not at all."""
    versions = namespace_versions(cluster, namespace)
    job_pods = {f"pods/{p['metadata']['name']}" for p in cluster.list_items(f"/api/v1/namespaces/{namespace}/pods")
                if any(o.get("kind") == "Job" for o in p["metadata"].get("ownerReferences") or [])}
    generations = {f"cronjobs/{c['metadata']['name']}": f"generation {c['metadata'].get('generation')}"
                   for c in cluster.list_items(f"/apis/batch/v1/namespaces/{namespace}/cronjobs")}
    return {**{k: v for k, v in versions.items() if k not in job_pods and not k.startswith("cronjobs/")},
            **generations}


def _production(sandbox: SandboxInfo, cluster: Any) -> ProductionState:
    client = redis.Redis.from_url(sandbox.redis_url, password=sandbox.redis_password())
    keys, digest = redis_digest(client)
    return ProductionState(_objects(cluster, sandbox.namespace), keys, digest, dns_value(sandbox, sandbox.record_name))


def _alias_record(sandbox: SandboxInfo) -> str:
    """A record `dr-alias.<zone>` that is a CNAME of production's record (created in the sandbox's zone)."""
    import boto3

    route53 = boto3.client("route53", endpoint_url=sandbox.s3_endpoint, region_name=sandbox.region,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
    name = f"dr-alias.{sandbox.hosted_zone_name.rstrip('.')}."
    route53.change_resource_record_sets(HostedZoneId=sandbox.hosted_zone_id, ChangeBatch={"Changes": [{
        "Action": "UPSERT", "ResourceRecordSet": {"Name": name, "Type": "CNAME", "TTL": 60,
                                                  "ResourceRecords": [{"Value": sandbox.record_name}]}}]})
    return name


def _config(sandbox: SandboxInfo, directory: Path, **dr: Any) -> Path:
    config: dict[str, Any] = {
        "target": "staging", "allowed_targets": ["staging"],
        "kubeconfig": str(sandbox.kubeconfig), "context": sandbox.context, "namespace": sandbox.namespace,
        "redis_url": sandbox.redis_url, "store_url": sandbox.store_url, "log_store_url": sandbox.log_store_url,
        "health_url": sandbox.health_url, "hosted_zone_id": sandbox.hosted_zone_id,
        "dns_record_name": sandbox.record_name, "aws_endpoint_url": sandbox.s3_endpoint,
        "dr_context": sandbox.context, "dr_health_url": "http://127.0.0.1:9/health",
        "dr_dns_record_name": f"dr-drill.{sandbox.hosted_zone_name}",
    }
    path = directory / "misconfigured.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    # pinned as a user would, before the mistake (a record spelt as production's does not even load)
    pin = subprocess.run([sys.executable, "-m", "harness.cli", "target", "pin", "--config", str(path)], check=False,
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, env=_env(sandbox, path))
    assert pin.returncode == 0, pin.stderr
    config = yaml.safe_load(path.read_text())
    config.update({k: v for k, v in dr.items() if v is not None})
    for key in [k for k, v in dr.items() if v is None]:
        config.pop(key, None)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _env(sandbox: SandboxInfo, config: Path, dr_password: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRILL_", "AWS_", "KUBE", "REDIS_", "DR_"))}
    env.update({k: v for k, v in sandbox.env(include_secrets=True).items() if not k.startswith(("DRILL_", "KUBE"))})
    env.update(DRILL_CONFIG=str(config), DRILL_CONFIRM_DESTRUCTIVE="staging", DR_REDIS_PASSWORD=dr_password)
    return env


CASES = {
    "same context and namespace": ("dr_namespace", lambda s, r: {"dr_namespace": s.namespace}),
    "dr_namespace unset": ("dr_namespace is unset", lambda s, r: {"dr_namespace": None}),
    "same Redis under another address": ("dr_redis_url", lambda s, r: {
        "dr_namespace": "sentinel-dr", "dr_redis_url": s.redis_url.replace("127.0.0.1", "localhost")}),
    "same Redis through the API server": ("dr_redis_url", lambda s, r: {
        "dr_namespace": "sentinel-dr", "dr_redis_url": f"k8s://{s.namespace}/redis:6379"}),
    "same DNS record, spelt otherwise": ("dr_dns_record_name", lambda s, r: {
        "dr_namespace": "sentinel-dr", "dr_dns_record_name": s.record_name.upper() + "."}),
    "a CNAME of production's record": ("is a CNAME of production's record", lambda s, r: {
        "dr_namespace": "sentinel-dr", "dr_dns_record_name": _alias_record(s)}),
}


@pytest.mark.parametrize("scenario", ["scenario-3", "scenario-4"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_dr_environment_that_is_production_is_refused_before_any_fault(
        real_sandbox: SandboxInfo, real_cluster: Any, other_redis: RedisProcess, tmp_path: Path,
        case: str, scenario: str) -> None:
    named, dr = CASES[case]
    mistake = dr(real_sandbox, other_redis)
    # production's Redis is reached with its own password; the other configs get a Redis that is not production's
    password = real_sandbox.redis_password() if "dr_redis_url" in mistake else other_redis.password
    config = _config(real_sandbox, tmp_path, **{"dr_redis_url": other_redis.url, **mistake})
    before = _production(real_sandbox, real_cluster)
    reports = tmp_path / "reports"
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "drill", scenario, "--config", str(config),
                           "--results", str(reports / "allure-results")], check=False, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**_env(real_sandbox, config, password or ""), "DRILL_REPORTS_DIR": str(reports)})
    output = proc.stdout + proc.stderr
    print(f"--- {case} / {scenario}: exit {proc.returncode}\n{output.strip()}")
    assert proc.returncode == 2, output[-3000:]
    assert named in output, output[-3000:]
    assert not (reports / "drill-results.json").exists(), "pytest started: a Given step could have written"
    assert before.differences(_production(real_sandbox, real_cluster)) == []
    assert before.redis_keys > 1_000  # the digest covered production's data, not an empty server
