"""The hourly backup pipeline on the sandbox's real nodes: deploy/cronjobs/ applied as written, run as Jobs.

The CronJobs run the project image (built from the repository's Dockerfile,
imported into every node, never pulled) and write to the sandbox's store. Their
pods reach moto through the front's inward door on the node network, named in the
Secret `sentinel-backup-s3` as the endpoint URL, as an S3-compatible store would
be in production. `sandbox up` runs the backup CronJob once, so the newest
pipeline backup a drill measures was written by the pipeline's own Job, not by
the harness on the host. The verify CronJob gets its own Secrets, as in production:
the sandbox's verifier key (generated per sandbox; its public key is in the sandbox's
settings) and its own S3 credentials.
"""

from __future__ import annotations

import base64
import copy
import secrets

from harness.platform.client import Cluster, Obj
from harness.platform.jobs import JobRun, run_cronjob_now
from harness.platform.manifests import apply_objects, load_manifests
from harness.platform.stack import DEPLOY_DIR
from harness.sandbox import images
from harness.sandbox.netplan import network_for
from harness.sandbox.state import SandboxPaths

CRONJOBS_DIR = DEPLOY_DIR / "cronjobs"
BACKUP_CRONJOB = "redis-backup"
VERIFY_CRONJOB = "backup-verify"
STORE_SECRET = "sentinel-backup-s3"
VERIFIER_KEY_SECRET = "sentinel-backup-verifier-key"
VERIFIER_STORE_SECRET = "sentinel-backup-verifier-s3"


def store_endpoint(paths: SandboxPaths, moto_port: int) -> str:
    """Where pods reach the sandbox's S3 (the front's inward door for moto, on the cluster DNS address)."""
    return f"http://{network_for(paths).dns_address}:{moto_port}"


def _store_values(endpoint: str, region: str) -> dict[str, str]:
    return {"access-key-id": "sandbox", "secret-access-key": secrets.token_urlsafe(24), "region": region,
            "endpoint-url": endpoint}


def pipeline_objects(namespace: str, *, endpoint: str, region: str, verifier_key_pem: str) -> list[Obj]:
    """deploy/cronjobs/ for the sandbox: the store Secrets filled (throwaway moto credentials), the verifier's
    key in its Secret, the local image, Redis by its Service name in `namespace`."""
    filled = {STORE_SECRET: _store_values(endpoint, region), VERIFIER_STORE_SECRET: _store_values(endpoint, region),
              VERIFIER_KEY_SECRET: {"ed25519.key": verifier_key_pem}}
    # the configuration export and the log archive are run by the host harness at `sandbox up` (their
    # CronJobs need an in-cluster API route and the log shipper's volume, which the sandbox does not have)
    objects = [copy.deepcopy(o) for o in load_manifests(CRONJOBS_DIR)
               if o["metadata"]["name"] in (*filled, BACKUP_CRONJOB, VERIFY_CRONJOB)]
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
        if obj["kind"] == "Secret":
            values = filled[obj["metadata"]["name"]]
            obj["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}
        if obj["kind"] == "CronJob":
            pod = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
            for container in pod["containers"]:
                container["image"] = images.project_image()
                container["imagePullPolicy"] = "Never"
                container["args"] = [str(a).replace(".sentinel.svc", f".{namespace}.svc")
                                     for a in container.get("args") or []]
    return objects


def deploy_pipeline(cluster: Cluster, *, namespace: str, endpoint: str, region: str, verifier_key_pem: str) -> None:
    apply_objects(cluster, pipeline_objects(namespace, endpoint=endpoint, region=region,
                                            verifier_key_pem=verifier_key_pem))


def run_backup_job(cluster: Cluster, *, namespace: str, timeout: float = 180.0) -> JobRun:
    """One run of the hourly backup CronJob, now (what `kubectl create job --from=cronjob/redis-backup` does)."""
    return run_cronjob_now(cluster, BACKUP_CRONJOB, namespace=namespace, timeout=timeout)


def run_verify_job(cluster: Cluster, *, namespace: str, timeout: float = 180.0) -> JobRun:
    return run_cronjob_now(cluster, VERIFY_CRONJOB, namespace=namespace, timeout=timeout)
