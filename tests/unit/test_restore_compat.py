"""A backup newer than the target's Redis can load is refused by name, before anything is written."""

from __future__ import annotations

import pytest

from harness.errors import RestoreRefused
from harness.restore.compat import check_rdb_loadable, loadable_rdb_version


@pytest.mark.parametrize(
    ("redis_version", "rdb"),
    [("7.0.15", 10), ("7.2.4", 11), ("7.4.1", 12), ("8.0.2", 12), ("8.4.0", 12), ("8.6.1", 13), ("8.8.0", 14),
     ("9.1.0", 14), ("6.2.14", 9), ("4.0.0", 8)],
)
def test_each_redis_release_maps_to_the_rdb_version_it_loads(redis_version, rdb):
    assert loadable_rdb_version(redis_version) == rdb


@pytest.mark.parametrize("redis_version", ["", "unknown", "3.2.12"])
def test_an_unknown_or_ancient_redis_is_not_judged(redis_version):
    assert loadable_rdb_version(redis_version) is None
    check_rdb_loadable(12, redis_version, backup="b", target="t")  # no refusal: Redis judges the load


def test_a_backup_from_redis_8_is_refused_by_redis_7_0_naming_both_rdb_versions():
    with pytest.raises(RestoreRefused) as refused:
        check_rdb_loadable(12, "7.0.15", backup="20260101T000000Z", target="redis://10.0.0.5:6379/0",
                           written_by="8.0.2")
    err = refused.value
    assert err.exit_code == 1
    assert err.message == (
        "backup 20260101T000000Z is RDB version 12 (written by Redis 8.0.2), but redis://10.0.0.5:6379/0 runs "
        "Redis 7.0.15, which loads RDB versions up to 10: refused before any write"
    )
    assert "Redis 7.4 or newer" in (err.fix or "") and "RDB version 10 or older" in (err.fix or "")
    assert "\n" not in str(err)


@pytest.mark.parametrize(("backup_rdb", "target"), [(10, "7.0.15"), (9, "7.0.15"), (12, "8.0.2"), (11, "7.4.0")])
def test_same_or_older_rdb_versions_pass(backup_rdb, target):
    check_rdb_loadable(backup_rdb, target, backup="b", target="t")
