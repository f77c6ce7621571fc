"""The failed-drill notification: a JSON summary of the run's records, posted to a webhook.

Built from `drill-results.json` (the records every report is rendered from),
so the message cannot disagree with the evidence: the run's verdict, each
scenario's verdict and reason, every breached target with measured vs target,
where the report is, and the runbook's Backup Owner and DR Coordinator. The
`text` field is one readable message, so a Slack incoming webhook shows it
as it is. Delivery (webhook.py: https, no redirect, no metadata address) never
raises: a webhook that is down or refused must not turn a drill result into a
harness error.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.config import Contact, Settings
from harness.evidence.bundle import overall_verdict
from harness.evidence.record import ScenarioRecord, Verdict, read_records
from harness.evidence.tables import target_rows
from harness.evidence.webhook import NotifyResult, Resolver, post_json, resolve_once
from harness.redaction import Redactor

SCHEMA = "sentinel-drill/notification/v1"
#: the roles the notification (and the evidence) name
NAMED_ROLES = ("Backup Owner", "DR Coordinator")
#: coarse file-system clocks: a records file written this long before the run's start still counts as its own
MTIME_SLACK_S = 2.0


def should_notify(verdict: str) -> bool:
    """True for a run worth waking someone for: FAIL, INVALID or ERROR; a PASS posts nothing."""
    return verdict != Verdict.PASS.value


def breaches(records: Sequence[ScenarioRecord]) -> list[dict[str, Any]]:
    """Every enforced target a scenario missed, with measured and target values."""
    found: list[dict[str, Any]] = []
    for record in records:
        for row in target_rows(record.measurements):
            if row.met is False and row.enforced:
                found.append({"scenario": record.name, "measure": row.name, "measured": row.measured,
                              "target": row.target, "unit": row.unit})
    return found


def named_contacts(contacts: Sequence[Contact | Mapping[str, Any]]) -> list[dict[str, str]]:
    """The Backup Owner and DR Coordinator rows of the contacts table (those it has), in that order."""
    rows = [c.model_dump() if isinstance(c, Contact) else dict(c) for c in contacts]
    by_role = {str(r.get("role", "")).casefold(): r for r in rows}
    return [{k: str(v) for k, v in by_role[role.casefold()].items()} for role in NAMED_ROLES
            if role.casefold() in by_role]


def _fmt(value: float | None, unit: str) -> str:
    return "—" if value is None else f"{value:.1f}{unit}"


def render_text(summary: Mapping[str, Any]) -> str:
    """The Slack-readable message: headline, one line per scenario, breaches, report, contacts."""
    lines = [f"DR drill {summary['selection']} on target {summary['target']}: {summary['verdict']}"]
    if summary.get("reason"):
        lines.append(str(summary["reason"]))
    for scenario in summary["scenarios"]:
        reason = f": {scenario['reason']}" if scenario.get("reason") else ""
        lines.append(f"• {scenario['verdict']} — {scenario['name']}{reason}")
    for b in summary["breaches"]:
        lines.append(f"  breach: {b['measure']} ({b['scenario']}) measured {_fmt(b['measured'], b['unit'])} "
                     f"vs target {_fmt(b['target'], b['unit'])}")
    lines.append(f"Report: {summary['report']}")
    if summary.get("run_url"):
        lines.append(f"Run: {summary['run_url']}")
    contacts = " · ".join(f"{c['role']}: {c['contact']}" for c in summary["contacts"])
    lines.append(f"Contacts: {contacts or 'none configured (contacts setting)'}")
    return "\n".join(lines)


def build_summary(
    records: Sequence[ScenarioRecord],
    *,
    meta: Mapping[str, Any],
    selection: str,
    target: str,
    contacts: Sequence[Contact | Mapping[str, Any]],
    report: str,
    run_url: str | None = None,
    reason: str = "",
) -> dict[str, Any]:
    """The JSON summary of a run; with no records (the run errored or was interrupted) its verdict is ERROR.

    `reason` explains a verdict the records do not carry (why there are none,
    or why a run of PASS records still ended in error): it makes the run ERROR.
    """
    verdict = overall_verdict([r.verdict.value for r in records])
    if reason and verdict == Verdict.PASS.value:
        verdict = Verdict.ERROR.value
    summary: dict[str, Any] = {
        "schema": SCHEMA,
        "verdict": verdict,
        "reason": reason,
        "selection": selection,
        "target": str(meta.get("target") or target),
        "started_at": meta.get("started_at"),
        "ended_at": meta.get("ended_at"),
        "scenarios": [{"name": r.name, "feature": r.feature, "verdict": r.verdict.value, "reason": r.reason}
                      for r in records],
        "breaches": breaches(records),
        "not_run": list(meta.get("not_run") or []),
        "report": report,
        "run_url": run_url,
        "contacts": named_contacts(contacts),
    }
    summary["text"] = render_text(summary)
    return dict(Redactor.from_env().data(summary))


def _why_the_records_fall_short(records: Sequence[ScenarioRecord], *, exit_code: int, interrupted: bool) -> str:
    """Why the run is ERROR beyond what its records say ("" when the records tell the whole story)."""
    if interrupted:
        return "the drill was interrupted (Ctrl-C or SIGTERM); scenarios after that point did not run"
    if exit_code != 0 and not records:
        return f"the drill ended (pytest exit code {exit_code}) before any scenario recorded a verdict"
    if exit_code != 0 and all(r.verdict is Verdict.PASS for r in records):
        return f"pytest exited with code {exit_code} although every recorded scenario passed"
    return ""


def summarize_run(
    records_file: Path,
    *,
    since: float,
    exit_code: int,
    interrupted: bool,
    selection: str,
    settings: Settings,
    report: str,
    run_url: str | None = None,
) -> dict[str, Any] | None:
    """The summary to post after a drill, or None when every scenario passed (or none ran, cleanly).

    Records older than `since` (a wall-clock start) belong to an earlier run
    and are ignored: a run that wrote none errored or was interrupted, and is
    reported as ERROR with why.
    """
    meta: dict[str, Any] = {}
    records: list[ScenarioRecord] = []
    reason = ""
    try:
        if records_file.is_file() and records_file.stat().st_mtime >= since - MTIME_SLACK_S:
            meta, records = read_records(records_file)
    except (OSError, ValueError, TypeError) as exc:
        reason = f"the run's records {records_file} cannot be read ({exc.__class__.__name__})"
    reason = reason or _why_the_records_fall_short(records, exit_code=exit_code, interrupted=interrupted)
    if not records and not reason:
        return None
    summary = build_summary(records, meta=meta, selection=selection, target=settings.target,
                            contacts=settings.contacts, report=report, run_url=run_url, reason=reason)
    return summary if should_notify(summary["verdict"]) else None


def post_notification(url: str, payload: Mapping[str, Any], *, timeout: float = 10.0,
                      resolve: Resolver = resolve_once, tls: ssl.SSLContext | None = None) -> NotifyResult:
    """POST `payload` as JSON to `url` (https, no redirect, no metadata address: webhook.py); never raises."""
    return post_json(url, json.dumps(payload, default=str).encode("utf-8"), timeout=timeout, resolve=resolve,
                     tls=tls)
