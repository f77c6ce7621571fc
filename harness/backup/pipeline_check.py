"""The daily check of the backup pipeline: is it alive, and is every backup it wrote restorable?

What the verify CronJob (`sentinel-drill verify pipeline`) and `drill daily` judge:

1. **the newest pipeline backup** (a drill's own never counts) exists and is no
   older than the RPO plus the schedule's slack (`backup_schedule_slack_seconds`:
   the hourly CronJob's start jitter and run time). A dead or suspended hourly
   job fails here, naming the newest backup and its age — not only once the
   next restore needs it;
2. **every pipeline backup written since the last run** passes every
   verification level, newest first, within a time budget; what the budget left
   unverified is named, and the next run starts with it.

Each run leaves a record under `verifications/redis/runs/YYYY/MM/DD/` (the
verifier's prefix: the backup job cannot forge one): when it ran, from when it
verified, what it verified and left, and the budget it used. "Since the last
run" is that record's start (minus the slack, so a backup uploaded while the last
run listed the store is not missed); without one, the last day plus the slack.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from harness.backup.catalog import BackupEntry, backup_series, find_backup, newest_backup
from harness.backup.layout import VERIFY_RECORDS_PREFIX
from harness.backup.manifest import PIPELINE
from harness.backup.store import BackupStore
from harness.backup.verify import VerificationReport, verify_backup
from harness.errors import StoreError

RUNS_PREFIX = f"{VERIFY_RECORDS_PREFIX}runs/"
#: the first run (no record of an earlier one) looks back one CronJob period
FIRST_RUN_WINDOW = timedelta(days=1)
#: the verify CronJob's default budget: well inside its Job's activeDeadlineSeconds (3600)
DEFAULT_BUDGET_S = 3000.0
_FIX_DEAD = "the backup pipeline is not writing backups: check the hourly CronJob (suspended? failing?) and its last Jobs"


@dataclass(frozen=True)
class NewestBackup:
    """The pipeline's newest backup at `checked_at`, and the age it may reach."""

    entry: BackupEntry | None
    checked_at: datetime
    rpo_s: float
    slack_s: float

    @property
    def limit_s(self) -> float:
        return self.rpo_s + self.slack_s

    @property
    def age_s(self) -> float | None:
        return None if self.entry is None else max(0.0, (self.checked_at - self.entry.point_in_time).total_seconds())

    @property
    def problem(self) -> str | None:
        """One line naming why the pipeline looks dead, or None."""
        if self.entry is None:
            return "no backup written by the backup pipeline (a drill's own backups do not count)"
        age = self.age_s or 0.0
        if age > self.limit_s:
            return (f"the newest pipeline backup {self.entry.id} (point in time {self.entry.point_in_time.isoformat()}) "
                    f"is {age:.0f}s old, older than the RPO {self.rpo_s:.0f}s + schedule slack {self.slack_s:.0f}s")
        return None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.entry.id if self.entry else None,
                "point_in_time": self.entry.point_in_time.isoformat() if self.entry else None,
                "age_s": round(self.age_s, 3) if self.age_s is not None else None, "limit_s": self.limit_s,
                "rpo_s": self.rpo_s, "slack_s": self.slack_s, "checked_at": self.checked_at.isoformat(),
                "problem": self.problem}


def newest_pipeline_backup(store: BackupStore, *, rpo_s: float, slack_s: float,
                           now: datetime | None = None) -> NewestBackup:
    """The pipeline's newest complete backup and its age against RPO + slack (see `NewestBackup.problem`)."""
    return NewestBackup(newest_backup(store, origin=PIPELINE), now or datetime.now(UTC), rpo_s, slack_s)


@dataclass(frozen=True)
class LastRun:
    started_at: datetime
    left_unverified: tuple[str, ...]
    key: str


def last_run(store: BackupStore) -> LastRun | None:
    """The newest run record (None when the check never ran against this store)."""
    keys = sorted((o.key for o in store.list(RUNS_PREFIX) if o.key.endswith(".json")),
                  key=lambda k: k.rsplit("/", 1)[-1], reverse=True)
    for key in keys:
        try:
            body = json.loads(store.get_bytes(key))
            return LastRun(datetime.fromisoformat(body["started_at"]), tuple(body.get("left_unverified") or ()), key)
        except (ValueError, KeyError, TypeError, StoreError):
            continue  # an unreadable record is skipped: the one before it still says when a run was
    return None


