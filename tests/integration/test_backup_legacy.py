"""The runbook's CronJob layout `redis/YYYYMMDD-HHMM.rdb` is listed, verified and restored."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from harness.backup import latest_backup, list_backups, open_store, verify_backup

pytestmark = pytest.mark.integration

LEGACY_ID = "20241214-1200"


@pytest.fixture
def legacy_store(store_url, source, data):
    """A store holding only what the old CronJob wrote: a bare dump.rdb under redis/."""
    data.seed(source.client(), n=3)
    source.client().save()
    store = open_store(store_url)
    store.put_file(f"redis/{LEGACY_ID}.rdb", source.rdb_path)
    store.put_bytes("redis/latest.rdb", b"a mutable pointer the harness must ignore")
    return store


def test_legacy_backup_is_listed_with_its_point_in_time(legacy_store, cli, store_url):
    [entry] = list_backups(legacy_store)
    assert entry.id == LEGACY_ID and entry.layout == "legacy" and not entry.has_manifest
    assert entry.point_in_time == datetime(2024, 12, 14, 12, 0, tzinfo=UTC)
    assert latest_backup(legacy_store).id == LEGACY_ID
    code, out, _ = cli("backups", "--store", store_url, "--json")
    assert code == 0
    [row] = json.loads(out)
    assert row["layout"] == "legacy" and row["verified"] == "unverified"


def test_legacy_backup_verifies_with_manifest_levels_skipped(legacy_store, source):
    report = verify_backup(legacy_store, LEGACY_ID, min_keys=10)
    assert report.passed
    status = {c.name: (c.status, c.reason) for c in report.checks}
    assert status["checksum"][0] == "skipped" and "legacy, no manifest" in status["checksum"][1]
    assert status["sample_digests"] == ("skipped", "skipped (legacy, no manifest)")
    assert status["canary"] == ("skipped", "skipped (legacy, no manifest)")
    assert status["key_count"][0] == "passed" and str(source.client().dbsize()) in status["key_count"][1]
    assert legacy_store.exists(f"verifications/redis/2024/12/14/{LEGACY_ID}.verify.json")


def test_legacy_backup_below_min_keys_fails_key_count(legacy_store, cli, store_url):
    code, out, _ = cli("verify", LEGACY_ID, "--store", store_url, "--min-keys", "100000")
    assert code == 1 and "FAILED at key_count" in out


@pytest.mark.parametrize("strategy", ["network", "file"])
def test_legacy_backup_restores(legacy_store, cli, clean_env, store_url, source, redis_factory, data, strategy):
    expected = data.dataset(source.client())
    assert cli("verify", LEGACY_ID, "--store", store_url, "--min-keys", "1")[0] == 0
    target = redis_factory()
    clean_env.setenv("DRILL_TARGET_REDIS_PASSWORD", data.target_password)
    code, _, err = cli("restore", "--latest", "--to", target.url, "--store", store_url, "--strategy", strategy)
    assert code == 0, err
    data.assert_same(expected, data.dataset(target.client()))
