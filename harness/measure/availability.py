"""Availability prober: polls the health URL through the drill ("watch before you break").

Pods are simulated in the sandbox, so the health endpoint is how "traffic
continues" is observed; in production it is SENTINEL's own /health. Each sample
records monotonic and wall time, the answer and its latency, and is handed to
an `observe` sink as it is taken (the scenario's raw observations);
availability, the longest outage and the first healthy answer after the fault
are derived from the samples, by the same functions for the drill and for
`evidence verify --recompute`.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from harness.measure.observations import Observe
from harness.polling import SYSTEM_CLOCK, Clock, poll


@dataclass(frozen=True)
class Sample:
    """One probe: when it started (monotonic, and wall when known), its answer and how long the answer took."""

    monotonic: float
    ok: bool
    status: int | None
    reason: str = ""
    at: datetime | None = None
    latency_s: float | None = None

    def observation(self) -> dict[str, Any]:
        return {"monotonic": self.monotonic, "at": self.at.isoformat() if self.at else None, "ok": self.ok,
                "status": self.status, "latency_s": self.latency_s, "reason": self.reason}

    @classmethod
    def from_observation(cls, line: Mapping[str, Any]) -> Sample:
        at = line.get("at")
        latency = line.get("latency_s")
        return cls(float(line["monotonic"]), bool(line["ok"]),
                   int(line["status"]) if line.get("status") is not None else None, str(line.get("reason") or ""),
                   datetime.fromisoformat(at) if at else None, float(latency) if latency is not None else None)


def probe_once(url: str, *, timeout: float = 1.0) -> Sample:
    """One GET: ok only on HTTP 200 (a connection error or timeout is an outage)."""
    start, at = time.monotonic(), datetime.now(UTC)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            sample = Sample(start, resp.status == 200, resp.status, at=at)
    except urllib.error.HTTPError as exc:
        sample = Sample(start, False, exc.code, exc.read(200).decode(errors="replace"), at=at)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        sample = Sample(start, False, None, exc.__class__.__name__, at=at)
    return replace(sample, latency_s=time.monotonic() - start)


def wait_healthy(url: str, *, timeout: float, interval: float = 0.1, probe_timeout: float = 1.0,
                 clock: Clock = SYSTEM_CLOCK) -> tuple[float | None, Sample]:
    """Probe `url` until it answers 200 (the one health poller): (seconds waited or None at the deadline, last sample)."""
    start = clock.monotonic()
    last: list[Sample] = []

    def answered() -> float | None:
        last[:] = [probe_once(url, timeout=probe_timeout)]
        return clock.monotonic() - start if last[0].ok else None

    return poll(answered, timeout=timeout, interval=interval, clock=clock), last[0]


@dataclass(frozen=True)
class AvailabilityReport:
    """What the prober saw between two instants."""

    samples: int
    ok_samples: int
    interval_s: float
    longest_outage_s: float
    outages: int
    window_s: float

    @property
    def availability(self) -> float:
        return self.ok_samples / self.samples if self.samples else 0.0

    def to_json(self) -> dict[str, object]:
        return {
            "samples": self.samples,
            "ok_samples": self.ok_samples,
            "availability": round(self.availability, 5),
            "longest_outage_s": round(self.longest_outage_s, 3),
            "outages": self.outages,
            "window_s": round(self.window_s, 3),
            "interval_s": self.interval_s,
        }


def in_window(samples: list[Sample], since: float | None, until: float | None) -> list[Sample]:
    """The samples started in [since, until] (either end open when None)."""
    return [s for s in samples if (since is None or s.monotonic >= since) and (until is None or s.monotonic <= until)]


def summarise(samples: list[Sample], interval_s: float) -> AvailabilityReport:
    """Availability %, outage count and the longest outage (first failed → next ok sample)."""
    longest = 0.0
    outages = 0
    down_since: float | None = None
    for s in samples:
        if not s.ok and down_since is None:
            down_since = s.monotonic
            outages += 1
        elif s.ok and down_since is not None:
            longest = max(longest, s.monotonic - down_since)
            down_since = None
    if down_since is not None and samples:
        longest = max(longest, samples[-1].monotonic - down_since + interval_s)
    window = samples[-1].monotonic - samples[0].monotonic if len(samples) > 1 else 0.0
    return AvailabilityReport(
        len(samples), sum(s.ok for s in samples), interval_s, longest, outages, window
    )


@dataclass
class AvailabilityProber:
    """Background poller of one health URL; start before the fault, stop after recovery."""

    url: str
    interval_s: float = 0.2
    timeout_s: float = 1.0
    probe: Callable[[str], Sample] | None = None
    observe: Observe | None = None
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _sample(self) -> Sample:
        if self.probe is not None:
            return self.probe(self.url)
        return probe_once(self.url, timeout=self.timeout_s)

    def start(self) -> AvailabilityProber:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="availability-prober", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.record(self._sample())
            next_at += self.interval_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def record(self, sample: Sample) -> None:
        """Keep one sample (and hand it to `observe`); the polling thread's only way to add one."""
        with self._lock:
            self.samples.append(sample)
        if self.observe is not None:
            self.observe(sample.observation())

    def stop(self) -> AvailabilityReport:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        return self.report()

    def snapshot(self, since: float | None = None) -> list[Sample]:
        with self._lock:
            return in_window(self.samples, since, None)

    def report(self, since: float | None = None, until: float | None = None) -> AvailabilityReport:
        return summarise(in_window(self.snapshot(since), since, until), self.interval_s)
