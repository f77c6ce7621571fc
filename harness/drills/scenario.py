"""DrillScenario: one running scenario's clock, observers and record.

Observers start before the fault ("watch before you break"); every comparison
with a target goes through `require`, which records the measurement before it
raises, so a breached scenario still reports what it measured. What the clock,
the prober, the canaries, the fault proof and the restore checks observe is
kept raw, line by line, in `observations` (harness/measure/observations.py): the
evidence an auditor recomputes every figure and the verdict from.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.config import Settings
from harness.errors import FaultNotConfirmed, TargetMissed
from harness.evidence.record import ScenarioRecord
from harness.measure import observations as obs
from harness.measure.availability import AvailabilityProber, AvailabilityReport, in_window, summarise
from harness.measure.canary import CanaryReader, CanaryReport, CanaryWriter
from harness.measure.clock import Measurement, RecoveryClock, rto_end, rto_of
from harness.measure.clock_sources import store_object_time

if TYPE_CHECKING:
    import redis

    from harness.backup.store import BackupStore

log = logging.getLogger(__name__)

#: the record detail a step sets when the target cannot run the scenario at all (it gets no verdict, only a line)
NOT_RUN = "not_run"


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class DrillScenario:
    """State of one scenario from its first Given to its last Then."""

    settings: Settings
    record: ScenarioRecord
    journal_dir: Path
    clock: RecoveryClock = field(default_factory=RecoveryClock)
    prober: AvailabilityProber | None = None
    canary: CanaryWriter | None = None
    journals: list[Path] = field(default_factory=list)
    observations: obs.ObservationLog = field(default_factory=obs.ObservationLog)
    _cleanups: list[Callable[[], object]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.clock.resolution_s = self.settings.probe_interval_seconds
        self.clock.observe = self.observations.sink(obs.CLOCK)
        self.record.started_at = _now()
        for name in obs.TARGET_SETTINGS:
            self.observations.add(obs.TARGETS, {"name": name, "value": getattr(self.settings, name)})

    def start_prober(self, health_url: str) -> AvailabilityProber:
        """Poll the health URL from now until the scenario ends (every sample kept raw)."""
        self.prober = AvailabilityProber(health_url, interval_s=self.settings.probe_interval_seconds,
                                         observe=self.observations.sink(obs.PROBES)).start()
        self.on_finish(self.prober.stop)
        return self.prober

    def start_canary(self, writer: CanaryWriter) -> CanaryWriter:
        """Start the canary writer (every write kept raw, acknowledged or not)."""
        writer.observe = self.observations.sink(obs.CANARY)
        self.canary = writer.start()
        self.on_finish(writer.stop)
        return writer

    def read_canaries(self, client: redis.Redis) -> CanaryReport:
        """Read the canaries back from `client` (each read-back kept raw) and keep the report in the record."""
        assert self.canary is not None, "the canary writer never ran"
        acknowledged = list(self.canary.acknowledged)  # the writes so far; a running writer adds more meanwhile
        report = CanaryReader(client, observe=self.observations.sink(obs.CANARY)).report(acknowledged)
        self.record.canary = report.to_json()
        return report

    def observe_backup(self, role: str, backup_id: str, point_in_time: datetime, *, at: datetime,
                       **facts: Any) -> None:
        """Keep a backup a figure uses: its point in time, when the drill looked (`at`), and `facts` (origin, the
        canary high-water mark it holds)."""
        self.observations.add(obs.BACKUPS, {"role": role, "id": backup_id, "point_in_time": point_in_time.isoformat(),
                                            "observed_at": at.isoformat(), **facts})

    def observe_restored(self, check: str, **counts: Any) -> None:
        """Keep what a check of restored data saw (key counts, the canary), before it is judged."""
        self.observations.add(obs.RESTORED, {"check": check, "at": _now(), **counts})

    def observe_store_write(self, store: BackupStore, key: str, *, written_at: datetime) -> None:
        """Keep the store's own time of an object the drill wrote at `written_at` (its wall clock)."""
        self.observations.add(obs.STORE_CLOCK, store_object_time(store, key, written_at=written_at))

    def on_finish(self, cleanup: Callable[[], object]) -> None:
        """Run `cleanup` when the scenario ends, whatever its outcome (last registered runs first)."""
        self._cleanups.append(cleanup)

    def availability(self, *, since_event: str, until_event: str | None = None) -> AvailabilityReport:
        """Availability between two clock events (until now when `until_event` is None)."""
        assert self.prober is not None, "the availability prober was never started"
        since = self.clock.event(since_event).monotonic
        samples = self.prober.snapshot(since)
        until = (self.clock.event(until_event).monotonic if until_event
                 else samples[-1].monotonic if samples else since)  # "now": the last sample taken so far
        report = summarise(in_window(samples, since, until), self.prober.interval_s)
        self.observations.add(obs.CHECKS, {"kind": "window", "figure": "availability", "since_event": since_event,
                                           "until_event": until_event, "since_monotonic": since,
                                           "until_monotonic": until, "interval_s": self.prober.interval_s})
        self.record.availability = report.to_json()
        return report

    def not_run_if(self, why: str | None) -> None:
        """Where the target cannot run this scenario (`why`), record it as NOT RUN, with the reason, and skip it."""
        if why:
            self.note(NOT_RUN, why)
            pytest.skip(f"not run on this target: {why}")

    def note(self, key: str, value: Any) -> None:
        """Keep a detail for the evidence (what was hit, which backup, ...)."""
        self.record.details[key] = value

    def confirm_fault(self, observed: bool, what: str, evidence: dict[str, Any]) -> None:
        """Prove the fault happened; without proof the scenario is INVALID, never passed."""
        self.note("fault_proof", {"observed": observed, "what": what, **evidence})
        self.observations.add(obs.FAULTS, {"observed": observed, "what": what, "at": self.clock.utcnow().isoformat(),
                                           "monotonic": self.clock.monotonic(), "evidence": evidence})
        if not observed:
            raise FaultNotConfirmed(
                f"fault not observed: {what}",
                fix="check the experiment's selectors and the target; nothing was proven",
            )
        if not self.clock.has("fault_confirmed"):
            self.clock.mark("fault_confirmed")

    def record_measurement(self, m: Measurement, *, unit_note: str = "") -> Measurement:
        entry = m.to_json()
        if unit_note:
            entry["note"] = unit_note
        self.record.measurements = [e for e in self.record.measurements if e["name"] != m.name] + [entry]
        return m

    def declare_requirement(self, figure: str, bound: str, target: float) -> None:
        """Keep that `figure` must be ≤ (bound "max") or ≥ ("min") `target`: what a recomputation judges."""
        self.observations.add(obs.CHECKS, {"kind": "requirement", "figure": figure, "bound": bound, "target": target})

    def require(self, m: Measurement) -> Measurement:
        """Record `m`; raise TargetMissed naming the breach when it is not met."""
        self.declare_requirement(m.name, "max", m.target_s)
        self.record_measurement(m)
        if not m.met:
            raise TargetMissed(m.describe(), fix=f"recovery is slower than the {m.name} target; investigate the phases")
        return m

    @property
    def give_up_s(self) -> float:
        """How long a recovery wait lasts before giving up: past the RTO, so a breach is measured, not guessed."""
        return max(2 * self.settings.rto_seconds, 120.0)

    def require_at_least(self, name: str, floor: float, measured: float, *, detail: str = "") -> None:
        """A floor (availability): record it beside the measurements; TargetMissed below it."""
        self.declare_requirement(name, "min", floor)
        self.note(name, {"floor": floor, "measured": round(measured, 5), "met": measured >= floor, "detail": detail})
        if measured < floor:
            raise TargetMissed(f"{name} measured {measured:.2%} vs floor {floor:.2%}: BREACHED ({detail})",
                               fix=f"{name} fell below its configured floor; see the prober's outages")

    def rto(self) -> Measurement:
        """RTO from the fault to the last recovery event marked (verified, else healthy)."""
        measured = rto_of(self.clock.events, target_s=self.settings.rto_seconds)
        if measured is None:
            end = rto_end(self.clock.events)
            raise TargetMissed(f"RTO not measurable: the scenario never reached {end!r} after the fault",
                               fix="recovery did not complete; see the phases and the journal")
        return measured

    def finish(self) -> None:
        """Stop observers and cleanups (each guarded: neither a failure nor a second interrupt skips the rest).

        Idempotent: called when the scenario ends and again from the fixture's
        finalizer, which is what still runs when an interrupt stopped the session.
        """
        interrupted: BaseException | None = None
        while self._cleanups:
            cleanup = self._cleanups.pop()
            try:
                cleanup()
            except Exception:
                log.exception("scenario cleanup failed")
            except KeyboardInterrupt as exc:  # a second SIGINT/SIGTERM: finish the cleanups, then stop
                interrupted = exc
        if self.record.ended_at and interrupted is None:
            return
        self.record.timeline = self.clock.to_json()
        self.record.observations = self.observations.to_json()
        self.record.ended_at = _now()
        self.record.artifacts = [str(p) for p in self.journals]
        if interrupted is not None:
            raise interrupted
