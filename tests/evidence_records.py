"""Drill-shaped records for evidence tests: a recovery timeline as the RecoveryClock writes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from harness.measure.clock import RecoveryClock

T0 = datetime(2026, 1, 1, 5, 0, tzinfo=UTC)


def recovery_timeline() -> dict[str, object]:
    """Scenario 3's phases on a faked clock: fault at 0 s, confirmed 1.5 s, restored 20 s, verified 41.2 s."""
    now = [0.0]
    clock = RecoveryClock(monotonic=lambda: now[0], utcnow=lambda: T0 + timedelta(seconds=now[0]))
    for name, at in [("fault_injected", 0.0), ("fault_confirmed", 1.5), ("data_restored", 20.0), ("verified", 41.2)]:
        now[0] = at
        clock.mark(name)
    return clock.to_json()
