"""A backup's time comes from the store's own clock: a future-dated object never wins "latest" and is refused.

The point in time in a key name is whatever the writer chose. An attacker holding the
backup job's credentials could upload a planted RDB named an hour ahead, so it would be
the newest; restore and the preflight must refuse it by name (moto's S3 over HTTP and a
real redis-server).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from harness.backup import latest_backup, list_backups, open_store, read_manifest, take_backup
from harness.backup.catalog import time_problem
from harness.backup.layout import manifest_key, new_backup_id, rdb_key
from harness.config import Settings
from harness.drills.pipeline import check_pipeline_backup
from harness.errors import PipelineBackupUnfit, RestoreRefused
from harness.restore import restore_backup

pytestmark = pytest.mark.integration


def _plant_future_copy(store, backup_id: str, *, ahead: timedelta) -> str:  # type: ignore[no-untyped-def]
    """The attacker's move: the same RDB and manifest under a key dated `ahead` of now."""
    at = (datetime.now(UTC) + ahead).replace(microsecond=0)
    planted = new_backup_id(at)
    store.put_bytes(rdb_key(planted), store.get_bytes(rdb_key(backup_id)))
    manifest = read_manifest(store, backup_id).model_copy(update={"point_in_time": at, "created_at": at})
    store.put_bytes(manifest_key(planted), manifest.model_dump_json().encode())
    return planted


def test_a_future_dated_backup_is_refused_by_latest_restore_and_the_preflight(aws_env, bucket, source,
                                                                               redis_factory, data):
    data.seed(source.client(), n=150)
    store = open_store(f"s3://{bucket}/time")
    honest = take_backup(source.url, store, password=data.source_password)
    planted = _plant_future_copy(store, honest.id, ahead=timedelta(hours=1))

    (entry,) = [e for e in list_backups(store) if e.id == planted]
    assert not entry.complete and entry.state.startswith("refused: its key claims") and "in the future" in entry.state
    assert latest_backup(store).id == honest.id

    target = redis_factory()
    with pytest.raises(RestoreRefused, match=rf"backup {planted} is refused: .*in the future"):
        restore_backup(store, planted, target_url=target.url, target_password=target.password, force=True)
    assert target.client().dbsize() == 0

    found = check_pipeline_backup(store, Settings(min_keys=100))
    assert found.id == honest.id
    assert [r.split(":")[0] for r in found.refused] == [planted]


def test_a_store_holding_only_a_future_dated_backup_refuses_the_drill_naming_it(aws_env, bucket, source, data):
    store = open_store(f"s3://{bucket}/only-future")
    honest = take_backup(source.url, store, password=data.source_password)
    planted = _plant_future_copy(store, honest.id, ahead=timedelta(days=2))
    for key in (rdb_key(honest.id), manifest_key(honest.id)):
        store.client.delete_object(Bucket=store.bucket, Key=f"{store.key_root}{key}")

    with pytest.raises(PipelineBackupUnfit, match=rf"refused: {planted}: its key claims"):
        check_pipeline_backup(store, Settings())


def test_the_clock_rule_allows_skew_and_late_uploads_but_not_a_time_after_the_store_received_it():
    stored = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    now = stored + timedelta(hours=1)
    assert time_problem(stored - timedelta(hours=5), stored, now=now) is None  # uploaded late (or migrated)
    assert time_problem(stored + timedelta(minutes=4), stored, now=now) is None  # clock skew
    assert "but the store received it at" in (time_problem(stored + timedelta(minutes=30), stored, now=now) or "")
    assert "in the future" in (time_problem(now + timedelta(hours=2), None, now=now) or "")


def test_a_backup_overwritten_after_verification_is_not_the_version_restored(aws_env, s3, bucket, source,
                                                                               redis_factory, data, monkeypatch):
    from harness.backup import verify_backup
    from harness.backup.verify import read_verify_record
    from harness.signing import VERIFIER_KEY_ENV, generate_keypair

    verifier = generate_keypair()  # a trusted record pins the version; an untrusted one is verified again instead
    monkeypatch.setenv(VERIFIER_KEY_ENV, verifier.private_pem)

    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    store = open_store(f"s3://{bucket}/pinned")
    data.seed(source.client(), n=150)
    verified = take_backup(source.url, store, password=data.source_password)
    report = verify_backup(store, verified.id, min_keys=100)
    assert report.passed and report.version_id
    assert read_verify_record(store, verified.id).version_id == report.version_id  # type: ignore[union-attr]

    source.client().flushall()  # the attacker's RDB: a valid file holding other data, under the same key
    source.client().set("planted", "by the attacker")
    other = take_backup(source.url, open_store(f"s3://{bucket}/elsewhere"), password=data.source_password)
    store.put_bytes(rdb_key(verified.id), open_store(f"s3://{bucket}/elsewhere").get_bytes(rdb_key(other.id)))

    target = redis_factory()
    result = restore_backup(store, verified.id, target_url=target.url, target_password=target.password,
                            trusted_keys=(verifier.public,))

    client = target.client()
    assert result.keys_restored == client.dbsize() >= 150
    assert client.get("planted") is None  # the version verified was restored, not the one written after
