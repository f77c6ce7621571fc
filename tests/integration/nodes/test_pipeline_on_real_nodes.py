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


def test_with_the_hourly_cronjob_suspended_past_the_rpo_the_daily_job_fails_naming_the_newest_backups_age(
        real_sandbox: SandboxInfo, real_cluster: Cluster) -> None:
    """The in-cluster daily check fails when it should: the backup CronJob suspended, its newest backup older than
    the RPO + slack (here 2 s + 0 s, set on the verify CronJob as an operator would set 3600 + 300), the verify
    CronJob's Job exits 1 naming the backup and its age. Both CronJobs are put back as they were."""
    import time

    import pytest

    from harness.platform.client import MERGE_PATCH
    from harness.platform.jobs import JobFailed

    ns = real_sandbox.namespace
    backup_path = namespaced("batch/v1", "cronjobs", ns, pipeline_jobs.BACKUP_CRONJOB)
    verify_path = namespaced("batch/v1", "cronjobs", ns, pipeline_jobs.VERIFY_CRONJOB)
    verify = real_cluster.get(verify_path)
    containers = verify["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    original_env = containers[0]["env"]
    tight = [{"name": e["name"], "value": {"DRILL_RPO_SECONDS": "2", "DRILL_BACKUP_SCHEDULE_SLACK_SECONDS": "0"}[e["name"]]}
             if e["name"] in ("DRILL_RPO_SECONDS", "DRILL_BACKUP_SCHEDULE_SLACK_SECONDS") else e for e in original_env]
    newest = newest_backup(_store(real_sandbox), origin=PIPELINE)
    assert newest is not None

    def set_env(env: list[dict[str, object]]) -> None:
        body = {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{**containers[0], "env": env}]}}}}}}
        real_cluster.request("PATCH", verify_path, body=body, content_type=MERGE_PATCH)

    real_cluster.request("PATCH", backup_path, body={"spec": {"suspend": True}}, content_type=MERGE_PATCH)
    set_env(tight)
    try:
        time.sleep(2.5)  # the newest backup is now older than 2 s
        with pytest.raises(JobFailed) as failed:
            pipeline_jobs.run_verify_job(real_cluster, namespace=ns, timeout=180)
    finally:
        set_env(original_env)
        real_cluster.request("PATCH", backup_path, body={"spec": {"suspend": False}}, content_type=MERGE_PATCH)

    message = failed.value.message
    print(f"\nverify Job with the backup CronJob suspended: {message}")
    assert newest.id in message and "s old, older than the RPO 2s + schedule slack 0s" in message
    assert real_cluster.get(backup_path)["spec"]["suspend"] is False
