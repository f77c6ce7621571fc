"""The real-target path on running pods: a `target: staging` config on the real-node sandbox runs scenarios 3 and 4
through ClusterTarget into a DR namespace whose Redis is the DR stack's own (`k8s://sentinel-dr/redis:6379`).

That Redis does not exist until the clean deploy creates it: the DR environment counts as empty, is claimed, and the
Redis is claimed when it first answers; the restore writes its volume through a helper pod of the local image. Both
scenarios must PASS, production must be left as found, and the DR namespace must hold nothing of the run afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from harness.ownership import CLAIM_CONFIGMAP
from harness.platform.client import ObjectNotFound, namespaced
from harness.sandbox import SandboxInfo
from harness.sandbox.state import REPO_ROOT
from harness.target.recovery_environment import labelled_objects
from tests.integration.drills.staging import (
    DR_NAMESPACE,
    NAMESPACED_LISTS,
    ProductionState,
    dns_value,
    dump_results,
    redis_digest,
)
from tests.integration.nodes.real_staging import RealStaging, start_real_staging

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def real_staging(real_sandbox: SandboxInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealStaging]:
    yield from start_real_staging(real_sandbox, tmp_path_factory.mktemp("real-staging"))


def _specs(cluster: Any, namespace: str) -> dict[str, str]:
    """What a drill could change in production's namespace: each object by its spec's generation where it has one,
    else its resourceVersion; pods by uid (none replaced), Jobs' pods left out (the CronJobs run on schedule).

    Status is left out on purpose: scenario 4 isolates production's namespace (its fault), and on running pods the
    kubelet's probes then fail, so Deployments, ReplicaSets and the PodDisruptionBudget get new status while
    isolated — the fault itself, not a change the drill made to production.
    """
    out: dict[str, str] = {}
    for group_version, plural in NAMESPACED_LISTS:
        base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
        for item in cluster.list_items(f"{base}/namespaces/{namespace}/{plural}"):
            meta = item["metadata"]
            if plural == "pods":
                if not any(o.get("kind") == "Job" for o in meta.get("ownerReferences") or []):
                    out[f"pods/{meta['name']}"] = f"uid {meta['uid']}"
            elif meta.get("generation") is not None:
                out[f"{plural}/{meta['name']}"] = f"generation {meta['generation']}"
            else:
                out[f"{plural}/{meta['name']}"] = meta["resourceVersion"]
    return out


def _production(sandbox: SandboxInfo, cluster: Any) -> ProductionState:
    keys, digest = redis_digest(redis.Redis.from_url(sandbox.redis_url, password=sandbox.redis_password()))
    return ProductionState(_specs(cluster, sandbox.namespace), keys, digest, dns_value(sandbox, sandbox.record_name))


def _run(staging: RealStaging, reports: Path, *args: str) -> tuple[int, str, dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRILL_", "AWS_", "KUBE", "REDIS_", "DR_"))}
    env.update(staging.env(), DRILL_REPORTS_DIR=str(reports))
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "drill", "all", "--results",
                           str(reports / "allure-results"), *args], check=False, cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=1500)
    results_file = reports / "drill-results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    return proc.returncode, proc.stdout + proc.stderr, results


def _scenario(results: dict[str, Any], tag: str) -> dict[str, Any]:
    return next(s for s in results["scenarios"] if tag in s["tags"])


def test_scenarios_3_and_4_pass_on_real_pods_restoring_into_the_dr_stacks_own_redis(
        real_staging: RealStaging, real_cluster: Any, tmp_path: Path) -> None:
    sandbox = real_staging.sandbox
    before = _production(sandbox, real_cluster)
    code, output, results = _run(real_staging, tmp_path, "-k", "cluster or compromise")
    print(output[-6000:])
    assert code == 0, f"{dump_results(results)}\n{output[-4000:]}"
    verdicts = {s["name"]: s["verdict"] for s in results["scenarios"]}
    assert len(verdicts) == 2 and set(verdicts.values()) == {"PASS"}, dump_results(results)
    assert results["meta"]["target"] == "staging"
    for tag in ("scenario-3", "scenario-4"):
        record = _scenario(results, tag)
        restore = record["details"]["redis_restore"]
        # the file restore wrote the DR stack's own Redis volume, on a real node, through the local helper image
        assert restore["strategy"] == "kubernetes volume" and f"{DR_NAMESPACE}/redis" in restore["target"], restore
        assert restore["keys"] > 1_000
        point = record["details"]["restore_point"]
        assert point["origin"] == "pipeline" and restore["backup_id"] == point["backup_id"], point
    # the DR Redis did not exist when the DR environment was proven distinct and empty
    distinct = _scenario(results, "scenario-3")["details"]["loss"]["details"]["distinct_from_production"]
    assert distinct["dr"]["redis"] == "absent until the clean deploy", distinct
    assert _scenario(results, "scenario-4")["details"]["clean_namespace"] == DR_NAMESPACE
    # production as found (canary keys aside); the DR namespace holds nothing of the run, its Redis gone with it
    assert before.differences(_production(sandbox, real_cluster)) == []
    assert before.redis_keys > 1_000  # the digest covered production's data, not an empty server
    assert labelled_objects(real_cluster, DR_NAMESPACE) == []
    for plural, name in (("configmaps", CLAIM_CONFIGMAP), ("services", "redis")):
        with pytest.raises(ObjectNotFound):
            real_cluster.get(namespaced("v1", plural, DR_NAMESPACE, name))
