"""Canary writes: sequence-numbered, timestamped keys that turn "data lost" into a number.

The writer appends `drill:canary:<seq>` every 250 ms and moves `drill:canary:last`
in the same MULTI, remembering each write Redis acknowledged. After a restore the
reader finds the newest canary present; every acknowledged write after it is
lost, and the gap between the last acknowledged write and the newest surviving
one is the measured data-loss window (the measured RPO). Each write and each
read-back is handed to an `observe` sink as it happens (the scenario's raw
observations); `canary_report` derives the report from them, for the drill and
for `evidence verify --recompute` alike.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis

from harness.measure.observations import Observe

CANARY_PREFIX = "drill:canary:"
CANARY_LAST = "drill:canary:last"
DEFAULT_INTERVAL_S = 0.25


def canary_key(seq: int) -> str:
    return f"{CANARY_PREFIX}{seq:012d}"


@dataclass(frozen=True)
class CanaryWrite:
    seq: int
    at: datetime


def canary_high_water(client: redis.Redis) -> int | None:
    """Highest canary sequence number the dataset holds, or None without canaries."""
    raw = client.get(CANARY_LAST)
    return int(raw) if raw is not None else None


def read_canary(client: redis.Redis, seq: int) -> CanaryWrite | None:
    raw = client.get(canary_key(seq))
    if raw is None:
        return None
    body = json.loads(raw)
    return CanaryWrite(int(body["seq"]), datetime.fromisoformat(body["at"]))


@dataclass
class CanaryWriter:
    """Background writer; `acknowledged` holds every write Redis confirmed, in order."""

    client: redis.Redis
    interval_s: float = DEFAULT_INTERVAL_S
    start_seq: int | None = None
    acknowledged: list[CanaryWrite] = field(default_factory=list)
    failures: int = 0
    observe: Observe | None = None
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _seq: int = 0

    def write_one(self) -> CanaryWrite | None:
        """Write the next canary now; return it when Redis acknowledged it."""
        self._seq += 1
        at, started = datetime.now(UTC), time.monotonic()
        body = json.dumps({"seq": self._seq, "at": at.isoformat()})
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.set(canary_key(self._seq), body)
            pipe.set(CANARY_LAST, self._seq)
            pipe.execute()
        except (redis.RedisError, OSError):
            self.failures += 1
            self._observe(self._seq, at, started, acknowledged=False)
            return None
        write = CanaryWrite(self._seq, at)
        self.acknowledged.append(write)
        self._observe(self._seq, at, started, acknowledged=True)
        return write

    def _observe(self, seq: int, at: datetime, started: float, *, acknowledged: bool) -> None:
        if self.observe is not None:
            self.observe({"kind": "write", "seq": seq, "at": at.isoformat(), "monotonic": started,
                          "acknowledged": acknowledged})

    def start(self) -> CanaryWriter:
        """Continue after any canary already in the dataset, then write in the background."""
        if self.start_seq is None:
            try:
                self.start_seq = (canary_high_water(self.client) or 0) + 1
            except (redis.RedisError, OSError):
                self.start_seq = 1
        self._seq = self.start_seq - 1
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="canary-writer", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.write_one()
            next_at += self.interval_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def last(self) -> CanaryWrite | None:
        return self.acknowledged[-1] if self.acknowledged else None


@dataclass(frozen=True)
class CanaryReport:
    """What the restored data says about the canaries written before the fault."""

    newest_present: CanaryWrite | None
    last_acknowledged: CanaryWrite | None
    lost_seqs: tuple[int, ...]
    holes: tuple[int, ...]

    @property
    def lost_count(self) -> int:
        return len(self.lost_seqs)

    @property
    def data_loss_window_s(self) -> float:
        """Seconds of acknowledged writes lost (0 when nothing acknowledged was lost)."""
        if self.last_acknowledged is None or not self.lost_seqs:
            return 0.0
        if self.newest_present is None:
            first = self.lost_seqs[0]
            raise ValueError(f"no canary survived; the oldest lost is seq {first}")
        return (self.last_acknowledged.at - self.newest_present.at).total_seconds()

    def to_json(self) -> dict[str, object]:
        return {
            "newest_present": _write_json(self.newest_present),
            "last_acknowledged": _write_json(self.last_acknowledged),
            "lost_count": self.lost_count,
            "lost_seqs_first_last": [self.lost_seqs[0], self.lost_seqs[-1]] if self.lost_seqs else [],
            "holes": list(self.holes),
            "data_loss_window_s": round(self.data_loss_window_s, 3) if self.newest_present or not self.lost_seqs else None,
        }


def _write_json(write: CanaryWrite | None) -> dict[str, object] | None:
    return {"seq": write.seq, "at": write.at.isoformat()} if write else None


def canary_report(acknowledged: Sequence[CanaryWrite], newest_present: CanaryWrite | None,
                  present: Mapping[int, bool]) -> CanaryReport:
    """Lost = acknowledged writes newer than the newest canary present; holes = older ones not `present`."""
    newest_seq = newest_present.seq if newest_present else 0
    lost = tuple(w.seq for w in acknowledged if w.seq > newest_seq)
    holes = tuple(w.seq for w in acknowledged if w.seq <= newest_seq and not present.get(w.seq, False))
    return CanaryReport(newest_present, acknowledged[-1] if acknowledged else None, lost, holes)


def canary_from_observations(lines: Sequence[Mapping[str, Any]]) -> CanaryReport | None:
    """The report of the last read-back in a scenario's canary lines; None when nothing was read back."""
    read = read_back_from_observations(lines)
    if read is None:
        return None
    acknowledged, newest, present = read
    return canary_report(acknowledged, newest, present)


