"""The drill as an in-cluster Job (deploy/drill-job/): the project image runs `sentinel-drill drill` under the
least-privilege ServiceAccount of deploy/rbac/, and its evidence lands in the store, signed and chained.

deploy/drill-job/ is applied as written except for what the sandbox must fill in: the settings (this sandbox's
namespace, bucket), the Secret (moto's placeholder credentials, the inward door as endpoint, a fresh evidence
key), the local image, and the selection (`daily`: the backup verification, which injects no fault).
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path

import boto3
import yaml

from harness.evidence.chain_store import verify_chain_at
from harness.platform.client import Cluster, Obj
from harness.platform.jobs import run_cronjob_now
from harness.platform.manifests import apply_objects, delete_objects, load_manifests
from harness.sandbox import SandboxInfo, images, pipeline_jobs
from harness.sandbox.aws import sandbox_aws
from harness.sandbox.state import REPO_ROOT, SandboxPaths
from harness.signing import generate_keypair

DRILL_NAMESPACE = "sentinel-drill"


def _drill_job_objects(sandbox: SandboxInfo, *, signing_key_pem: str) -> list[Obj]:
    # the DR namespace and its Role: the daily drill never uses them
    objects = [copy.deepcopy(o) for o in load_manifests(REPO_ROOT / "deploy" / "drill-job")
               if "sentinel-dr" not in (o["metadata"].get("namespace"), o["metadata"]["name"])]
    settings = {"target": "sandbox-in-cluster", "namespace": sandbox.namespace, "store_url": sandbox.store_url,
                "min_keys": 100}
    moto_port = int(sandbox.s3_endpoint.rsplit(":", 1)[1])
    secret = {"redis-password": sandbox.redis_password_file.read_text().strip(), "aws-access-key-id": "sandbox",
              "aws-secret-access-key": "sandbox-secret", "region": sandbox.region,
              "endpoint-url": pipeline_jobs.store_endpoint(SandboxPaths(sandbox.state_dir), moto_port), "evidence-signing-key": signing_key_pem}
    for obj in objects:
        if obj["kind"] in ("Role", "RoleBinding") and obj["metadata"].get("namespace") == "sentinel":
            obj["metadata"]["namespace"] = sandbox.namespace
        if obj["kind"] == "ConfigMap":
            obj["data"]["drill.yaml"] = yaml.safe_dump(settings)
        if obj["kind"] == "CronJob":
            container = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
            container["image"], container["imagePullPolicy"] = images.project_image(), "Never"
            container["args"] = ["daily" if a == "monthly" else a for a in container["args"]]
    objects.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": {"name": "sentinel-drill", "namespace": DRILL_NAMESPACE},
                    "data": {k: base64.b64encode(v.encode()).decode() for k, v in secret.items()}})
    return objects


def test_the_drill_runs_as_an_in_cluster_job_and_uploads_signed_chained_evidence(
        real_sandbox: SandboxInfo, real_cluster: Cluster, tmp_path: Path) -> None:
    key = generate_keypair()
    objects = _drill_job_objects(real_sandbox, signing_key_pem=key.private_pem)
    apply_objects(real_cluster, objects)
    try:
        run = run_cronjob_now(real_cluster, "sentinel-drill", namespace=DRILL_NAMESPACE, timeout=420)
        assert run.succeeded, run.log_tail
        assert "PASS" in run.log_tail and "uploaded:" in run.log_tail, run.log_tail
        assert "chain head: s3://" in run.log_tail
        client = boto3.client("s3", **sandbox_aws(real_sandbox.s3_endpoint).client_kwargs())
        report = verify_chain_at(real_sandbox.store_url, trusted=(key.public,), client=client)
        assert report.ok, report.problems
        assert report.bundles and all(b.signature.startswith("valid") for b in report.bundles)
        assert report.head.startswith("newest locked head #")
    finally:
        delete_objects(real_cluster, [o for o in objects if o["kind"] not in ("Namespace",)])
