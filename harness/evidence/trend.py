"""RTO and RPO over drills: one page drawn from the chain of evidence bundles.

Allure's own trend graphs show pass rate and durations; the measured RTO and RPO
live in each bundle's run.json, so the trend is read from there — the same
figures the auditor can verify with `evidence verify`. The charts (charts.py)
are inlined as SVG, so the page is one self-contained file.
"""

from __future__ import annotations

import html
from pathlib import Path

from harness.evidence.charts import measure_chart
from harness.evidence.label import labelled
from harness.evidence.trend_data import MEASURES, TrendPoint, labels_of, series_by_scenario, trend_points

__all__ = ["MEASURES", "TrendPoint", "render_trend_html", "trend_points", "write_trend"]

PAGE_TITLE = "RTO and RPO over drills"


def _inline_svg(svg: bytes) -> str:
    """The SVG element alone (no XML prolog or doctype), to sit inside the HTML."""
    text = svg.decode()
    return text[text.index("<svg"):]


def render_trend_html(points: list[TrendPoint]) -> str:
    """A self-contained page: a chart per scenario and measure, and the table behind it."""
    labels = labels_of(points)
    title = labelled(PAGE_TITLE, "; ".join(labels) or None)
    parts = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>",
             ("<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;text-align:right}"
              "td:first-child,th:first-child{text-align:left}.label{color:#b35900;font-weight:bold}"
              "svg{max-width:100%;height:auto}</style>"),
             f"<h1>{html.escape(title)}</h1>"]
    parts += [f"<p class='label'>{html.escape(label)}: at least one run below was not on a configured "
              "production target.</p>" for label in labels]
    parts.append(f"<p>{len({p.run_id for p in points})} run(s) from the evidence bundles. Dashed red line: the "
                 "target; bars: the recovery phases of each run; a red cross: a breach.</p>")
    for (case, measure), items in series_by_scenario(points).items():
        heading = labelled(f"{measure} — {case} (target {items[-1].target_s:g} s)",
                           "; ".join(labels_of(items)) or None)
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.append(_inline_svg(measure_chart(items, "svg")))
        parts.append("<table><tr><th>run</th><th>measured (s)</th><th>target (s)</th><th>verdict</th></tr>")
        parts += [f"<tr><td>{html.escape(p.run_id)}</td><td>{p.measured_s:.3f}</td><td>{p.target_s:g}</td>"
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
