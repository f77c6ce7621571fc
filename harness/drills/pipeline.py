"""The backup pipeline, checked before a destructive drill and reported beside its RPO.

A drill's own backup is always seconds old, so it proves nothing about the
hourly backup job. Before any fault the newest backup the *pipeline* wrote must
be no older than the RPO, verified (a passing record, or verified now) and
object-locked where the configuration says the store locks; otherwise the drill
is refused with the reason (FAIL), before it breaks anything. The worst gap of
the pipeline's series over the last 48 h is reported beside the RPO.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from harness.backup.catalog import BackupEntry, backup_series, list_backups, newest_backup
from harness.backup.layout import VERIFICATIONS_PREFIX
from harness.backup.manifest import PIPELINE
from harness.backup.s3 import S3Store, s3_error
from harness.backup.store import BackupStore, join_key
from harness.backup.verify import (
    NO_VERIFIER_KEY_NOTICE,
    TrustedVerification,
    trusted_verification,
    verify_backup,
)
from harness.config import Settings
from harness.drills.scenario import DrillScenario
from harness.errors import PipelineBackupUnfit, VerificationFailed
from harness.measure import observations as obs
from harness.measure.clock import Measurement
from harness.measure.figures import backup_age_s
from harness.target.base import Target

log = logging.getLogger(__name__)

#: how far back the pipeline's series is searched for its worst gap
GAP_WINDOW = timedelta(hours=48)
#: the measurement the preflight records (compared with the RPO target)
AGE_MEASURE = "age of the newest pipeline backup"
#: the measurement reported beside the RPO (not enforced)
GAP_MEASURE = "worst backup gap (48 h)"
_FIX_PIPELINE = "the backup pipeline is not keeping up: check the hourly backup CronJob and its last runs, then rerun"


@dataclass(frozen=True)
class BackupGap:
    """A stretch without a pipeline backup: from one backup (or the window's start) to the next (or now)."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def to_json(self) -> dict[str, object]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "seconds": round(self.seconds, 3)}


def worst_gap(points: Sequence[datetime], *, now: datetime, window: timedelta = GAP_WINDOW) -> BackupGap | None:
    """The longest stretch in (now − window, now] without a backup; None when there was never one.

    Gaps run between consecutive backups and from the newest one to `now`; a
    gap that began before the window is cut at the window's start. A series
    that starts inside the window (a new store) has no gap before its first backup.
    """
    start = now - window
    known = sorted(p for p in points if p <= now)
    if not known:
        return None
    before = [p for p in known if p < start]
    series = before[-1:] + [p for p in known if p >= start] + [now]
    gaps = [BackupGap(max(a, start), b) for a, b in pairwise(series)]
    return max(gaps, key=lambda g: g.seconds)


def pipeline_gap(store: BackupStore, *, now: datetime, window: timedelta = GAP_WINDOW) -> BackupGap | None:
    """The worst gap of the pipeline's backups in the store over `window` up to `now`."""
    series = backup_series(store, origin=PIPELINE, since=now - window, until=now)
    return worst_gap([e.point_in_time for e in series], now=now, window=window)


@dataclass(frozen=True)
class PipelineBackup:
    """The pipeline's newest backup as the preflight found it: fresh, verified and locked where required."""

    id: str
    point_in_time: datetime
    checked_at: datetime
    verification: str
    lock: str
    worst_gap: BackupGap | None
    refused: tuple[str, ...] = ()

    @property
    def age_s(self) -> float:
        return backup_age_s(self.point_in_time, self.checked_at)

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "point_in_time": self.point_in_time.isoformat(),
                "checked_at": self.checked_at.isoformat(), "age_s": round(self.age_s, 3),
                "verification": self.verification, "lock": self.lock,
                "worst_gap_48h": self.worst_gap.to_json() if self.worst_gap else None,
                "refused": list(self.refused)}


def check_pipeline_backup(store: BackupStore, settings: Settings, *, now: datetime | None = None) -> PipelineBackup:
    """Find the pipeline's newest backup and require it fresh, locked (where the store locks) and verified.

    Verifies it now (writing its record) when the pipeline never did. Raises
    PipelineBackupUnfit (none, older than the RPO, not locked) or
    VerificationFailed (its verification failed), each naming the backup.
    """
    now = now or datetime.now(UTC)
    refused = tuple(f"{e.id}: {e.time_problem}" for e in list_backups(store) if e.time_problem)
    entry = newest_backup(store, origin=PIPELINE)
    if entry is None:
        also = f"; refused: {'; '.join(refused)}" if refused else ""
        raise PipelineBackupUnfit(f"refused before any fault: no backup written by the backup pipeline in {store.url} "
                                  f"(a drill's own backups do not count){also}", fix=_FIX_PIPELINE)
    age = backup_age_s(entry.point_in_time, now)
    if age > settings.rpo_seconds:
        raise PipelineBackupUnfit(
            f"refused before any fault: the newest pipeline backup {entry.id} (point in time "
            f"{entry.point_in_time.isoformat()}) is {age:.1f}s old, older than the RPO target "
            f"{settings.rpo_seconds:.0f}s", fix=_FIX_PIPELINE)
    lock = _require_locked(store, entry, settings, now)
    verification = _require_verified(store, entry, min_keys=settings.min_keys,
                                     trusted_keys=settings.verifier_public_keys)
    return PipelineBackup(entry.id, entry.point_in_time, now, verification, lock, pipeline_gap(store, now=now),
                          refused)


