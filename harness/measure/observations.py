"""Raw observations of one scenario, kept line by line where they are made, for an auditor to recompute.

The clock, the availability prober, the canary writer and reader, the fault
proof and the restore checks each append what they saw (a JSON-ready dict) to
a named stream the moment they see it. The streams travel in the scenario's
record to `drill-results.json` and become `observations/<stream>.jsonl` in the
evidence bundle, where `evidence verify --recompute` derives every figure again
from them alone (harness/evidence/recompute.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

#: one line per clock mark: event, monotonic, at (wall, UTC)
CLOCK = "clock"
#: one line per availability probe: monotonic, at, ok, status, latency_s, reason
PROBES = "probes"
#: one line per canary write (kind "write") and per canary read back after the restore (kind "read_back",
#: and one "newest_present" naming the restored data's newest canary)
CANARY = "canary"
#: one line per check of restored data: key counts against the backup's manifest
RESTORED = "restored"
#: one line per fault proof: observed, what, at, monotonic, the evidence
FAULTS = "faults"
#: one line per backup whose age a figure uses: role, id, point_in_time, observed_at
BACKUPS = "backups"
#: one line per object written to the store during the scenario: its wall time and the store's LastModified
STORE_CLOCK = "store-clock"
#: what the drill compared: kind "requirement" (figure, bound, target) and kind "window" (availability window)
CHECKS = "checks"
#: the targets the scenario ran with: name, value
TARGETS = "targets"

#: the settings a scenario's figures are compared with, recorded raw as its TARGETS lines
TARGET_SETTINGS = ("rto_seconds", "rpo_seconds", "availability_floor", "dbsize_tolerance", "min_keys",
                   "probe_interval_seconds", "backup_schedule_slack_seconds")

#: backups.jsonl roles: the pipeline's newest when the daily check judged it; the backup a scenario restored
PIPELINE_NEWEST = "pipeline_newest"
RESTORED_BACKUP = "restored"
#: a pipeline_newest line judged against the RPO + the schedule's slack (the daily check), not the RPO alone
LIMIT_RPO_PLUS_SLACK = "rpo_seconds+backup_schedule_slack_seconds"

STREAMS = (TARGETS, CLOCK, PROBES, CANARY, FAULTS, RESTORED, BACKUPS, STORE_CLOCK, CHECKS)

Observe = Callable[[dict[str, Any]], None]


class ObservationLog:
    """Streams of raw observations; appended from the prober's and the canary's threads alike."""

    def __init__(self) -> None:
        self._streams: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def add(self, stream: str, entry: dict[str, Any]) -> None:
        with self._lock:
            self._streams.setdefault(stream, []).append(entry)

    def sink(self, stream: str) -> Observe:
        """A callable that appends to `stream` (what the clock, the prober and the canary are given)."""
        return lambda entry: self.add(stream, entry)

    def stream(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._streams.get(name, ()))

    def to_json(self) -> dict[str, list[dict[str, Any]]]:
        """Every non-empty stream, in the order of STREAMS (unknown ones after)."""
        with self._lock:
            known = [s for s in STREAMS if self._streams.get(s)]
            other = sorted(s for s in self._streams if s not in STREAMS and self._streams[s])
            return {name: list(self._streams[name]) for name in [*known, *other]}
