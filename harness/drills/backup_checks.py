"""The monthly backup verification and the daily check, as drill functions.

Both judge the backup *pipeline*: a backup a drill took for itself proves
nothing about the hourly job. Monthly: restore the pipeline's newest backup
(found fresh and verified by the preflight) into a scratch Redis; its key count
must equal the manifest and be within a tolerance of production's DBSIZE.
Daily: the pipeline's newest backup is no older than the RPO + the schedule's
slack (the verify CronJob's own judgement), passes every verification level
and holds ≥ min keys.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness.backup.catalog import BackupEntry, find_backup, newest_backup, read_manifest
from harness.backup.dataset import db_client, loaded_scratch
from harness.backup.manifest import PIPELINE, Manifest
from harness.backup.pipeline_check import NewestBackup
from harness.backup.verify import VerificationReport, verify_backup
from harness.drills.pipeline import AGE_MEASURE
from harness.drills.scenario import DrillScenario
from harness.errors import PipelineBackupUnfit, TargetMissed, VerificationFailed
from harness.measure import observations as obs
from harness.measure.clock import Measurement
from harness.measure.figures import key_drift
from harness.target.base import Target


@dataclass(frozen=True)
class ScratchRestore:
    backup_id: str
    manifest: Manifest
    keys_loaded: int
    keys_expired_on_load: int
    production_dbsize: int

    @property
    def keys_in_file(self) -> int:
        return self.keys_loaded + self.keys_expired_on_load

    @property
    def drift(self) -> float:
        """Relative difference between the restored keys and production's DBSIZE now."""
        return key_drift(self.keys_loaded, self.production_dbsize)


def restore_into_scratch(drill: DrillScenario, target: Target, backup_id: str) -> ScratchRestore:
    """The runbook's "restore to test environment": load backup `backup_id` into a throw-away redis-server."""
    store = target.store()
    entry = find_backup(store, backup_id)
    manifest = read_manifest(store, entry.id)
    with tempfile.TemporaryDirectory(prefix="drill-monthly-") as tmp:
        rdb = Path(tmp) / "backup.rdb"
        assert entry.rdb_key is not None
        store.get_file(entry.rdb_key, rdb)
        with loaded_scratch(rdb) as scratch:
            info = db_client(scratch, 0).info("persistence")
            loaded = int(info.get("rdb_last_load_keys_loaded", 0))
            expired = int(info.get("rdb_last_load_keys_expired", 0))
    production = int(target.redis().dbsize())
    drill.observe_restored("scratch_restore", backup_id=entry.id, keys_loaded=loaded, keys_expired_on_load=expired,
                           manifest_key_count=manifest.key_count, production_dbsize=production)
    result = ScratchRestore(entry.id, manifest, loaded, expired, production)
    drill.note("scratch_restore", {"backup_id": entry.id, "origin": manifest.origin, "keys_loaded": loaded,
                                   "keys_expired_on_load": expired, "manifest_key_count": manifest.key_count,
                                   "production_dbsize": production, "drift": round(result.drift, 5)})
    return result


def newest_pipeline_backup(target: Target) -> BackupEntry:
    """The newest complete backup the pipeline wrote; PipelineBackupUnfit when it never wrote one."""
    store = target.store()
    entry = newest_backup(store, origin=PIPELINE)
    if entry is None:
        raise PipelineBackupUnfit(f"no backup written by the backup pipeline in {store.url} "
                                  "(a drill's own backups do not count)",
                                  fix="check the hourly backup CronJob and its last runs")
    return entry


def verify_entry(drill: DrillScenario, target: Target, entry: BackupEntry) -> VerificationReport:
    report = verify_backup(target.store(), entry.id, min_keys=drill.settings.min_keys)
    drill.record.verification = report.to_json()
    return report


def require_no_older_than_rpo(drill: DrillScenario, entry: BackupEntry, *, now: datetime | None = None) -> float:
    """The daily freshness check, as the verify CronJob judges it (harness.backup.pipeline_check): the pipeline's
    newest backup no older than the RPO + the schedule's slack; its age is recorded against that limit."""
    settings = drill.settings
    newest = NewestBackup(entry, now or datetime.now(UTC), settings.rpo_seconds, settings.backup_schedule_slack_seconds)
    age = newest.age_s or 0.0
    drill.observe_backup(obs.PIPELINE_NEWEST, entry.id, entry.point_in_time, at=newest.checked_at,
                         limit=obs.LIMIT_RPO_PLUS_SLACK)
    drill.record_measurement(Measurement(AGE_MEASURE, newest.limit_s, age, started_at=entry.point_in_time,
                                         ended_at=newest.checked_at))
    drill.note("newest_pipeline_backup", newest.to_json())
    if newest.problem:
        raise PipelineBackupUnfit(newest.problem, fix="the backup pipeline is not writing backups: check the hourly "
                                  "backup CronJob (suspended? failing?) and its last Jobs")
    return age


def require_count_matches_manifest(restore: ScratchRestore) -> None:
    if restore.keys_in_file != restore.manifest.key_count:
        raise VerificationFailed(
            f"backup {restore.backup_id} restored {restore.keys_in_file} keys "
            f"({restore.keys_loaded} live + {restore.keys_expired_on_load} expired), manifest says "
            f"{restore.manifest.key_count}", fix="the backup does not hold what its manifest claims")


def require_near_production(drill: DrillScenario, restore: ScratchRestore) -> None:
    tolerance = drill.settings.dbsize_tolerance
    if restore.drift > tolerance:
        raise TargetMissed(
            f"restored {restore.keys_loaded} keys vs production DBSIZE {restore.production_dbsize}: "
            f"drift {restore.drift:.2%} over the tolerance {tolerance:.2%}",
            fix="the pipeline's newest backup is stale or incomplete; check the hourly backup job")


def require_min_keys(drill: DrillScenario, report: VerificationReport) -> None:
    """The key-count level enforces ≥ min keys; require it ran with the configured minimum and passed."""
    check = next((c for c in report.checks if c.name == "key_count"), None)
    if check is None or check.status != "passed" or report.min_keys < drill.settings.min_keys:
        raise VerificationFailed(
            f"backup {report.backup_id}: key count check {check.status if check else 'missing'} "
            f"({check.reason if check else ''}) with minimum {report.min_keys}",
            fix=f"the backup must hold at least {drill.settings.min_keys} keys (DRILL_MIN_KEYS)")
