"""The one polling helper: deadlines, back-off and the last check at the deadline, on a fake clock."""

from __future__ import annotations

import pytest

from harness.errors import TargetMissed
from harness.polling import Backoff, WaitTimedOut, poll, wait_until
from tests.fakes.clock import FakeClock


def test_returns_the_first_answer_without_sleeping() -> None:
    clock = FakeClock()
    assert poll(lambda: "ready", timeout=10, clock=clock) == "ready"
    assert clock.sleeps == []


def test_backoff_doubles_up_to_its_cap_and_the_last_sleep_ends_at_the_deadline() -> None:
    clock = FakeClock()
    assert poll(lambda: None, timeout=2.0, interval=Backoff(0.25, factor=2.0, cap=0.5), clock=clock) is None
    assert clock.sleeps == [0.25, 0.5, 0.5, 0.5, 0.25]
    assert clock.now == pytest.approx(2.0)


def test_a_state_reached_during_the_last_sleep_is_still_seen() -> None:
    clock = FakeClock()
    assert poll(lambda: "late" if clock.now >= 1.0 else None, timeout=1.0, interval=0.4, clock=clock) == "late"


def test_wait_until_names_what_and_the_last_observation() -> None:
    clock = FakeClock()
    with pytest.raises(WaitTimedOut, match=r"rollout not reached within 3s; last seen: 1/3 ready"):
        wait_until(lambda: None, timeout=3, what="rollout", describe=lambda: "1/3 ready", clock=clock)


def test_wait_until_raises_the_callers_error() -> None:
    clock = FakeClock()
    with pytest.raises(TargetMissed, match="still 503"):
        wait_until(lambda: None, timeout=1, what="health", describe=lambda: "still 503",
                   timed_out=lambda last: TargetMissed(last), clock=clock)
