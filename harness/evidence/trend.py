"""RTO and RPO over drills: one page drawn from the chain of evidence bundles.

Allure's own trend graphs show pass rate and durations; the measured RTO and RPO
live in each bundle's run.json, so the trend is read from there — the same
figures the auditor can verify with `evidence verify`.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

MEASURES = ("RTO", "RPO")


@dataclass(frozen=True)
class TrendPoint:
    run_id: str
    ended_at: str
    case: str
    measure: str
    measured_s: float
    target_s: float
    met: bool


def trend_points(evidence_root: Path) -> list[TrendPoint]:
    """Every RTO/RPO measurement of every bundle under `evidence_root`, oldest run first."""
    points: list[TrendPoint] = []
    for run_json in sorted(evidence_root.glob("*/run.json")):
        run = json.loads(run_json.read_text())
        for scenario in run.get("scenarios", []):
            for m in scenario.get("measurements", []):
                if m.get("name") in MEASURES:
                    points.append(TrendPoint(run["run_id"], str(run.get("ended_at", "")), scenario.get("case", "?"),
                                             m["name"], float(m["measured_s"]), float(m["target_s"]), bool(m["met"])))
    return points


def _svg(series: list[TrendPoint], width: int = 420, height: int = 120) -> str:
    top = max(max(p.measured_s for p in series), 1e-9)
    step = width / max(len(series) - 1, 1)
    coords = [(i * step, height - (p.measured_s / top) * (height - 10) - 5) for i, p in enumerate(series)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{"#2a2" if p.met else "#c22"}">'
                   f"<title>{html.escape(p.run_id)}: {p.measured_s:.3f}s</title></circle>"
                   for (x, y), p in zip(coords, series))
    return (f'<svg width="{width + 10}" height="{height}" viewBox="-5 0 {width + 10} {height}">'
            f'<polyline points="{line}" fill="none" stroke="#36c" stroke-width="2"/>{dots}</svg>')


def render_trend_html(points: list[TrendPoint]) -> str:
    """A self-contained page: a line per scenario and measure, and the table behind it."""
    series: dict[tuple[str, str], list[TrendPoint]] = {}
    for p in points:
        series.setdefault((p.case, p.measure), []).append(p)
    parts = ["<!doctype html><meta charset='utf-8'><title>RTO/RPO over drills</title>",
             ("<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:right}"
              "td:first-child,th:first-child{text-align:left}</style>"),
             "<h1>RTO and RPO over drills</h1>",
             f"<p>{len({p.run_id for p in points})} run(s) from the evidence bundles. Green: within target.</p>"]
    for (case, measure), items in sorted(series.items()):
        parts.append(f"<h2>{html.escape(measure)} — {html.escape(case)} (target {items[-1].target_s:.0f}s)</h2>")
        parts.append(_svg(items))
        parts.append("<table><tr><th>run</th><th>measured (s)</th><th>target (s)</th><th>verdict</th></tr>")
        parts += [f"<tr><td>{html.escape(p.run_id)}</td><td>{p.measured_s:.3f}</td><td>{p.target_s:.0f}</td>"
                  f"<td>{'met' if p.met else 'BREACHED'}</td></tr>" for p in items]
        parts.append("</table>")
    return "\n".join(parts) + "\n"


def write_trend(evidence_root: Path, out: Path) -> int:
    """Write the trend page; return how many runs it covers (0: no bundle yet, nothing written)."""
    points = trend_points(evidence_root)
    if not points:
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_trend_html(points))
    return len({p.run_id for p in points})
