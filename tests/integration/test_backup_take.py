"""Taking a backup: BGSAVE edge cases, the replication fetch, checksums and object lock in S3."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis

from harness.backup import BackupFailed, layout, open_store, take_backup
from harness.backup.fetch import fetch_rdb, fetch_snapshot
from harness.backup.rdb import read_header
from harness.backup.verify import rdb_check_problem
from harness.errors import AuthFailed, StoreError

pytestmark = pytest.mark.integration


def _slow_saves(client: redis.Redis, keys: int = 200, delay_us: int = 1000) -> None:
    """Make every save take about keys × delay_us (rdb-key-save-delay is a real redis config)."""
    client.mset({f"slow:{i}": i for i in range(keys)})
    client.config_set("rdb-key-save-delay", delay_us)


def test_a_save_already_in_progress_is_waited_for_then_ours_runs(file_store_url, redis_factory, data):
    """The server holds our SYNC until the other save ends, then saves again for it: the file is fresh."""
    server = redis_factory(password=data.source_password)
    client = server.client()
    _slow_saves(client)
    forks = int(client.info("stats")["total_forks"])
    client.bgsave()
    assert int(client.info("persistence")["rdb_bgsave_in_progress"]) == 1
    client.set("written-during-the-other-save", "1")
    result = take_backup(server.url, open_store(file_store_url), password=data.source_password)
    assert result.manifest.key_count == 201  # includes the write made while the other save ran
    assert int(client.info("stats")["total_forks"]) == forks + 2  # theirs, then the one made for our fetch


def test_a_failed_bgsave_is_a_clear_error(file_store_url, redis_factory, data):
    server = redis_factory(password=data.source_password)
    server.client().set("k", "v")
    server.client().config_set("repl-diskless-sync", "no")  # a save for SYNC on disk (a diskless one needs none)
    shutil.rmtree(server.data_dir)  # the save cannot create its temp file any more
    with pytest.raises(BackupFailed, match=r"BGSAVE on 127\.0\.0\.1:\d+ failed \(rdb_last_bgsave_status:err\)") as exc:
        take_backup(server.url, open_store(file_store_url), password=data.source_password)
    assert exc.value.exit_code == 1 and "disk full" in (exc.value.fix or "")


def test_a_slow_bgsave_times_out_with_a_clear_error(file_store_url, redis_factory, data):
    server = redis_factory(password=data.source_password)
    _slow_saves(server.client(), keys=100, delay_us=10_000)
    started = time.monotonic()
    with pytest.raises(BackupFailed, match=r"did not finish within 0\.3s"):
        take_backup(server.url, open_store(file_store_url), password=data.source_password, save_timeout=0.3)
    assert time.monotonic() - started < 5.0  # bounded by the timeout, not by the save


def test_fetch_streams_a_fresh_rdb_without_the_diskless_delay(tmp_path, redis_factory, data):
    server = redis_factory(password=data.source_password)
    server.client().config_set("repl-diskless-sync-delay", 5)  # redis' default; redis-cli --rdb would wait it
    server.client().set("k", "v")
    started = time.monotonic()
    size = fetch_rdb("127.0.0.1", server.port, tmp_path / "x.rdb", password=data.source_password)
    assert time.monotonic() - started < 2.0
    assert size == (tmp_path / "x.rdb").stat().st_size and read_header(tmp_path / "x.rdb").version >= 9


def test_fetch_with_a_wrong_password_is_an_auth_error(tmp_path, source):
    with pytest.raises(AuthFailed):
        fetch_rdb("127.0.0.1", source.port, tmp_path / "x.rdb", password="wrong")


def test_a_replica_can_be_the_source(file_store_url, source, redis_factory, data):
    source.client().set("from-primary", "1")
    replica = redis_factory(password=data.source_password)
    rc = replica.client()
    rc.config_set("masterauth", data.source_password)
    rc.replicaof("127.0.0.1", source.port)
    deadline = time.monotonic() + 5
    while rc.get("from-primary") is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    result = take_backup(replica.url, open_store(file_store_url), password=data.source_password)
    assert result.manifest.source.role == "slave" and result.manifest.key_count == 1
    rc.replicaof("NO", "ONE")


def test_s3_uploads_carry_sha256_checksums(aws_env, s3, bucket, source, data):
    source.client().set("k", "v")
    result = take_backup(source.url, open_store(f"s3://{bucket}/p"), password=data.source_password)
    head = s3.head_object(Bucket=bucket, Key=f"p/{layout.rdb_key(result.id)}", ChecksumMode="ENABLED")
    assert base64.b64decode(head["ChecksumSHA256"]).hex() == result.manifest.sha256
    head = s3.head_object(Bucket=bucket, Key=f"p/{layout.manifest_key(result.id)}", ChecksumMode="ENABLED")
    assert "ChecksumSHA256" in head


def test_object_lock_retention_is_set_when_configured(aws_env, s3, source, data):
    s3.create_bucket(Bucket="drill-locked", ObjectLockEnabledForBucket=True)
    store = open_store("s3://drill-locked/p", retention_days=2, lock_mode="GOVERNANCE")
    source.client().set("k", "v")
    result = take_backup(source.url, store, password=data.source_password)
    head = s3.head_object(Bucket="drill-locked", Key=f"p/{layout.rdb_key(result.id)}")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    expected = datetime.now(UTC) + timedelta(days=2)
    assert abs(head["ObjectLockRetainUntilDate"] - expected) < timedelta(minutes=5)


def test_retention_on_a_bucket_without_object_lock_is_refused(aws_env, bucket, source, data):
    with pytest.raises(StoreError, match="has no object lock"):
        take_backup(source.url, open_store(f"s3://{bucket}/p", retention_days=1), password=data.source_password)


def test_without_retention_nothing_is_locked(aws_env, s3, bucket, source, data):
    source.client().set("k", "v")
    result = take_backup(source.url, open_store(f"s3://{bucket}"), password=data.source_password)
    head = s3.head_object(Bucket=bucket, Key=layout.rdb_key(result.id))
    assert "ObjectLockMode" not in head


def test_a_diskless_fetch_ends_at_its_mark_and_is_a_sound_rdb(tmp_path, redis_factory, data):
    """`$EOF:<mark>` stream over several reads: the file is everything before the mark, whole and valid."""
    server = redis_factory(password=data.source_password)
    server.client().config_set("repl-diskless-sync", "yes")  # not left to the server's default
    server.client().mset({f"k{i}": os.urandom(1000) for i in range(5000)})  # 5 MB: more than one 1 MB read
    fetched = fetch_snapshot("127.0.0.1", server.port, tmp_path / "x.rdb", password=data.source_password,
                             diskless=True)
    raw = (tmp_path / "x.rdb").read_bytes()
    assert fetched.size == len(raw) > 5_000_000 and fetched.sha256 == hashlib.sha256(raw).hexdigest()
    assert rdb_check_problem(tmp_path / "x.rdb") is None
    assert read_header(tmp_path / "x.rdb").version >= 9


def test_a_slow_diskless_save_times_out_with_a_clear_error(tmp_path, redis_factory, data):
    server = redis_factory(password=data.source_password)
    server.client().config_set("repl-diskless-sync", "yes")
    _slow_saves(server.client(), keys=100, delay_us=10_000)
    started = time.monotonic()
    with pytest.raises(BackupFailed, match=r"did not finish within 0\.3s"):
        fetch_snapshot("127.0.0.1", server.port, tmp_path / "x.rdb", password=data.source_password,
                       diskless=True, save_timeout=0.3)
    assert time.monotonic() - started < 5.0
