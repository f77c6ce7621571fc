"""`coverage` on the sandbox: every row of "What to Back Up" passes on a clean history, and each damage is named.

Real parts: the kwok sandbox's API server (Secrets, ConfigMaps), moto over HTTP
(the backup and log buckets, lifecycle rules), the backups the sandbox's
pipelines wrote at `sandbox up`. Every test puts back what it changed.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from harness.backup.catalog import latest_backup, read_manifest
from harness.backup.config_export import backup_config, list_exports, new_key
from harness.backup.layout import manifest_key, new_backup_id, rdb_key
from harness.backup.log_archive import archive_logs
from harness.backup.manifest import PIPELINE
from harness.backup.s3 import S3Store
from harness.backup.store import BackupStore
from harness.config import CONFIG_MAPS, CONFIG_SECRETS, Settings
from harness.coverage import check_coverage, config_row, logs_row, redis_row
from harness.drills.configuration import take_config_backup
from harness.platform.client import APPLY_PATCH, Cluster
from harness.sandbox import SandboxInfo
from harness.sandbox.first_backups import write_log_day
from harness.target.sandbox import SandboxTarget

pytestmark = [pytest.mark.sandbox, pytest.mark.integration]
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def target(sandbox: SandboxInfo) -> SandboxTarget:
    return SandboxTarget(Settings(), sandbox)


def _set_secret_key(cluster: Cluster, namespace: str, name: str, key: str, value: bytes) -> None:
    cluster.request("PATCH", f"/api/v1/namespaces/{namespace}/secrets/{name}", content_type=APPLY_PATCH,
                    query={"fieldManager": "coverage-test", "force": "true"},
                    body={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                          "data": {key: base64.b64encode(value).decode()}})


@pytest.fixture
def restore_auth(cluster: Cluster, sandbox: SandboxInfo) -> Iterator[None]:
    """Put Secret sentinel-auth's jwt-secret back afterwards (so the export matches again)."""
    live = cluster.get(f"/api/v1/namespaces/{sandbox.namespace}/secrets/sentinel-auth")
    original = base64.b64decode(live["data"]["jwt-secret"])
    yield
    _set_secret_key(cluster, sandbox.namespace, "sentinel-auth", "jwt-secret", original)


def test_a_clean_history_passes_every_row(target: SandboxTarget) -> None:
    report = check_coverage(target)

    assert [r.component for r in report.rows] == ["Redis", "Configuration", "Logs", "Prometheus"]
    assert report.passed, report.lines()
    assert report.rows[0].details["worst_case_rpo_s"] < target.settings.rpo_seconds
    assert "remote_write" in report.rows[3].summary
    assert any("not what it stored" in n for n in report.rows[3].not_checked)


def _hourly_history(store: BackupStore, source: BackupStore, *, hours: int, now: datetime) -> list[str]:
    """`hours` pipeline backups, one an hour back from now, copies of the sandbox's first backup."""
    first = latest_backup(source, origin=PIPELINE)
    manifest = read_manifest(source, first.id)
    rdb = source.get_bytes(rdb_key(first.id))
    ids = []
    for h in range(hours, 0, -1):
        at = (now - timedelta(hours=h) + timedelta(seconds=20)).replace(microsecond=0)
        backup_id = new_backup_id(at)
        store.put_bytes(rdb_key(backup_id), rdb)
        copy = manifest.model_copy(update={"point_in_time": at, "created_at": at})
        store.put_bytes(manifest_key(backup_id), copy.model_dump_json().encode())
        ids.append(backup_id)
    return ids


def test_a_deleted_hourly_backup_is_reported_as_exactly_that_gap(target: SandboxTarget) -> None:
    now = datetime.now(UTC)
    store = target.store().child(f"history-{now:%H%M%S%f}")
    ids = _hourly_history(store, target.store(), hours=48, now=now)
    settings = target.settings

    assert redis_row(store, settings, now=now).passed

    gone = ids[24]
    assert isinstance(store, S3Store)
    store.client.delete_object(Bucket=store.bucket, Key=f"{store.key_root}{rdb_key(gone)}")
    store.client.delete_object(Bucket=store.bucket, Key=f"{store.key_root}{manifest_key(gone)}")
    found = redis_row(store, settings, now=now)

    before, after = (read_manifest(store, i).point_in_time for i in (ids[23], ids[25]))
    assert found.verdict == "FAIL"
    assert found.details["gaps"] == [{"start": before.isoformat(), "end": after.isoformat(), "seconds": 7200.0}]
    assert found.details["worst_case_rpo_s"] == 7200.0
    assert found.problems == (f"gap of 7200s from {before.isoformat()} to {after.isoformat()}",)


