"""The runbook's manual path: a file copied to `./backups/redis-YYYYMMDD-HHMM.rdb` is verified and restored
through the same checks as a store's backup (its time from its name, read as UTC like the CronJob's `date`)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _runbook_copy(source, directory: Path, *, when: datetime | None = None) -> Path:
    """What `docker cp redis:/data/dump.rdb ./backups/redis-$(date +%Y%m%d-%H%M).rdb` leaves."""
    source.client().save()
    directory.mkdir(parents=True, exist_ok=True)
    name = f"redis-{(when or datetime.now(UTC)):%Y%m%d-%H%M}.rdb"
    return Path(shutil.copyfile(source.rdb_path, directory / name))


def test_a_local_runbook_file_verifies(source, data, tmp_path, cli, clean_env):
    data.seed(source.client(), n=20)
    path = _runbook_copy(source, tmp_path / "backups")

    code, out, err = cli("verify", str(path), "--min-keys", "100")

    assert code == 0, out + err
    assert "PASSED" in out and path.name in out
    assert "checksum" in out and "skipped (legacy, no manifest)" in out


def test_a_local_runbook_file_restores_through_the_gate(source, data, tmp_path, cli, clean_env, redis_factory):
    data.seed(source.client(), n=20)
    expected = data.dataset(source.client())
    path = _runbook_copy(source, tmp_path / "backups")
    target = redis_factory()
    clean_env.setenv("DRILL_TARGET_REDIS_PASSWORD", data.target_password)
    assert cli("verify", str(path), "--min-keys", "100")[0] == 0  # the runbook's order: verify, then restore

    code, out, err = cli("restore", str(path), "--to", target.url)

    assert code == 0, out + err
    assert "verified again" in out  # no verifier key: the gate verified the file again, as for a store's backup
    data.assert_same(expected, data.dataset(target.client()))


def test_an_unverified_local_file_is_refused_naming_the_file_to_verify(source, data, tmp_path, cli, clean_env,
                                                                      redis_factory):
    data.seed(source.client(), n=20)
    path = _runbook_copy(source, tmp_path / "backups")
    target = redis_factory()
    clean_env.setenv("DRILL_TARGET_REDIS_PASSWORD", data.target_password)

    code, _, err = cli("restore", str(path), "--to", target.url)

    assert code == 1 and f"sentinel-drill verify {path}" in err and target.client().dbsize() == 0


def test_a_local_file_is_refused_into_a_non_empty_target_like_any_backup(source, data, tmp_path, cli, clean_env,
                                                                        redis_factory):
    data.seed(source.client(), n=20)
    path = _runbook_copy(source, tmp_path / "backups")
    target = redis_factory()
    target.client().set("someone-elses", "data")
    clean_env.setenv("DRILL_TARGET_REDIS_PASSWORD", data.target_password)
    assert cli("verify", str(path), "--min-keys", "100")[0] == 0

    code, _, err = cli("restore", str(path), "--to", target.url)

    assert code == 1 and "not empty" in err
    assert target.client().get("someone-elses") == b"data"


def test_a_local_file_named_in_the_future_is_refused(source, data, tmp_path, cli, clean_env, redis_factory):
    data.seed(source.client(), n=20)
    path = _runbook_copy(source, tmp_path / "backups", when=datetime.now(UTC) + timedelta(hours=3))
    target = redis_factory()
    clean_env.setenv("DRILL_TARGET_REDIS_PASSWORD", data.target_password)

    code, _, err = cli("restore", str(path), "--to", target.url)

    assert code == 1 and "in the future" in err and target.client().dbsize() == 0


@pytest.mark.parametrize("name", ["dump.rdb", "redis-2024121-1200.rdb", "redis-20241214-1200.rdb.bak"])
def test_a_local_file_not_named_as_the_runbook_names_it_is_a_usage_error(tmp_path, cli, clean_env, name):
    path = tmp_path / name
    path.write_bytes(b"REDIS0010")

    code, _, err = cli("verify", str(path))

    assert code == 2 and "redis-YYYYMMDD-HHMM.rdb" in err


def test_a_missing_local_file_is_named(tmp_path, cli, clean_env):
    code, _, err = cli("verify", str(tmp_path / "backups" / "redis-20241214-1200.rdb"))

    assert code == 2 and "redis-20241214-1200.rdb" in err and "does not exist" in err
