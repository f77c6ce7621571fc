"""The pipeline preflight on real parts: moto's S3 with object lock, a real redis-server, real verification."""

from __future__ import annotations

import pytest

from harness.backup import open_store, read_manifest, take_backup
from harness.config import Settings
from harness.drills.pipeline import check_pipeline_backup
from harness.errors import PipelineBackupUnfit

pytestmark = pytest.mark.integration


def test_a_backup_records_its_origin_pipeline_by_default(aws_env, bucket, source, data):
    store = open_store(f"s3://{bucket}/p")
    pipeline = take_backup(source.url, store, password=data.source_password)
    drill = take_backup(source.url, store, password=data.source_password, origin="drill")
    assert read_manifest(store, pipeline.id).origin == "pipeline"
    assert read_manifest(store, drill.id).origin == "drill"


def test_a_locked_pipeline_backup_passes_and_is_verified_now(aws_env, s3, source, data):
    s3.create_bucket(Bucket="drill-pipeline-locked", ObjectLockEnabledForBucket=True)
    data.seed(source.client(), n=150)
    backup = take_backup(source.url, open_store("s3://drill-pipeline-locked/p", retention_days=1, lock_mode="GOVERNANCE"),
                         password=data.source_password)

    found = check_pipeline_backup(open_store("s3://drill-pipeline-locked/p"),
                                  Settings(store_retention_days=1, min_keys=100))

    assert found.id == backup.id
    assert found.lock.startswith("GOVERNANCE until ")
    assert found.verification.startswith("verified by the drill")


def test_an_unlocked_pipeline_backup_is_refused_when_the_store_must_lock(aws_env, s3, source, data):
    s3.create_bucket(Bucket="drill-pipeline-unlocked", ObjectLockEnabledForBucket=True)
    store = open_store("s3://drill-pipeline-unlocked")
    backup = take_backup(source.url, store, password=data.source_password)

    with pytest.raises(PipelineBackupUnfit, match=rf"{backup.id} is not object-locked \(no retention\)"):
        check_pipeline_backup(store, Settings(store_retention_days=1))