def read_back_from_observations(
        lines: Sequence[Mapping[str, Any]]) -> tuple[list[CanaryWrite], CanaryWrite | None, dict[int, bool]] | None:
    """(the writes acknowledged before the last read-back, the newest canary it found, each write's presence) from
    a scenario's canary lines; None when nothing was read back."""
    starts = [i for i, line in enumerate(lines) if line.get("kind") == "newest_present"]
    if not starts:
        return None
    newest_line = lines[starts[-1]]
    acknowledged = [CanaryWrite(int(line["seq"]), datetime.fromisoformat(str(line["at"])))
                    for line in lines[:starts[-1]] if line.get("kind") == "write" and line.get("acknowledged")]
    if isinstance(newest_line.get("acknowledged"), int):  # the writes the reader compared: those before it read
        acknowledged = acknowledged[:newest_line["acknowledged"]]
    newest = (CanaryWrite(int(newest_line["seq"]), datetime.fromisoformat(str(newest_line["written_at"])))
              if newest_line.get("seq") is not None and newest_line.get("written_at") else None)
    present = {int(line["seq"]): bool(line["present"]) for line in lines[starts[-1] + 1:]
               if line.get("kind") == "read_back"}
    return acknowledged, newest, present


@dataclass
class CanaryReader:
    """Reads the canaries back after a restore and compares them with what was acknowledged."""

    client: redis.Redis
    observe: Observe | None = None

    def report(self, acknowledged: list[CanaryWrite]) -> CanaryReport:
        """Read the newest canary and whether each acknowledged one is present; see `canary_report`."""
        high = canary_high_water(self.client)
        newest = read_canary(self.client, high) if high is not None else None
        present: dict[int, bool] = {}
        if acknowledged:
            pipe = self.client.pipeline(transaction=False)
            for write in acknowledged:
                pipe.exists(canary_key(write.seq))
            present = {w.seq: bool(ok) for w, ok in zip(acknowledged, pipe.execute())}
        if self.observe is not None:
            now = datetime.now(UTC).isoformat()
            self.observe({"kind": "newest_present", "seq": newest.seq if newest else None,
                          "written_at": newest.at.isoformat() if newest else None, "at": now,
                          "acknowledged": len(acknowledged)})
            for seq, ok in present.items():
                self.observe({"kind": "read_back", "seq": seq, "present": ok, "at": now})
        return canary_report(acknowledged, newest, present)
