"""The four rows of the runbook's "What to Back Up": Redis, Configuration, Logs, Prometheus.

Each check reads what the pipelines left (never what a drill just took) and
names every problem: a gap with its start and end, drift by object and key
name (values never), a lifecycle rule with expected and actual days, a missing
log day. Where a row cannot be checked from here, `not_checked` says what.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from harness.backup.catalog import backup_series, list_backups
from harness.backup.config_export import drift, live_objects, newest_export, read_export
from harness.backup.log_archive import archived_days
from harness.backup.manifest import PIPELINE
from harness.backup.s3 import S3Store
from harness.backup.store import BackupStore
from harness.config import Settings
from harness.coverage.report import CoverageRow, row
from harness.drills.pipeline import BackupGap, backup_age_s, worst_gap
from harness.errors import CheckFailed
from harness.retention import LOG_TYPES, RetentionMismatch, retention_mismatches
from harness.target.base import Target

#: a day's log archive is due by this long after the day ends (the CronJob runs at 00:30 UTC)
LOG_ARCHIVE_DUE = timedelta(hours=1)


def _gaps_over(points: list[datetime], *, now: datetime, since: datetime, limit_s: float) -> list[BackupGap]:
    """Every stretch longer than `limit_s` between consecutive backups (and the newest one and now), in the window."""
    series = points + [now]
    return [g for a, b in pairwise(series) if (g := BackupGap(max(a, since), b)).seconds > limit_s]


def redis_row(store: BackupStore, settings: Settings, *, now: datetime) -> CoverageRow:
    """Hourly RDB snapshots: the pipeline's series over the window, its newest age and every gap past the RPO."""
    window = timedelta(hours=settings.coverage_window_hours)
    since = now - window
    limit = settings.rpo_seconds + settings.backup_schedule_slack_seconds
    series = backup_series(store, origin=PIPELINE, since=since, until=now)
    points = [e.point_in_time for e in series]
    problems: list[str] = []
    without_manifest = [e.id for e in list_backups(store)
                        if since <= e.point_in_time <= now and e.layout == "manifest" and not e.has_manifest]
    problems += [f"backup {i} has no manifest (incomplete upload)" for i in without_manifest]
    if not series:
        return _redis(f"no pipeline backup in {store.url}", problems + ["no backup written by the pipeline"],
                      {"backups": 0})
    newest = series[-1]
    age = backup_age_s(newest.point_in_time, now)
    if age > settings.rpo_seconds:
        problems.append(f"newest backup {newest.id} is {age:.0f}s old, RPO target {settings.rpo_seconds:.0f}s")
    gaps = _gaps_over(points, now=now, since=since, limit_s=limit)
    problems += [f"gap of {g.seconds:.0f}s from {g.start.isoformat()} to {g.end.isoformat()}" for g in gaps]
    worst = worst_gap(points, now=now, window=window)
    worst_s = worst.seconds if worst else 0.0
    in_window = [e for e in series if e.point_in_time >= since]
    summary = (f"{len(in_window)} pipeline backup{'' if len(in_window) == 1 else 's'} in "
               f"{settings.coverage_window_hours:g} h, newest {age:.0f}s old; "
               f"worst-case RPO {worst_s:.0f}s (target {settings.rpo_seconds:.0f}s, "
               f"+{settings.backup_schedule_slack_seconds:.0f}s for the CronJob's start)")
    return _redis(summary, problems, {
        "backups": len(in_window), "newest_id": newest.id, "newest_age_s": round(age, 3),
        "worst_case_rpo_s": round(worst_s, 3), "worst_gap": worst.to_json() if worst else None,
        "rpo_target_s": settings.rpo_seconds, "gap_limit_s": limit,
        "gaps": [g.to_json() for g in gaps], "without_manifest": without_manifest,
    })


def _redis(summary: str, problems: list[str], details: dict[str, Any]) -> CoverageRow:
    return row("Redis", "cache, sessions, rate limits: hourly RDB snapshot + manifest", summary, problems,
               details=details)


def config_row(target: Target) -> CoverageRow:
    """The newest pipeline export decrypts with the configured key and matches the live namespace."""
    settings = target.settings
    store = target.store()
    backed_up = (f"Secrets {', '.join(settings.config_secrets)}, ConfigMaps {', '.join(settings.config_maps)}: "
                 "encrypted export on change")
    not_checked = (".env files (the runbook's git + gpg copy) are outside the cluster",)
    export = newest_export(store, origin=PIPELINE)
    if export is None:
        return row("Configuration", backed_up, "no pipeline configuration export",
                   [f"no export written by the pipeline in {store.url}"], not_checked=not_checked)
    key = target.config_export_key()
    try:
        exported = read_export(store, export, key=key)
    except CheckFailed as exc:
        return row("Configuration", backed_up, f"newest export {export.export_id} cannot be read", [exc.message],
                   not_checked=not_checked, details={"export_id": export.export_id})
    live = live_objects(target.cluster(), namespace=target.namespace, secrets=settings.config_secrets,
                                  config_maps=settings.config_maps)
    changed = drift(exported, live, key=key)
    summary = (f"export {export.export_id} ({len(exported)} objects) decrypts; "
               + ("matches the live namespace" if not changed else f"{len(changed)} object(s) drifted"))
    return row("Configuration", backed_up, summary, [f"drift: {d}" for d in changed], not_checked=not_checked,
               details={"export_id": export.export_id, "created_at": export.created_at.isoformat(),
                        "objects": list(export.objects), "namespace": target.namespace, "drift": changed})


def due_log_days(*, now: datetime, window: timedelta) -> list[date]:
    """Days whose archive should exist by `now`: from the window's first day to the newest day that is due."""
    first, last = (now - window).date(), (now - timedelta(days=1) - LOG_ARCHIVE_DUE).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def logs_row(target: Target, *, now: datetime) -> CoverageRow:
    """The bucket's lifecycle against the retention table, and a daily archive for every due day of each type."""
    settings = target.settings
    store = target.log_store()
    table = settings.log_retention
    if isinstance(store, S3Store):
        mismatches = retention_mismatches(store.lifecycle_rules(), table, store_prefix=store.key_root)
    else:
        mismatches = [RetentionMismatch("all", "lifecycle rules", "S3 lifecycle per the retention table",
                                        f"{store.url} is not an S3 bucket")]
    due = due_log_days(now=now, window=timedelta(hours=settings.coverage_window_hours))
    missing: dict[str, list[str]] = {}
    archived: dict[str, int] = {}
    for log_type in LOG_TYPES:
        days = archived_days(store, log_type)
        archived[log_type] = len(days)
        # like the Redis series: a history that starts inside the window has no gap before its first day
        expected = [d for d in due if d >= days[0]] if days else due
        missing[log_type] = [d.isoformat() for d in expected if d not in set(days)]
    problems = [f"retention: {m.describe()}" for m in mismatches]
    problems += [f"{t} logs: no archive for {d}" for t, days in missing.items() for d in days]
    summary = (f"lifecycle {'matches' if not mismatches else 'differs from'} the retention table; "
               f"daily archives due {due[0] if due else '-'}..{due[-1] if due else '-'}: "
               + ", ".join(f"{t} {archived[t]}" for t in LOG_TYPES))
    return row("Logs", "audit, application, access logs: a daily archive + manifest per type", summary, problems,
               not_checked=("the hot (local) tier's days live on the log shipper's disk, not in the bucket",),
               details={"store": store.url, "retention_table": {t: p.model_dump() for t, p in table.items()},
                        "mismatches": [m.to_json() for m in mismatches], "missing_days": missing,
                        "archived_days": archived})
