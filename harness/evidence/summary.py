"""`summary.md`: the page an auditor reads first, rendered only from `run.json`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.evidence.label import labelled
from harness.evidence.tables import fmt_seconds, phase_rows, target_rows


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ") if value not in (None, "") else "—"


def _contacts(contacts: Any) -> list[str]:
    """The runbook's contacts table (Backup Owner, DR Coordinator, ...); nothing for bundles made without one."""
    if not contacts:
        return []
    lines = ["## Contacts", "", "| role | responsibility | contact |", "|---|---|---|"]
    lines += [f"| {_cell(c.get('role'))} | {_cell(c.get('responsibility'))} | {_cell(c.get('contact'))} |"
              for c in contacts]
    return [*lines, ""]


def render_summary(run: Mapping[str, Any]) -> str:
    """One header with provenance and contacts, then one section per scenario with targets, phases and controls."""
    prev = run.get("previous") or {}
    # from run.json, not derived here: a bundle made before labels existed must re-render as it was written
    label = run.get("label")
    verdict = run.get("verdict")
    lines = [
        labelled(f"# DR drill evidence — run {run.get('run_id')}", label),
        "",
        f"**{labelled(f'Overall verdict: {verdict}', label)}**",
        "",
        "| | |",
        "|---|---|",
        (f"| Target | {_cell(run.get('target'))} (context {_cell(run.get('context'))}, "
         f"namespace {_cell(run.get('namespace'))}) |"),
        f"| Started (UTC) | {_cell(run.get('started_at'))} |",
        f"| Ended (UTC) | {_cell(run.get('ended_at'))} |",
        f"| Operator | {_cell(run.get('operator'))} on {_cell(run.get('host'))} |",
        f"| Git commit | {_cell(run.get('git_sha'))}{' (modified work tree)' if run.get('git_dirty') else ''} |",
        f"| Config sha256 | {_cell(run.get('config_sha256'))} |",
        f"| Previous bundle | {_cell(prev.get('run_id'))} (SHA256SUMS sha256 {_cell(prev.get('sha256'))}) |",
        f"| Secrets redacted | {sum(r.get('count', 0) for r in run.get('redactions', []))} occurrence(s) |",
        "",
    ]
    lines += _contacts(run.get("contacts"))
    for scenario in run.get("scenarios", []):
        lines += [
            f"## {scenario.get('name')} — {scenario.get('verdict')}",
            "",
            f"Feature: {_cell(scenario.get('feature'))} · tags: {_cell(', '.join(scenario.get('tags', [])))}",
            f"Started {_cell(scenario.get('started_at'))} · ended {_cell(scenario.get('ended_at'))}",
            "",
        ]
        if scenario.get("reason"):
            lines += [f"Reason: {_cell(scenario['reason'])}", ""]
        lines += ["| measure | target (s) | measured (s) | margin (s) | verdict |", "|---|---:|---:|---:|---|"]
        for row in target_rows(scenario.get("measurements", [])):
            lines.append(f"| {row.name} | {fmt_seconds(row.target)} | {fmt_seconds(row.measured)} | "
                         f"{fmt_seconds(row.margin)} | {row.verdict} |")
        phases = phase_rows(scenario.get("timeline"))
        if phases:
            lines += ["", "| phase | seconds |", "|---|---:|"]
            lines += [f"| {_cell(name)} | {seconds:.3f} |" for name, seconds in phases]
        lines += _coverage_lines((scenario.get("details") or {}).get("coverage"))
        availability = scenario.get("availability") or {}
        if "availability" in availability:
            lines += ["", (f"Availability {availability['availability']} · longest outage "
                           f"{availability.get('longest_outage_s')} s · probe interval "
                           f"{availability.get('interval_s')} s")]
        lines += ["", f"Controls: {_cell(', '.join(scenario.get('controls', [])))}", ""]
        if scenario.get("files"):
            lines += ["Files: " + ", ".join(f"`{f}`" for f in scenario["files"]), ""]
    return "\n".join(lines)


def _coverage_lines(row: Mapping[str, Any] | None) -> list[str]:
    """A backup-coverage row: what is backed up, what was checked, every problem, what cannot be checked here."""
    if not row:
        return []
    lines = ["", f"Backup coverage — **{_cell(row.get('component'))}: {_cell(row.get('verdict'))}**", "",
             f"- backed up: {_cell(row.get('backed_up'))}", f"- checked: {_cell(row.get('summary'))}"]
    lines += [f"- problem: {_cell(p)}" for p in row.get("problems", [])]
    lines += [f"- not checkable from here: {_cell(n)}" for n in row.get("not_checked", [])]
    return lines
