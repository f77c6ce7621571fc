"""RecoveryClock: monotonic durations with UTC timestamps for every drill event.

RTO = verified − fault injected, measured with `time.monotonic()` so wall-clock
jumps cannot shorten it; UTC timestamps are kept beside for the auditor. Every
mark is also handed to an `observe` sink as it happens (the scenario's raw
observations), and the phases and the RTO are derived from the events by the
module-level functions that `evidence verify --recompute` applies to those lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from harness.errors import DrillError
from harness.measure.observations import Observe

#: the events of a recovery, in the order a full restore passes them
FAULT_INJECTED = "fault_injected"
FAULT_CONFIRMED = "fault_confirmed"
VERIFIED = "verified"
#: the end of the RTO where no verification step ran (scenario 4 ends on a healthy answer)
HEALTHY = "healthy"


@dataclass(frozen=True)
class Event:
    name: str
    monotonic: float
    at: datetime

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "at": self.at.isoformat(), "monotonic": round(self.monotonic, 6)}

    def observation(self) -> dict[str, object]:
        """The raw line: monotonic unrounded, so a recomputation gets the very figures the drill got."""
        return {"event": self.name, "monotonic": self.monotonic, "at": self.at.isoformat()}

    @classmethod
    def from_observation(cls, line: Mapping[str, Any]) -> Event:
        return cls(str(line["event"]), float(line["monotonic"]), datetime.fromisoformat(str(line["at"])))


@dataclass(frozen=True)
class Phase:
    """A named stretch of the recovery: from one event to the next."""

    name: str
    started_at: datetime
    ended_at: datetime
    seconds: float

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat(),
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class Measurement:
    """A measured value against its target: `met` is measured ≤ target."""

    name: str
    target_s: float
    measured_s: float
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def met(self) -> bool:
        return self.measured_s <= self.target_s

    @property
    def margin_s(self) -> float:
        return self.target_s - self.measured_s

    def describe(self) -> str:
        verdict = "met" if self.met else f"BREACHED by {-self.margin_s:.1f}s"
        return f"{self.name} measured {self.measured_s:.1f}s vs target {self.target_s:.0f}s: {verdict}"

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "target_s": self.target_s,
            "measured_s": round(self.measured_s, 3),
            "margin_s": round(self.margin_s, 3),
            "met": self.met,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }


def _utcnow() -> datetime:
    return datetime.now(UTC)


def phases_of(events: Sequence[Event]) -> list[Phase]:
    """Each consecutive pair of events, named after the later one."""
    return [Phase(b.name, a.at, b.at, b.monotonic - a.monotonic) for a, b in pairwise(events)]


def find_event(events: Sequence[Event], name: str) -> Event | None:
    return next((e for e in events if e.name == name), None)


def rto_end(events: Sequence[Event]) -> str:
    """The event the RTO runs to: verified where the scenario verified the recovery, else healthy."""
    return VERIFIED if find_event(events, VERIFIED) is not None else HEALTHY


def rto_of(events: Sequence[Event], *, target_s: float) -> Measurement | None:
    """RTO = end event − fault injected (see `rto_end`); None when either was never marked."""
    start, end = find_event(events, FAULT_INJECTED), find_event(events, rto_end(events))
    if start is None or end is None:
        return None
    return Measurement("RTO", target_s, end.monotonic - start.monotonic, start.at, end.at)


@dataclass
class RecoveryClock:
    """Records named events; phases are the gaps between consecutive marks.

    `resolution_s` is the probe interval that bounds how precisely an event is
    observed; it is reported beside every figure.
    """

    resolution_s: float = 0.2
    monotonic: Callable[[], float] = time.monotonic
    utcnow: Callable[[], datetime] = _utcnow
    events: list[Event] = field(default_factory=list)
    observe: Observe | None = None

    def mark(self, name: str) -> Event:
        """Record `name` now; marking the same event twice is a harness bug."""
        if any(e.name == name for e in self.events):
            raise DrillError(f"clock event {name!r} marked twice", fix="this is a harness bug; report it")
        event = Event(name, self.monotonic(), self.utcnow())
        self.events.append(event)
        if self.observe is not None:
            self.observe(event.observation())
        return event

    def has(self, name: str) -> bool:
        return any(e.name == name for e in self.events)

    def event(self, name: str) -> Event:
        for e in self.events:
            if e.name == name:
                return e
        raise DrillError(f"clock event {name!r} was never marked", fix="the drill stopped before it")

    def between(self, start: str, end: str) -> float:
        """Seconds from event `start` to event `end`."""
        return self.event(end).monotonic - self.event(start).monotonic

    def phases(self) -> list[Phase]:
        """Each consecutive pair of events, named after the later one."""
        return phases_of(self.events)

    def measure(self, name: str, *, start: str, end: str, target_s: float) -> Measurement:
        """A Measurement of `end − start` against `target_s`."""
        return Measurement(
            name, target_s, self.between(start, end), self.event(start).at, self.event(end).at
        )

    def rto(self, *, target_s: float, end: str = VERIFIED) -> Measurement:
        """RTO: from fault injected to the end event (verified by default)."""
        return self.measure("RTO", start=FAULT_INJECTED, end=end, target_s=target_s)

    def to_json(self) -> dict[str, object]:
        return {
            "resolution_s": self.resolution_s,
            "events": [e.to_json() for e in self.events],
            "phases": [p.to_json() for p in self.phases()],
        }
