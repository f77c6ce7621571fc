"""The verify CronJob's command judges the pipeline, not the newest file: it fails (exit 1, one line naming the
backup and its age) when the hourly job stopped writing, and verifies every pipeline backup written since its
last run within a budget it reports. Run here exactly as deploy/cronjobs/backup-verify-cronjob.yaml runs it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from harness.backup import open_store, take_backup
from harness.backup.layout import rdb_key
from harness.backup.manifest import DRILL
from harness.backup.pipeline_check import RUNS_PREFIX

pytestmark = pytest.mark.integration

CRONJOB = Path(__file__).resolve().parents[2] / "deploy" / "cronjobs" / "backup-verify-cronjob.yaml"


def _cronjob_args() -> list[str]:
    (job,) = [d for d in yaml.safe_load_all(CRONJOB.read_text()) if d and d["kind"] == "CronJob"]
    (container,) = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return [str(a) for a in container["args"]]


@pytest.fixture
def pipeline(source, data, file_store_url, clean_env):
    """A source with enough keys for the CronJob's --min-keys 100, and the store its backups go to."""
    data.seed(source.client(), n=20)
    clean_env.setenv("DRILL_STORE_URL", file_store_url)
    store = open_store(file_store_url)

    def backup(origin: str = "pipeline") -> str:
        result = take_backup(source.url, store, password=source.password, origin=origin)  # type: ignore[arg-type]
        time.sleep(1.05)  # ids and points in time have 1 s resolution: the next one is newer
        return result.id

    return store, backup


def _last_line(err: str) -> str:
    return err.strip().splitlines()[-1]


def test_the_daily_job_fails_naming_the_newest_backups_age_when_the_hourly_job_stopped(pipeline, cli, clean_env):
    _store, backup = pipeline
    newest = backup()
    clean_env.setenv("DRILL_RPO_SECONDS", "1")  # an hour in production: the hourly job "suspended" past it
    clean_env.setenv("DRILL_BACKUP_SCHEDULE_SLACK_SECONDS", "0")
    time.sleep(1.2)

    code, out, err = cli(*_cronjob_args())

    assert code == 1, out + err
    line = _last_line(err)
    assert newest in line and "s old, older than the RPO 1s + schedule slack 0s" in line
    assert "hourly CronJob" in line


def test_the_daily_job_fails_when_only_a_drills_backup_is_there(pipeline, cli):
    _, backup = pipeline
    backup(origin=DRILL)

    code, _, err = cli(*_cronjob_args())

    assert code == 1 and "no backup written by the backup pipeline" in _last_line(err)


def test_every_pipeline_backup_since_the_last_run_is_verified_and_the_budget_reported(pipeline, cli, clean_env):
    store, backup = pipeline
    clean_env.setenv("DRILL_BACKUP_SCHEDULE_SLACK_SECONDS", "0")  # no overlap with the last run (seconds apart here)
    first = [backup(), backup(), backup()]
    drills = backup(origin=DRILL)

    code, out, err = cli(*_cronjob_args())
    assert code == 0, out + err
    assert all(f"ok   {i}" in out for i in first) and drills not in out
    assert "verified 3 of 3 pipeline backup(s)" in out and "budget" in out

    later = backup()
    code, out, err = cli(*_cronjob_args())
    assert code == 0, out + err
    assert f"ok   {later}" in out and "the last run at" in out
    assert first[0] not in out  # verified by the first run: not again
    runs = [o.key for o in store.list(RUNS_PREFIX)]
    assert len(runs) == 2
    record = json.loads(store.get_bytes(max(runs)))
    assert record["passed"] and next(v["id"] for v in record["verified"]) == later


def test_a_damaged_older_backup_fails_the_day_naming_it(pipeline, cli):
    store, backup = pipeline
    damaged, newest = backup(), backup()
    path = Path(store.location(rdb_key(damaged)).removeprefix("file://"))
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))

    code, out, err = cli(*_cronjob_args())

    assert code == 1 and f"ok   {newest}" in out
    assert f"pipeline backup {damaged} failed verification at checksum" in _last_line(err)


def test_a_budget_too_small_verifies_the_newest_and_names_what_it_left(pipeline, cli):
    _, backup = pipeline
    older, newest = backup(), backup()

    code, out, err = cli(*_cronjob_args(), "--budget", "0")

    assert code == 1 and f"ok   {newest}" in out
    assert "budget left 1 pipeline backup(s) unverified" in _last_line(err) and older in _last_line(err)
    code, out, err = cli(*_cronjob_args())  # the next run starts with what was left
    assert code == 0 and f"ok   {older}" in out