def test_the_audit_expiration_changed_to_30_days_is_reported_with_both_values(target: SandboxTarget) -> None:
    store = target.log_store()
    assert isinstance(store, S3Store)
    rules = store.lifecycle_rules()
    changed = [dict(r, Expiration={"Days": 30}) if r["ID"].endswith("audit") else r for r in rules]
    store.put_lifecycle_rules(changed)
    try:
        found = logs_row(target, now=datetime.now(UTC))
    finally:
        store.put_lifecycle_rules(rules)

    assert found.verdict == "FAIL"
    assert found.problems == ("retention: audit logs: expiration expected 2555 days (7 years), actual 30 days",)
    assert found.details["mismatches"] == [{"log_type": "audit", "what": "expiration",
                                            "expected": "2555 days (7 years)", "actual": "30 days"}]


def test_an_export_made_with_another_key_is_not_decryptable(target: SandboxTarget, cluster: Cluster) -> None:
    assert backup_config(cluster, target.store(), namespace=target.namespace, key=new_key(),
                         secrets=CONFIG_SECRETS, config_maps=CONFIG_MAPS).written
    try:
        found = config_row(target)
    finally:
        assert take_config_backup(target).written  # the sandbox's key again: its digests differ from the stranger's

    assert found.verdict == "FAIL"
    assert "cannot be decrypted with the configured key" in found.problems[0]
    assert config_row(target).passed


def test_backup_config_twice_with_nothing_changed_writes_one_export(
        target: SandboxTarget, sandbox: SandboxInfo, cli: Callable[..., tuple[int, str, str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRILL_SANDBOX_DIR", str(sandbox.state_dir))
    where = f"s3://{sandbox.bucket}/twice-{datetime.now(UTC):%H%M%S%f}/"

    first = cli("backup", "config", "--store", where)
    second = cli("backup", "config", "--store", where)

    assert first[0] == 0 and first[1].startswith("exported ConfigMap/sentinel-config, Secret/sentinel-auth, "
                                                 "Secret/sentinel-redis encrypted to s3://")
    assert second[0] == 0 and second[1].startswith(f"unchanged since export {first[1].split()[-1]}: nothing written")
    store = target.store().child(where.rstrip("/").rsplit("/", 1)[-1])
    assert len(list_exports(store)) == 1


def test_a_missing_log_day_is_named(target: SandboxTarget, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    settings = target.settings.model_copy(update={
        "log_store_url": f"s3://sentinel-logs/missing-{now:%H%M%S%f}/", "coverage_window_hours": 96})
    days = [(now - timedelta(days=d)).date() for d in (4, 3, 1)]  # the day before yesterday is missing
    shifted = SandboxTarget(settings, target.info)
    for day in days:
        write_log_day(tmp_path / "audit", "audit", day)
        archive_logs(tmp_path / "audit", "audit", day, shifted.log_store())

    found = logs_row(shifted, now=now)

    missing = (now - timedelta(days=2)).date().isoformat()
    assert found.details["missing_days"]["audit"] == [missing]
    assert f"audit logs: no archive for {missing}" in found.problems


def test_a_secret_changed_after_the_export_is_drift_and_its_value_appears_nowhere(
        sandbox: SandboxInfo, cluster: Cluster, restore_auth: None, tmp_path: Path) -> None:
    value = f"drifted-secret-value-{os.getpid()}-{datetime.now(UTC):%H%M%S%f}"
    _set_secret_key(cluster, sandbox.namespace, "sentinel-auth", "jwt-secret", value.encode())
    env = {**os.environ, **sandbox.env(include_secrets=True), "DRILL_SANDBOX_DIR": str(sandbox.state_dir)}

    run = subprocess.run([sys.executable, "-m", "harness.cli", "drill", "coverage", "--results",
                          str(tmp_path / "allure-results")], check=False, cwd=REPO, env=env, capture_output=True,
                         text=True,
                         timeout=300)

    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]
    records = json.loads((REPO / "reports" / "drill-results.json").read_text())
    (config,) = [r for r in records["scenarios"] if r["name"].startswith("Configuration")]
    assert config["verdict"] == "FAIL"
    assert "Secret/sentinel-auth: changed since the export (keys: jwt-secret)" in config["reason"]
    leaks = [str(p) for root in (REPO / "reports", tmp_path) for p in root.rglob("*")
             if p.is_file() and value.encode() in p.read_bytes()]
    assert leaks == [] and value not in run.stdout + run.stderr
