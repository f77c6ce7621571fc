"""The one way the harness waits: poll a check until it answers or a deadline passes.

Every wait (a rollout, a BGSAVE, a health endpoint, a process start) goes
through `poll`/`wait_until`, so deadlines, back-off and the "what was last
seen" message behave the same everywhere, and a unit test can drive a wait
with a fake clock instead of sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from harness.errors import CheckFailed

T = TypeVar("T")


class WaitTimedOut(CheckFailed):
    """The awaited state was not reached before the deadline (exit 1)."""


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """time.monotonic and time.sleep."""

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK: Clock = SystemClock()


@dataclass(frozen=True)
class Backoff:
    """Intervals between checks: `first`, multiplied by `factor` each time, never above `cap`."""

    first: float
    factor: float = 1.0
    cap: float | None = None

    def after(self, interval: float) -> float:
        longer = interval * self.factor
        return min(longer, self.cap) if self.cap is not None else longer


def poll(
    check: Callable[[], T | None],
    *,
    timeout: float,
    interval: float | Backoff = 0.1,
    clock: Clock = SYSTEM_CLOCK,
) -> T | None:
    """Call `check` until it returns something other than None, or None once `timeout` has passed.

    `check` runs at least once, and once more at the deadline, so a state
    reached during the last sleep is still seen.
    """
    backoff = interval if isinstance(interval, Backoff) else Backoff(interval)
    deadline = clock.monotonic() + timeout
    wait = backoff.first
    while True:
        result = check()
        if result is not None:
            return result
        left = deadline - clock.monotonic()
        if left <= 0:
            return None
        clock.sleep(min(wait, left))
        wait = backoff.after(wait)


def wait_until(
    check: Callable[[], T | None],
    *,
    timeout: float,
    interval: float | Backoff = 0.1,
    describe: Callable[[], str],
    what: str,
    timed_out: Callable[[str], Exception] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> T:
    """Like `poll`, but past the deadline raise: `timed_out(last seen)` or WaitTimedOut naming `what`.

    `describe` is called once on timeout to say what was last observed.
    """
    result = poll(check, timeout=timeout, interval=interval, clock=clock)
    if result is not None:
        return result
    last = describe()
    if timed_out is not None:
        raise timed_out(last)
    raise WaitTimedOut(
        f"{what} not reached within {timeout:.0f}s; last seen: {last}",
        fix="check the target's events and logs, or raise the timeout",
    )
