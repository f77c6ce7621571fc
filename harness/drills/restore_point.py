"""The backup scenarios 3 and 4 restore: the pipeline's, never the drill's own.

When a cluster is really lost, what comes back is the newest backup the backup
CronJob wrote. So before the fault, while the canary and the smoke's seeds are
being written, the drill asks the pipeline for a backup the way an operator
would (`kubectl create job --from=cronjob/redis-backup`, waited for) and
restores that one; where a drill may not create objects in production
(`request_pipeline_backup: false`) it takes the pipeline's newest backup as it
is. Either way the backup is verified before the fault, and production's keys
are counted by prefix at that moment, so the restore is judged by what
production held, not by the backup's own manifest (harness.drills.keyspace).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from harness.backup.catalog import find_backup, newest_backup, read_manifest
from harness.backup.layout import manifest_key
from harness.backup.manifest import PIPELINE, Manifest
from harness.backup.verify import verify_backup
from harness.drills import keyspace
from harness.drills.recovery import require_verified
from harness.drills.scenario import DrillScenario
from harness.errors import PipelineBackupUnfit, StoreError, TargetMissed
from harness.target.base import Target

#: how long the pipeline's Job may take to write its backup
PIPELINE_JOB_TIMEOUT_S = 600.0
_FIX_PIPELINE = "check the backup CronJob's Job and its log; the drill restores only what the pipeline wrote"


@dataclass(frozen=True)
class RestorePoint:
    """The pipeline backup a scenario restores, how it was obtained, and production's keys when it was asked for."""

    backup_id: str
    manifest: Manifest
    how: str
    requested: bool
    production: keyspace.KeyCensus
    asked_at: datetime

    @property
    def point_in_time(self) -> datetime:
        return self.manifest.point_in_time

    def to_json(self) -> dict[str, Any]:
        return {"backup_id": self.backup_id, "origin": self.manifest.origin, "how": self.how,
                "requested": self.requested, "point_in_time": self.point_in_time.isoformat(),
                "asked_at": self.asked_at.isoformat(), "key_count": self.manifest.key_count,
                "canary_high_water": self.manifest.canary_high_water,
                "fetch_method": self.manifest.fetch_method,
                "production_keys_by_prefix": self.production.to_json()}


def _requested_backup(drill: DrillScenario, target: Target, asked_at: datetime) -> tuple[str, str]:
    """Run the pipeline's Job now; (backup id, how). The id from its log, else its newest backup since `asked_at`."""
    run = target.run_pipeline_backup(timeout=PIPELINE_JOB_TIMEOUT_S)
    drill.note("pipeline_run", {"how": run.how, "seconds": round(run.seconds, 3), "backup_id": run.backup_id})
    if run.backup_id:
        return run.backup_id, run.how
    store = target.store()
    entry = newest_backup(store, origin=PIPELINE)
    if entry is None or entry.stored_at is not None and entry.stored_at < asked_at:
        raise PipelineBackupUnfit(f"the backup pipeline's run ({run.how}) ended without a new backup in {store.url}",
                                  fix=_FIX_PIPELINE)
    return entry.id, f"{run.how} (its newest backup: the log named none)"


def pipeline_restore_point(drill: DrillScenario, target: Target) -> RestorePoint:
    """Before the fault: the pipeline backup to restore, verified, with production's keys counted by prefix.

    Raises PipelineBackupUnfit (no backup, or one a drill wrote), VerificationFailed (it does not verify),
    JobFailed (the pipeline's Job failed, with its log).
    """
    settings = target.settings
    production = keyspace.census(target.redis())
    asked_at = datetime.now(UTC)
    if settings.request_pipeline_backup:
        backup_id, how = _requested_backup(drill, target, asked_at)
    else:
        entry = newest_backup(target.store(), origin=PIPELINE)
        if entry is None:
            raise PipelineBackupUnfit(f"no pipeline backup in {target.store().url} to restore", fix=_FIX_PIPELINE)
        backup_id, how = entry.id, "the pipeline's newest backup, as it is (request_pipeline_backup: false)"
    store = target.store()
    try:
        find_backup(store, backup_id)
        manifest = read_manifest(store, backup_id)
    except StoreError as exc:
        raise PipelineBackupUnfit(f"the pipeline's backup {backup_id} cannot be read: {exc.message}",
                                  fix=_FIX_PIPELINE) from None
    if manifest.origin != PIPELINE:
        raise PipelineBackupUnfit(f"backup {backup_id} ({how}) has origin {manifest.origin}, not pipeline",
                                  fix=_FIX_PIPELINE)
    if settings.request_pipeline_backup:  # written in this run, between asking and now: the store's clock is read
        drill.observe_store_write(store, manifest_key(backup_id), written_at=asked_at)
    point = RestorePoint(backup_id, manifest, how, settings.request_pipeline_backup, production, asked_at)
    drill.note("restore_point", point.to_json())
    report = verify_backup(store, backup_id, min_keys=settings.min_keys)
    drill.note("restore_point_verification", report.to_json())
    require_verified(report)
    return point


def require_keyspace_restored(drill: DrillScenario, target: Target, point: RestorePoint) -> keyspace.KeyCensus:
    """Every key prefix production held when the backup was asked for came back (within
    `restore_prefix_tolerance`); TargetMissed naming the restored backup and the prefixes it lacks."""
    restored = keyspace.census(target.redis())
    short = keyspace.shortfalls(point.production, restored, tolerance=target.settings.restore_prefix_tolerance)
    drill.note("restored_keyspace", {"backup_id": point.backup_id, "restored": restored.to_json(),
                                     "production_when_asked": point.production.to_json(),
                                     "short": [s.describe() for s in short]})
    if short:
        raise TargetMissed(
            f"restored backup {point.backup_id} ({point.manifest.origin}, {point.how}) lacks what production held "
            f"when it was taken: {'; '.join(s.describe() for s in short)}",
            fix="the backup pipeline writes incomplete backups (wrong server, database or key filter); "
                "fix the backup CronJob and rerun")
    return restored
