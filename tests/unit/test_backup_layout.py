"""Backup ids and object keys: sortable, dated paths, and the runbook's legacy names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from harness.backup import layout
from harness.errors import UsageError

PIT = datetime(2026, 11, 26, 6, 15, 0, tzinfo=UTC)


def test_ids_carry_the_point_in_time_and_sort_by_it():
    ids = [layout.new_backup_id(PIT + timedelta(seconds=s)) for s in (0, 1, 59, 3600)]
    assert ids[0].startswith("20261126T061500Z-") and len(ids[0]) == 23
    assert sorted(ids) == ids
    assert layout.point_in_time_of(ids[1]) == PIT + timedelta(seconds=1)


def test_ids_are_utc_whatever_zone_the_time_is_in():
    cet = timezone(timedelta(hours=1))
    assert layout.new_backup_id(PIT.astimezone(cet), suffix="abcdef") == "20261126T061500Z-abcdef"


def test_new_layout_keys_live_under_a_dated_prefix():
    backup_id = "20261126T061500Z-1a2b3c"
    assert layout.rdb_key(backup_id) == "redis/2026/11/26/20261126T061500Z-1a2b3c.rdb"
    assert layout.manifest_key(backup_id) == "redis/2026/11/26/20261126T061500Z-1a2b3c.manifest.json"
    assert layout.verify_key(backup_id) == "verifications/redis/2026/11/26/20261126T061500Z-1a2b3c.verify.json"
    assert layout.stray_verify_key(backup_id) == "redis/2026/11/26/20261126T061500Z-1a2b3c.verify.json"


def test_verification_records_live_outside_the_prefix_the_backup_job_writes():
    for backup_id in ("20261126T061500Z-1a2b3c", "20241214-1200"):
        key = layout.verify_key(backup_id)
        assert key.startswith(layout.VERIFICATIONS_PREFIX) and not key.startswith(layout.REDIS_PREFIX)


def test_legacy_keys_follow_the_runbook():
    assert layout.layout_of("20241214-1200") == "legacy"
    assert layout.rdb_key("20241214-1200") == "redis/20241214-1200.rdb"
    assert layout.verify_key("20241214-1200") == "verifications/redis/2024/12/14/20241214-1200.verify.json"
    assert layout.stray_verify_key("20241214-1200") == "redis/20241214-1200.verify.json"
    assert layout.point_in_time_of("20241214-1200") == datetime(2024, 12, 14, 12, 0, tzinfo=UTC)
    with pytest.raises(UsageError):
        layout.manifest_key("20241214-1200")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("redis/2026/11/26/20261126T061500Z-1a2b3c.rdb", ("20261126T061500Z-1a2b3c", "rdb", "manifest")),
        ("redis/2026/11/26/20261126T061500Z-1a2b3c.manifest.json", ("20261126T061500Z-1a2b3c", "manifest", "manifest")),
        # a record beside its backup, where the backup writer may write: classified, never read as a record
        ("redis/2026/11/26/20261126T061500Z-1a2b3c.verify.json", ("20261126T061500Z-1a2b3c", "stray_verify", "manifest")),
        ("redis/20241214-1200.rdb", ("20241214-1200", "rdb", "legacy")),
        ("redis/20241214-1200.verify.json", ("20241214-1200", "stray_verify", "legacy")),
        ("verifications/redis/2026/11/26/20261126T061500Z-1a2b3c.verify.json",
         ("20261126T061500Z-1a2b3c", "verify", "manifest")),
        ("verifications/redis/2024/12/14/20241214-1200.verify.json", ("20241214-1200", "verify", "legacy")),
    ],
)
def test_keys_are_classified(key, expected):
    info = layout.parse_key(key)
    assert info is not None and (info.backup_id, info.kind, info.layout) == expected


@pytest.mark.parametrize(
    "key",
    [
        "redis/latest.rdb",
        "redis/2026/11/27/20261126T061500Z-1a2b3c.rdb",  # date path disagrees with the id
        "redis/20241399-1200.rdb",  # no such date
        "redis/20241214-1200.manifest.json",  # legacy backups have no manifest
        "snapshots/redis/2026/11/26/20261126T061500Z-1a2b3c.rdb",
        "redis/2026/11/26/20261126T061500Z-1A2B3C.rdb",
        "verifications/redis/2026/11/27/20261126T061500Z-1a2b3c.verify.json",  # date path disagrees with the id
        "verifications/redis/2026/11/26/20261126T061500Z-1a2b3c.rdb",  # only records live there
        "verifications/redis/20241214-1200.verify.json",  # records are always dated
    ],
)
def test_foreign_keys_are_ignored(key):
    assert layout.parse_key(key) is None


@pytest.mark.parametrize("bad", ["latest", "../etc/passwd", "20261126T061500Z", "2024121-1200", ""])
def test_malformed_ids_are_usage_errors(bad):
    with pytest.raises(UsageError, match="not a backup id"):
        layout.layout_of(bad)
