"""`reports/junit.xml`: the drill's verdicts in the one format every CI reads.

One `<testcase>` per scenario (classname = its feature file), so a CI's test tab
shows a breached RTO as a failed test whose message names the breach. Rendered
from the same ScenarioRecords as `drill-results.json`, and every value goes
through the same redaction, so no secret reaches a CI's test report.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from harness.evidence.label import evidence_label, labelled
from harness.evidence.record import ScenarioRecord, Verdict
from harness.evidence.tables import target_rows
from harness.redaction import Redactor


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _duration_s(record: ScenarioRecord) -> float:
    """Seconds from the scenario's start to its end (0 when either is unknown)."""
    if not record.started_at or not record.ended_at:
        return 0.0
    try:
        seconds = (datetime.fromisoformat(record.ended_at) - datetime.fromisoformat(record.started_at)).total_seconds()
    except ValueError:
        return 0.0
    return max(seconds, 0.0)


def _missed_targets(record: ScenarioRecord) -> list[str]:
    """One line per measurement that missed its target: name, measured, target."""
    return [f"{row.name}: measured {row.measured:.3f}s vs target {row.target:.0f}s ({row.verdict})"
            for row in target_rows(record.measurements)
            if row.met is False and row.measured is not None and row.target is not None]


def _add_properties(case: ET.Element, record: ScenarioRecord, target: str, clean: Redactor) -> None:
    properties = ET.SubElement(case, "properties")
    values = [("verdict", record.verdict.value), ("target", target)]
    for m in record.measurements:
        values.append((str(m.get("name", "")), f"{m.get('measured_s')}s / {m.get('target_s')}s"))
    for name, value in values:
        ET.SubElement(properties, "property", name=clean.text(name), value=clean.text(value))


def _add_outcome(case: ET.Element, record: ScenarioRecord, clean: Redactor) -> None:
    """PASS adds nothing; FAIL/INVALID a <failure>, ERROR an <error>, with the reason as the message."""
    if record.verdict is Verdict.PASS:
        return
    tag = "error" if record.verdict is Verdict.ERROR else "failure"
    reason = record.reason or f"{record.verdict.value} without a recorded reason"
    outcome = ET.SubElement(case, tag, message=clean.text(_one_line(reason)), type=record.verdict.value)
    body = [*_missed_targets(record)]
    if _one_line(reason) != reason.strip():
        body.append(reason.strip())  # a multi-line reason, whole
    if body:
        outcome.text = clean.text("\n".join(body))


def render_junit(records: Sequence[ScenarioRecord], *, meta: Mapping[str, Any]) -> str:
    """The run as JUnit XML: one testsuite, one testcase per scenario run or not run (`meta["not_run"]`)."""
    clean = Redactor.from_env()
    target = str(meta.get("target") or "unknown target")
    not_run: list[Mapping[str, Any]] = list(meta.get("not_run") or [])
    failures = sum(r.verdict in (Verdict.FAIL, Verdict.INVALID) for r in records)
    errors = sum(r.verdict is Verdict.ERROR for r in records)
    durations = [_duration_s(r) for r in records]
    suite = ET.Element("testsuite", {
        "name": clean.text(labelled(f"sentinel-drill {target}", evidence_label(meta.get("target")))),
        "tests": str(len(records) + len(not_run)),
        "failures": str(failures),
        "errors": str(errors),
        "skipped": str(len(not_run)),
        "time": f"{sum(durations):.3f}",
        "timestamp": clean.text(str(meta.get("started_at") or "")),
    })
    for record, seconds in zip(records, durations, strict=True):
        case = ET.SubElement(suite, "testcase", classname=clean.text(record.feature),
                             name=clean.text(record.name), time=f"{seconds:.3f}")
        _add_properties(case, record, target, clean)
        _add_outcome(case, record, clean)
    for skipped in not_run:
        case = ET.SubElement(suite, "testcase", classname=clean.text(str(skipped.get("feature", ""))),
                             name=clean.text(str(skipped.get("name", ""))), time="0.000")
        ET.SubElement(case, "skipped", message=clean.text(_one_line(str(skipped.get("reason", "")))))
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"
