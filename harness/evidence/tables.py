"""Small readable tables rendered from a scenario record's JSON form.

The Allure attachments, `summary.md` and `metrics.prom` all read the same
record JSON through these helpers, so a figure cannot differ between them.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: measurements every scenario report shows first, in this order
HEADLINE = ("RTO", "RPO")
#: the `note` of a measurement shown beside a target without deciding the verdict (the worst backup gap)
REPORTED_ONLY = "reported beside the target, not enforced"


@dataclass(frozen=True)
class TargetRow:
    """One measured value against its target (seconds unless `unit` says otherwise)."""

    name: str
    target: float | None
    measured: float | None
    margin: float | None
    met: bool | None
    unit: str = "s"
    enforced: bool = True

    @property
    def verdict(self) -> str:
        if self.met is None:
            return "not measured"
        if not self.enforced:
            return "within (reported)" if self.met else "over (reported, not enforced)"
        return "met" if self.met else "BREACHED"


def _number(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def target_rows(measurements: Sequence[Mapping[str, Any]]) -> list[TargetRow]:
    """RTO and RPO first (as 'not measured' when absent), then every other measurement."""
    by_name = {str(m.get("name", "")): m for m in measurements}
    rows: list[TargetRow] = []
    names = list(HEADLINE) + [n for n in by_name if n not in HEADLINE]
    for name in names:
        m = by_name.get(name)
        if m is None:
            rows.append(TargetRow(name, None, None, None, None))
            continue
        target, measured = _number(m.get("target_s")), _number(m.get("measured_s"))
        margin = _number(m.get("margin_s"))
        if margin is None and target is not None and measured is not None:
            margin = target - measured
        met = m.get("met")
        if met is None and target is not None and measured is not None:
            met = measured <= target
        rows.append(TargetRow(name, target, measured, margin, None if met is None else bool(met),
                              enforced=m.get("note") != REPORTED_ONLY))
    return rows


def measurement(measurements: Sequence[Mapping[str, Any]], name: str) -> TargetRow | None:
    """The row for `name` if it was measured."""
    for row in target_rows(measurements):
        if row.name == name and row.met is not None:
            return row
    return None


def fmt_seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def targets_csv(rows: list[TargetRow]) -> str:
    """measure,target_s,measured_s,margin_s,verdict — Allure shows CSV as a table."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["measure", "target_s", "measured_s", "margin_s", "verdict"])
    for r in rows:
        writer.writerow([r.name, fmt_seconds(r.target), fmt_seconds(r.measured), fmt_seconds(r.margin), r.verdict])
    return out.getvalue()


def targets_html(rows: list[TargetRow], *, scenario: str, verdict: str) -> str:
    """A self-contained HTML table: target, measured, margin, verdict per measure."""
    colour = {"met": "#1a7f37", "BREACHED": "#cf222e"}
    body = "".join(
        "<tr>"
        f"<td>{html.escape(r.name)}</td><td>{fmt_seconds(r.target)}</td><td>{fmt_seconds(r.measured)}</td>"
        f"<td>{fmt_seconds(r.margin)}</td>"
        f"<td style=\"color:{colour.get(r.verdict, '#57606a')};font-weight:bold\">{html.escape(r.verdict)}</td>"
        "</tr>"
        for r in rows
    )
    return (
        "<!doctype html><html><head><meta charset=\"utf-8\"><style>"
        "body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #d0d7de;padding:4px 10px;text-align:right}td:first-child{text-align:left}"
        "</style></head><body>"
        f"<p><b>{html.escape(scenario)}</b> — verdict <b>{html.escape(verdict)}</b> (seconds)</p>"
        "<table><tr><th>measure</th><th>target</th><th>measured</th><th>margin</th><th>verdict</th></tr>"
        f"{body}</table></body></html>"
    )


def timeline_text(timeline: Mapping[str, Any] | None) -> str:
    """Events with UTC time, seconds since the first event, and the phase that ended there."""
    if not timeline or not timeline.get("events"):
        return "no recovery timeline was recorded\n"
    events = list(timeline["events"])
    phases = {p.get("name"): p for p in timeline.get("phases", [])}
    origin = _number(events[0].get("monotonic")) or 0.0
    width = max(len("event"), *(len(str(e.get("name", ""))) for e in events))
    lines = [f"{'event':<{width}}  {'at (UTC)':<32}  {'since start s':>13}  {'phase s':>9}"]
    for e in events:
        since = (_number(e.get("monotonic")) or origin) - origin
        phase = phases.get(e.get("name"), {}).get("seconds")
        lines.append(
            f"{e.get('name', '')!s:<{width}}  {e.get('at', '')!s:<32}  {since:>13.3f}  "
            f"{fmt_seconds(_number(phase)):>9}"
        )
    if timeline.get("resolution_s") is not None:
        lines.append(f"resolution: ±{timeline['resolution_s']} s (probe interval)")
    return "\n".join(lines) + "\n"


def phase_rows(timeline: Mapping[str, Any] | None) -> list[tuple[str, float]]:
    """(phase name, seconds) in recovery order."""
    if not timeline:
        return []
    return [(str(p.get("name")), _number(p.get("seconds")) or 0.0) for p in timeline.get("phases", [])]
