"""Clock honesty: does the drill's wall clock agree with the store's own clock?

A bundle's timestamps, canary times and backup ages come from the wall clock of
the machine that ran the drill. The run records readings of the store's clock
(harness/measure/clock_sources.py): the Date header of an answer at the start
and end of the run (`run.json` `clock_sources.store`), and the Last-Modified of
every object a scenario wrote (`observations/store-clock.jsonl`), each between
two readings of the drill's wall clock. `verify` flags a reading whose store
time lies further than the tolerance outside that window
(`figures.clock_offset_s`): the wall-clock times of such a bundle cannot be
taken at face value.

The default tolerance is 2 s beyond the 1 s resolution of the store's times: a
machine kept by NTP is within milliseconds of a cloud store, and the figures a
skew would bend (a backup's age, the canary loss) are judged in seconds or more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.evidence.recompute import OBSERVATIONS_DIR, parse_jsonl
from harness.measure.figures import STORE_TIME_RESOLUTION_S, clock_offset_s
from harness.measure.observations import STORE_CLOCK
from harness.safe_paths import UnsafeName, path_under

DEFAULT_CLOCK_TOLERANCE_S = 2.0


@dataclass
class ClockFindings:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: str = "not checked"


def _readings(bundle: Path, run: Mapping[str, Any], found: ClockFindings) -> list[tuple[str, Mapping[str, Any]]]:
    """(where, reading) of every store-time reading in the bundle: the run's, then each scenario's."""
    readings: list[tuple[str, Mapping[str, Any]]] = [
        ("run", r) for r in (run.get("clock_sources") or {}).get("store") or () if isinstance(r, Mapping)]
    for scenario in run.get("scenarios") or ():
        rel = f"{scenario.get('dir')}/{OBSERVATIONS_DIR}/{STORE_CLOCK}.jsonl"
        try:
            path = path_under(bundle, rel, what="bundle file")
        except UnsafeName as exc:
            found.problems.append(f"clock: {exc.message}")
            continue
        if not path.is_file():
            continue
        lines, bad = parse_jsonl(path.read_text(errors="replace"), name=rel)
        found.problems.extend(f"clock: {b.removeprefix('recompute: ')}" for b in bad)
        readings += [(str(scenario.get("name")), line) for line in lines]
    return readings


def _offset(reading: Mapping[str, Any]) -> float | None:
    try:
        return clock_offset_s(datetime.fromisoformat(str(reading["store_time"])),
                              wall_before=datetime.fromisoformat(str(reading["wall_before"])),
                              wall_after=datetime.fromisoformat(str(reading["wall_after"])))
    except (KeyError, TypeError, ValueError):
        return None


def _what(reading: Mapping[str, Any]) -> str:
    if reading.get("object"):
        return f"Last-Modified of {reading.get('store')} object {reading.get('object')}"
    return f"Date header of an answer from {reading.get('store')}"


def check_clocks(bundle: Path, run: Mapping[str, Any], *, tolerance_s: float = DEFAULT_CLOCK_TOLERANCE_S
                 ) -> ClockFindings:
    """Every store-time reading of the bundle against the drill's wall clock; a problem per one beyond `tolerance_s`."""
    found = ClockFindings()
    readings = _readings(bundle, run, found)
    offsets: list[float] = []
    for where, reading in readings:
        if reading.get("store_time") is None:
            found.notes.append(f"clock: {where}: no store time read ({reading.get('error') or 'unknown why'})")
            continue
        offset = _offset(reading)
        if offset is None:
            found.problems.append(f"clock: {where}: unreadable store-time reading {dict(reading)}")
            continue
        offsets.append(offset)
        if abs(offset) > tolerance_s:
            found.problems.append(
                f"clock: {where}: the drill's wall clock disagrees with the store's by {offset:+.1f} s (tolerance "
                f"±{tolerance_s:g} s beyond the store's {STORE_TIME_RESOLUTION_S:g} s resolution): the "
                f"{_what(reading)} is {reading['store_time']}, stamped between {reading['wall_before']} and "
                f"{reading['wall_after']} by the drill's clock")
    found.summary = _summary(offsets, tolerance_s, readings)
    return found


def _summary(offsets: Sequence[float], tolerance_s: float, readings: Sequence[object]) -> str:
    if not offsets:
        return ("unknown: no store time was read during the run" if not readings
                else "unknown: no store time could be read")
    worst = max(offsets, key=abs)
    verdict = "within" if abs(worst) <= tolerance_s else "OUTSIDE"
    return f"{verdict} ±{tolerance_s:g} s of the store's ({len(offsets)} reading(s), largest offset {worst:+.1f} s)"
