"""The RTO/RPO figures of every bundle in a chain, read from each bundle's run.json.

The trend page and the PDF draw from the same points, so a figure cannot
differ between them or from what `evidence verify` checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.evidence.tables import phase_rows

MEASURES = ("RTO", "RPO")


@dataclass(frozen=True)
class TrendPoint:
    """One RTO or RPO measurement of one scenario in one run; `label` is the run's sandbox label, if any."""

    run_id: str
    ended_at: str
    case: str
    measure: str
    measured_s: float
    target_s: float
    met: bool
    label: str | None = None
    phases: tuple[tuple[str, float], ...] = ()


def scenario_name(scenario: dict[str, Any]) -> str:
    """A scenario's name as run.json holds it (older bundles: `case`)."""
    return str(scenario.get("case") or scenario.get("name") or "?")


def _points_of(run: dict[str, Any]) -> list[TrendPoint]:
    points: list[TrendPoint] = []
    for scenario in run.get("scenarios", []):
        for m in scenario.get("measurements", []):
            if m.get("name") in MEASURES:
                phases = tuple(phase_rows(scenario.get("timeline"))) if m["name"] == "RTO" else ()
                points.append(TrendPoint(str(run["run_id"]), str(run.get("ended_at", "")), scenario_name(scenario),
                                         m["name"], float(m["measured_s"]), float(m["target_s"]), bool(m["met"]),
                                         run.get("label"), phases))
    return points


def trend_points(evidence_root: Path, *, up_to: str | None = None) -> list[TrendPoint]:
    """Every RTO/RPO measurement of every bundle under `evidence_root`, oldest run first.

    `up_to` (a run id) stops at that run, so the PDF of an old bundle shows the
    trend as it stood then, not runs made after it.
    """
    points: list[TrendPoint] = []
    for run_json in sorted(evidence_root.glob("*/run.json")):
        if up_to is not None and run_json.parent.name > up_to:
            break
        points += _points_of(json.loads(run_json.read_text()))
    return points


def series_by_scenario(points: list[TrendPoint]) -> dict[tuple[str, str], list[TrendPoint]]:
    """(scenario, measure) → its points in run order, sorted by scenario then RTO before RPO."""
    series: dict[tuple[str, str], list[TrendPoint]] = {}
    for p in points:
        series.setdefault((p.case, p.measure), []).append(p)
    return dict(sorted(series.items(), key=lambda item: (item[0][0], MEASURES.index(item[0][1]))))


def labels_of(points: list[TrendPoint]) -> list[str]:
    """The distinct sandbox/unknown-target labels among `points` (empty: every run was on a configured target)."""
    return sorted({p.label for p in points if p.label})