def _require_verified(store: BackupStore, entry: BackupEntry, *, min_keys: int,
                      trusted_keys: Sequence[str] = ()) -> str:
    """The pipeline's verification record, or a verification run now; VerificationFailed when it failed.

    A record is trusted only when one of the configured verifier keys signed it; with none configured
    (said once here, NO_VERIFIER_KEY_NOTICE) or a record none of them signed, the backup is verified now.
    Records are read from verifications/ only: one beside the backup is named as ignored.
    """
    verification = trusted_verification(store, entry.id, trusted_keys=trusted_keys, min_keys=min_keys)
    record = verification.record
    if verification.no_verifier_key:
        log.warning(NO_VERIFIER_KEY_NOTICE)
    if verification.passed and verification.again is None and record is not None:
        return f"passing verification record of {record.verified_at} ({record.trust})"
    if record is None or verification.again is not None:
        # never verified: verify now and keep the record; untrusted record: the run just made, nothing written
        report = verification.again or verify_backup(store, entry.id, min_keys=min_keys)
        failed = report.failed_check
        if report.passed:
            return f"verified by the drill at {report.verified_at.isoformat()} ({_why_verified_now(verification)})"
        reason = f"check {failed.name}: {failed.reason}" if failed else "not every level passed"
    else:
        reason = f"its verification record says check {record.failed_check} failed"
    raise VerificationFailed(f"refused before any fault: the newest pipeline backup {entry.id} is not verified "
                             f"({reason})", fix="investigate the backup pipeline; a drill needs a verified backup "
                             "to fall back on")


def _why_verified_now(verification: TrustedVerification) -> str:
    if verification.record is not None:
        return f"its record is not trusted: {verification.record.trust}"
    if verification.ignored_record:
        return (f"no record under {VERIFICATIONS_PREFIX}; the one beside the backup, {verification.ignored_record}, "
                "is ignored")
    return "no record from the pipeline"


def _require_locked(store: BackupStore, entry: BackupEntry, settings: Settings, now: datetime) -> str:
    """Where `store_retention_days` is set on an S3 store, the backup's RDB must be under retention now."""
    if not settings.store_retention_days:
        return "not required (store_retention_days is not set)"
    if not isinstance(store, S3Store):
        return f"not applicable ({store.url} is not an S3 store)"
    assert entry.rdb_key is not None  # complete entries have an RDB
    mode, until = object_retention(store, entry.rdb_key)
    if mode is None or until is None or until <= now:
        held = f"retention {mode} until {until.isoformat()}" if mode and until else "no retention"
        raise PipelineBackupUnfit(
            f"refused before any fault: the newest pipeline backup {entry.id} is not object-locked ({held}) "
            f"although store_retention_days is {settings.store_retention_days}",
            fix="upload backups with object-lock retention (store_retention_days) to a bucket with object lock")
    return f"{mode} until {until.isoformat()}"


def object_retention(store: S3Store, key: str) -> tuple[str | None, datetime | None]:
    """(mode, retain-until) of an object, from HEAD (moto answers that, not GetObjectRetention)."""
    try:
        head: dict[str, Any] = store.client.head_object(Bucket=store.bucket, Key=join_key(store.prefix, key))
    except Exception as exc:  # noqa: BLE001 - mapped to the error tree
        raise s3_error(exc, what=f"read the retention of {store.location(key)}", bucket=store.bucket,
                       endpoint=str(store.client.meta.endpoint_url)) from None
    until = head.get("ObjectLockRetainUntilDate")
    return head.get("ObjectLockMode"), until.astimezone(UTC) if isinstance(until, datetime) else None


def require_pipeline_backup(drill: DrillScenario, target: Target) -> PipelineBackup:
    """The drill's preflight: the pipeline's newest backup is fit, or the scenario stops before any fault.

    Notes what was found (or why it was refused) and records its age against the RPO target.
    """
    try:
        found = check_pipeline_backup(target.store(), target.settings)
    except (PipelineBackupUnfit, VerificationFailed) as exc:
        drill.note("pipeline_backup", {"refused": exc.message})
        raise
    drill.note("pipeline_backup", found.to_json())
    drill.observe_backup(obs.PIPELINE_NEWEST, found.id, found.point_in_time, at=found.checked_at)
    drill.record_measurement(Measurement(AGE_MEASURE, target.settings.rpo_seconds, found.age_s,
                                         started_at=found.point_in_time, ended_at=found.checked_at))
    return found
