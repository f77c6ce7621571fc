"""RecoveryClock: monotonic durations with UTC timestamps for every drill event.

RTO = verified − fault injected, measured with `time.monotonic()` so wall-clock
jumps cannot shorten it; UTC timestamps are kept beside for the auditor.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from harness.errors import DrillError

#: the events of a recovery, in the order a full restore passes them
FAULT_INJECTED = "fault_injected"
FAULT_CONFIRMED = "fault_confirmed"
VERIFIED = "verified"


@dataclass(frozen=True)
class Event:
    name: str
    monotonic: float
    at: datetime

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "at": self.at.isoformat(), "monotonic": round(self.monotonic, 6)}


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

    def mark(self, name: str) -> Event:
        """Record `name` now; marking the same event twice is a harness bug."""
        if any(e.name == name for e in self.events):
            raise DrillError(f"clock event {name!r} marked twice", fix="this is a harness bug; report it")
        event = Event(name, self.monotonic(), self.utcnow())
        self.events.append(event)
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
        return [
            Phase(b.name, a.at, b.at, b.monotonic - a.monotonic)
            for a, b in zip(self.events, self.events[1:])
        ]

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