@dataclass
class SeriesRun:
    """Every pipeline backup since `since` verified newest first, as far as the budget went."""

    since: datetime
    since_from: str
    budget_s: float
    to_verify: tuple[str, ...]
    reports: list[VerificationReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def left_unverified(self) -> tuple[str, ...]:
        done = {r.backup_id for r in self.reports}
        return tuple(i for i in self.to_verify if i not in done)

    @property
    def failed(self) -> list[VerificationReport]:
        return [r for r in self.reports if not r.passed]

    def summary(self) -> str:
        return (f"verified {len(self.reports)} of {len(self.to_verify)} pipeline backup(s) written since "
                f"{self.since.isoformat()} ({self.since_from}) in {self.seconds:.1f}s of the {self.budget_s:.0f}s "
                "budget")

    def to_json(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "since_from": self.since_from, "budget_s": self.budget_s,
                "seconds": round(self.seconds, 3), "to_verify": list(self.to_verify),
                "verified": [{"id": r.backup_id, "passed": r.passed,
                              "failed_check": r.failed_check.name if r.failed_check else None,
                              "reason": r.failed_check.reason if r.failed_check else None,
                              "seconds": round(sum(c.seconds for c in r.checks) + r.download_seconds, 3)}
                             for r in self.reports],
                "left_unverified": list(self.left_unverified)}


def series_since(store: BackupStore, *, now: datetime, slack_s: float) -> tuple[datetime, str, list[str]]:
    """(since, where it came from, ids to verify newest first): the pipeline's backups since the last run, and
    what that run's budget left unverified."""
    previous = last_run(store)
    if previous is None:
        since, source = now - FIRST_RUN_WINDOW - timedelta(seconds=slack_s), "no earlier run: the last day + slack"
    else:
        since = previous.started_at - timedelta(seconds=slack_s)
        source = f"the last run at {previous.started_at.isoformat()} − slack"
    newer = [e.id for e in reversed(backup_series(store, origin=PIPELINE, since=since, until=now))
             if e.point_in_time > since]
    left = [i for i in (previous.left_unverified if previous else ()) if i not in newer and _still_there(store, i)]
    return since, source, newer + left


def _still_there(store: BackupStore, backup_id: str) -> bool:
    try:
        return find_backup(store, backup_id).complete
    except StoreError:
        return False


def verify_series(store: BackupStore, ids: list[str], *, since: datetime, since_from: str, min_keys: int,
                  budget_s: float, on_report: Callable[[VerificationReport], object] = lambda _: None,
                  monotonic: Callable[[], float] = time.monotonic) -> SeriesRun:
    """Verify `ids` in order (the newest first: it is always verified); stop before one the budget cannot fit.

    A backup's expected cost is the longest one so far: the run stops rather than overrun its Job's deadline.
    """
    run = SeriesRun(since, since_from, budget_s, tuple(ids))
    start = monotonic()
    longest = 0.0
    for n, backup_id in enumerate(ids):
        elapsed = monotonic() - start
        if n and elapsed + longest > budget_s:
            break
        t = monotonic()
        report = verify_backup(store, backup_id, min_keys=min_keys)
        longest = max(longest, monotonic() - t)
        run.reports.append(report)
        on_report(report)
    run.seconds = monotonic() - start
    return run


@dataclass
class PipelineCheck:
    """One daily check: the newest backup's age, the series verified, and the problems in order of weight."""

    started_at: datetime
    newest: NewestBackup
    series: SeriesRun

    @property
    def problems(self) -> list[str]:
        out = [p for p in [self.newest.problem] if p]
        out += [f"pipeline backup {r.backup_id} failed verification at {r.failed_check.name}: {r.failed_check.reason}"
                if r.failed_check else f"pipeline backup {r.backup_id} did not pass every level"
                for r in self.series.failed]
        if self.series.left_unverified:
            out.append(f"the {self.series.budget_s:.0f}s budget left {len(self.series.left_unverified)} pipeline "
                       f"backup(s) unverified ({', '.join(self.series.left_unverified[:5])}"
                       f"{', …' if len(self.series.left_unverified) > 5 else ''}); the next run starts with them")
        return out

    @property
    def fix(self) -> str:
        if self.newest.problem:
            return _FIX_DEAD
        if self.series.failed:
            return "investigate the backup job's output for these backups; restore from one that verifies"
        return "raise --budget (and the Job's activeDeadlineSeconds), or give the verifier more CPU"

    def to_json(self) -> dict[str, Any]:
        return {"started_at": self.started_at.isoformat(), "newest": self.newest.to_json(),
                **self.series.to_json(), "problems": self.problems, "passed": not self.problems}


def check_pipeline(store: BackupStore, *, rpo_s: float, slack_s: float, min_keys: int, budget_s: float,
                   record: bool = True, on_report: Callable[[VerificationReport], object] = lambda _: None,
                   now: datetime | None = None) -> PipelineCheck:
    """The daily check (module docstring): judge the newest pipeline backup, verify the series, keep a run record."""
    started = now or datetime.now(UTC)
    newest = newest_pipeline_backup(store, rpo_s=rpo_s, slack_s=slack_s, now=started)
    since, since_from, ids = series_since(store, now=started, slack_s=slack_s)
    if newest.entry is not None and newest.entry.id not in ids:
        ids.insert(0, newest.entry.id)  # the newest is always judged, even when the last run already saw it
    series = verify_series(store, ids, since=since, since_from=since_from, min_keys=min_keys, budget_s=budget_s,
                           on_report=on_report)
    check = PipelineCheck(started, newest, series)
    if record:
        store.put_bytes(f"{RUNS_PREFIX}{started:%Y/%m/%d}/{started:%Y%m%dT%H%M%S}Z.json",
                        json.dumps(check.to_json(), indent=2).encode() + b"\n")
    return check
