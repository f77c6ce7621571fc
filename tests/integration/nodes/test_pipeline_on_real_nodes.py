"""The hourly backup pipeline as the cluster runs it: deploy/cronjobs/ as real Jobs from the project image.

`sandbox up` ran the backup CronJob once, so the store's newest pipeline backup was
written from inside the cluster (Redis by its Service name, S3 through the endpoint in
Secret sentinel-backup-s3); the verify CronJob then checks it and leaves the
verification record the drills' preflight reads.
"""

from __future__ import annotations

from harness.backup.catalog import newest_backup, read_manifest
from harness.backup.manifest import PIPELINE
from harness.backup.store import open_store
from harness.backup.verify import read_verify_record
from harness.platform.client import Cluster, namespaced
from harness.sandbox import SandboxInfo, pipeline_jobs
from harness.sandbox.aws import sandbox_aws
from harness.sandbox.state import SandboxPaths


def _store(sandbox: SandboxInfo):  # type: ignore[no-untyped-def]
    return open_store(f"s3://{sandbox.bucket}/", aws=sandbox_aws(sandbox.s3_endpoint))


def test_the_first_pipeline_backup_was_written_by_the_backup_cronjobs_job(real_sandbox: SandboxInfo,
                                                                           real_cluster: Cluster) -> None:
    jobs = real_cluster.list_items(namespaced("batch/v1", "jobs", real_sandbox.namespace))
    backup_jobs = [j for j in jobs if any(o.get("name") == pipeline_jobs.BACKUP_CRONJOB
                                          for o in j["metadata"].get("ownerReferences") or [])]
    assert backup_jobs and all((j.get("status") or {}).get("succeeded") == 1 for j in backup_jobs)
    store = _store(real_sandbox)
    entry = newest_backup(store, origin=PIPELINE)
    assert entry is not None
    manifest = read_manifest(store, entry.id)
    assert manifest.source.host == "redis.sentinel.svc"  # the CronJob's URL: it ran in the cluster, not on the host
    assert manifest.key_count > 1_000


def test_the_verify_cronjob_runs_as_a_job_and_records_its_verdict(real_sandbox: SandboxInfo,
                                                                  real_cluster: Cluster) -> None:
    store = _store(real_sandbox)
    entry = newest_backup(store, origin=PIPELINE)
    assert entry is not None
    run = pipeline_jobs.run_verify_job(real_cluster, namespace=real_sandbox.namespace, timeout=180)
    assert run.succeeded and "PASSED" in run.log_tail
    verifier = SandboxPaths(real_sandbox.state_dir).verifier_public_file.read_text().strip()
    record = read_verify_record(store, entry.id, trusted_keys=(verifier,))  # signed by the CronJob's key
    assert record is not None and record.passed, record
