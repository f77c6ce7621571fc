"""RecoveryClock: monotonic durations, UTC timestamps, phases between marks, RTO against its target."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from harness.errors import DrillError
from harness.measure.clock import FAULT_INJECTED, VERIFIED, Measurement, RecoveryClock

T0 = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)


class FakeTime:
    """Monotonic and wall clocks that move only when told to (and can disagree, like real ones)."""

    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall = T0

    def advance(self, seconds: float, *, wall_jump: float = 0.0) -> None:
        self.mono += seconds
        self.wall += timedelta(seconds=seconds + wall_jump)

    def clock(self) -> RecoveryClock:
        return RecoveryClock(resolution_s=0.2, monotonic=lambda: self.mono, utcnow=lambda: self.wall)


def test_phases_are_the_gaps_between_marks():
    t = FakeTime()
    clock = t.clock()
    clock.mark(FAULT_INJECTED)
    t.advance(2)
    clock.mark("fault_confirmed")
    t.advance(30)
    clock.mark("data_restored")
    t.advance(8)
    clock.mark(VERIFIED)
    assert [(p.name, p.seconds) for p in clock.phases()] == [
        ("fault_confirmed", 2), ("data_restored", 30), (VERIFIED, 8),
    ]
    assert clock.phases()[0].started_at == T0
    assert clock.between(FAULT_INJECTED, VERIFIED) == 40


def test_rto_uses_monotonic_time_even_if_the_wall_clock_jumps():
    t = FakeTime()
    clock = t.clock()
    clock.mark(FAULT_INJECTED)
    t.advance(100, wall_jump=-3600)  # NTP steps the wall clock back an hour
    clock.mark(VERIFIED)
    rto = clock.rto(target_s=900)
    assert rto.measured_s == 100 and rto.met and rto.margin_s == 800
    assert rto.started_at == T0 and rto.ended_at == T0 + timedelta(seconds=100 - 3600)


def test_a_breach_is_described_with_both_numbers():
    m = Measurement("RTO", target_s=900, measured_s=912.34)
    assert not m.met
    assert m.describe() == "RTO measured 912.3s vs target 900s: BREACHED by 12.3s"


def test_marking_twice_or_reading_a_missing_event_is_a_harness_error():
    clock = FakeTime().clock()
    clock.mark(FAULT_INJECTED)
    with pytest.raises(DrillError, match="marked twice"):
        clock.mark(FAULT_INJECTED)
    with pytest.raises(DrillError, match="never marked"):
        clock.rto(target_s=900)
    assert clock.has(FAULT_INJECTED) and not clock.has(VERIFIED)


def test_json_carries_resolution_events_and_phases():
    t = FakeTime()
    clock = t.clock()
    clock.mark(FAULT_INJECTED)
    t.advance(1.23456)
    clock.mark(VERIFIED)
    data = clock.to_json()
    assert data["resolution_s"] == 0.2
    assert data["events"][0] == {"name": FAULT_INJECTED, "at": T0.isoformat(), "monotonic": 1000.0}
    assert data["phases"] == [{
        "name": VERIFIED, "started_at": T0.isoformat(),
        "ended_at": (T0 + timedelta(seconds=1.23456)).isoformat(), "seconds": 1.235,
    }]
