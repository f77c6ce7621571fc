"""The RPO of a restore from a pipeline backup, observed at the canary boundary.

The canary writes before the fault; the pipeline's backup was taken at some
point of that run (the drill asks the CronJob for it while the canary writes),
so the restored data draws a line through the canary's series: every write the
backup holds (sequence ≤ the manifest's canary high-water mark) must be present
after the restore, every later one absent, and the loss window is the time from
the newest surviving write to the last acknowledged one (the fault). That is
the RPO a disaster at that moment would have cost, observed, not computed.

Where the backup predates the canary (the pipeline's newest backup taken as it
is, `request_pipeline_backup: false`), no canary write can survive: the RPO is
then fault time − the backup's point in time, and is labelled as computed.
The worst gap of the pipeline's series over 48 h is reported beside it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from harness.backup.manifest import Manifest
from harness.measure.canary import CanaryWrite, canary_key

OBSERVED = "observed at the canary boundary: newest canary write restored → last write acknowledged before the fault"
COMPUTED = ("computed: the backup predates the canary writer, so no write could show the boundary; "
            "RPO = fault time − the backup's point in time")


def _write(write: CanaryWrite | None) -> dict[str, object] | None:
    return {"seq": write.seq, "at": write.at.isoformat()} if write else None


@dataclass(frozen=True)
class CanaryBoundary:
    """Where the restored data cuts the canary's acknowledged writes, and whether the cut is clean."""

    backup_high_water: int | None
    first_seq: int | None
    last_in_backup: CanaryWrite | None
    first_after: CanaryWrite | None
    last_acknowledged: CanaryWrite | None
    present_before: int
    absent_after: int
    #: writes the backup holds that did not come back
    missing_before: tuple[int, ...]
    #: writes after the backup's point in time that are present anyway
    present_after: tuple[int, ...]

    @property
    def predates_canary(self) -> bool:
        """No write of this canary run is in the backup (its high-water mark is older, or it has none)."""
        return self.first_seq is None or self.backup_high_water is None or self.backup_high_water < self.first_seq

    @property
    def clean(self) -> bool:
        return not self.missing_before and not self.present_after

    @property
    def loss_window_s(self) -> float | None:
        """Last acknowledged write − newest write the backup holds (0 when nothing was lost); None if predating."""
        if self.predates_canary or self.last_acknowledged is None or self.last_in_backup is None:
            return None
        return max(0.0, (self.last_acknowledged.at - self.last_in_backup.at).total_seconds())

    def describe(self) -> str:
        if self.predates_canary:
            return f"the backup predates the canary (its high-water mark {self.backup_high_water}, first write " \
                   f"{self.first_seq}): {self.absent_after} write(s) absent"
        cut = f"writes ≤ {self.backup_high_water} present ({self.present_before}), later ones absent " \
              f"({self.absent_after})"
        problems = []
        if self.missing_before:
            problems.append(f"{len(self.missing_before)} write(s) the backup holds are missing "
                            f"(first {self.missing_before[0]})")
        if self.present_after:
            problems.append(f"{len(self.present_after)} write(s) after the backup are present "
                            f"(first {self.present_after[0]})")
        return cut + (f"; but {'; '.join(problems)}" if problems else "")

    def to_json(self) -> dict[str, Any]:
        return {"backup_canary_high_water": self.backup_high_water, "first_canary_of_run": self.first_seq,
                "predates_canary": self.predates_canary,
                "last_write_in_backup": _write(self.last_in_backup), "first_write_after": _write(self.first_after),
                "last_acknowledged": _write(self.last_acknowledged),
                "present_before_boundary": self.present_before, "absent_after_boundary": self.absent_after,
                "missing_before_boundary": list(self.missing_before[:20]),
                "present_after_boundary": list(self.present_after[:20]),
                "loss_window_s": round(self.loss_window_s, 3) if self.loss_window_s is not None else None}


def canary_boundary(acknowledged: Sequence[CanaryWrite], present: Collection[int], *,
                    backup_high_water: int | None) -> CanaryBoundary:
    """Cut `acknowledged` at `backup_high_water` and compare with the sequence numbers `present` after the restore."""
    first = acknowledged[0].seq if acknowledged else None
    cut = backup_high_water if backup_high_water is not None else -1
    before = [w for w in acknowledged if w.seq <= cut]
    after = [w for w in acknowledged if w.seq > cut]
    return CanaryBoundary(
        backup_high_water=backup_high_water, first_seq=first,
        last_in_backup=before[-1] if before else None, first_after=after[0] if after else None,
        last_acknowledged=acknowledged[-1] if acknowledged else None,
        present_before=sum(1 for w in before if w.seq in present),
        absent_after=sum(1 for w in after if w.seq not in present),
        missing_before=tuple(w.seq for w in before if w.seq not in present),
        present_after=tuple(w.seq for w in after if w.seq in present))


def present_canaries(client: redis.Redis, acknowledged: Sequence[CanaryWrite]) -> set[int]:
    """Which of the acknowledged canary writes the (restored) server holds."""
    if not acknowledged:
        return set()
    pipe = client.pipeline(transaction=False)
    for write in acknowledged:
        pipe.exists(canary_key(write.seq))
    return {w.seq for w, found in zip(acknowledged, pipe.execute(), strict=True) if found}


@dataclass(frozen=True)
class RpoObservation:
    """The RPO of the restored pipeline backup: observed at the canary boundary, or computed where it predates it."""

    backup_id: str
    origin: str
    point_in_time: datetime
    fault_at: datetime
    boundary: CanaryBoundary

    @property
    def observed(self) -> bool:
        return not self.boundary.predates_canary

    @property
    def rpo_s(self) -> float:
        window = self.boundary.loss_window_s
        if window is not None:
            return window
        return max(0.0, (self.fault_at - self.point_in_time).total_seconds())

    @property
    def started_at(self) -> datetime:
        """Where the lost window starts: the newest write restored, or the backup's point in time."""
        return self.boundary.last_in_backup.at if self.observed and self.boundary.last_in_backup else \
            self.point_in_time

    @property
    def ended_at(self) -> datetime:
        last = self.boundary.last_acknowledged
        return last.at if self.observed and last else self.fault_at

    @property
    def how(self) -> str:
        return OBSERVED if self.observed else COMPUTED

    def expected_from_backup_s(self) -> float:
        """What the backup's point in time alone says was lost: last acknowledged write − point in time."""
        last = self.boundary.last_acknowledged
        return (last.at - self.point_in_time).total_seconds() if last else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"rpo_s": round(self.rpo_s, 3), "how": self.how, "backup_id": self.backup_id, "origin": self.origin,
                "backup_point_in_time": self.point_in_time.isoformat(), "fault_injected_at": self.fault_at.isoformat(),
                "window_start": self.started_at.isoformat(), "window_end": self.ended_at.isoformat()}


def observe_rpo(manifest: Manifest, acknowledged: Sequence[CanaryWrite], present: Collection[int], *,
                fault_at: datetime) -> RpoObservation:
    """The RPO of restoring `manifest`'s backup, from the canary writes `present` after the restore."""
    boundary = canary_boundary(acknowledged, present, backup_high_water=manifest.canary_high_water)
    return RpoObservation(manifest.id, manifest.origin, manifest.point_in_time, fault_at, boundary)
