"""The shortcuts verify and the file restore take stay safe: the digest computed while downloading is the
file's, a corrupt file is still named by redis-check-rdb while the scratch load runs beside it, and a
verified file restore leaves no staged file behind."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from harness.backup import layout, open_store, read_manifest, take_backup, verify_backup
from harness.redis_process import RedisProcess
from harness.restore.run import restore_backup

pytestmark = pytest.mark.integration


def test_digest_computed_while_downloading_is_the_files(store_url, tmp_path):
    raw = hashlib.sha256(b"seed").digest() * (24 * 1024 * 1024 // 32 + 7)  # several 8 MB parts over S3
    src = tmp_path / "big.rdb"
    src.write_bytes(raw)
    store = open_store(store_url)
    store.put_file("redis/2026/11/29/big.rdb", src)
    out = tmp_path / "out.rdb"
    fetched = store.get_file_hashed("redis/2026/11/29/big.rdb", out)
    assert out.read_bytes() == raw
    assert (fetched.size, fetched.sha256) == (len(raw), hashlib.sha256(raw).hexdigest())


def _redis_children() -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
            cmd = (entry / "cmdline").read_bytes().split(b"\0")[0]
        except (OSError, IndexError):
            continue
        if int(stat[1]) == os.getpid() and b"redis-server" in cmd and stat[0] != "Z":
            found.add(int(entry.name))
    return found


def test_corrupt_file_fails_at_rdb_check_and_the_concurrent_load_is_not_run(file_store_url, source, data):
    data.seed(source.client(), n=50)
    store = open_store(file_store_url)
    good = take_backup(source.url, store, password=data.source_password)
    raw = bytearray(store.get_bytes(layout.rdb_key(good.id)))
    raw[len(raw) // 2] ^= 0xFF
    store.put_bytes(layout.rdb_key(good.id), bytes(raw))
    manifest = read_manifest(store, good.id)  # a manifest that agrees: only rdb_check and load can tell
    store.put_bytes(layout.manifest_key(good.id), manifest.model_copy(
        update={"sha256": hashlib.sha256(raw).hexdigest()}).to_json())
    before = _redis_children()

    report = verify_backup(store, good.id, min_keys=1)

    assert report.failed_check is not None and report.failed_check.name == "rdb_check"
    assert "redis-check-rdb" in report.failed_check.reason
    statuses = {c.name: c.status for c in report.checks}
    assert [statuses[n] for n in ("load", "key_count", "sample_digests", "canary")] == ["not run"] * 4
    assert _redis_children() <= before  # the scratch server loading beside the check was stopped


def test_verify_reports_the_loads_own_time(file_store_url, source, data):
    data.seed(source.client(), n=50)
    store = open_store(file_store_url)
    good = take_backup(source.url, store, password=data.source_password)
    report = verify_backup(store, good.id, min_keys=1)
    assert report.passed, report.to_json()
    load = next(c for c in report.checks if c.name == "load")
    assert load.seconds > 0 and "beside redis-check-rdb" in load.reason
    assert report.sha256 == read_manifest(store, good.id).sha256


def test_verified_file_restore_leaves_no_staged_file(file_store_url, source, data, tmp_path):
    data.seed(source.client(), n=50)
    store = open_store(file_store_url)
    good = take_backup(source.url, store, password=data.source_password)
    assert verify_backup(store, good.id, min_keys=1).passed
    with RedisProcess(tmp_path / "target").start() as target:
        result = restore_backup(store, good.id, target_url=target.url, target_password=None, strategy="file",
                                managed=target, work_dir=tmp_path)
        assert result.keys_restored == good.manifest.key_count
        assert data.dataset(target.client()) == data.dataset(source.client())
        assert not list(target.data_dir.glob(".*restore-*")) and not list(target.data_dir.glob("*.before-restore"))
