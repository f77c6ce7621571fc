"""Allure results for a drill: per-scenario attachments and labels, run metadata, categories.

`attach_scenario` runs inside a pytest-bdd scenario (allure-pytest-bdd active)
and turns a `ScenarioRecord` into attachments an auditor can open from the
report. `write_results_metadata` writes the files Allure reads beside the
results: `environment.properties`, `executor.json` and `categories.json`, whose
regexes sort failures into RTO/RPO breach, invalid backup, unconfirmed fault
and harness error by the messages the drill raises.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import allure

from harness.evidence.label import evidence_label, labelled
from harness.evidence.naming import github_anchor, scenario_key
from harness.evidence.record import ScenarioRecord
from harness.evidence.tables import measurement, target_rows, targets_html, timeline_text
from harness.redaction import Redactor

log = logging.getLogger(__name__)

#: where the runbook lives; override with DRILL_RUNBOOK_URL (e.g. your wiki page)
RUNBOOK_URL = "runbook://sentinel-backup-and-dr"
RUNBOOK_URL_ENV = "DRILL_RUNBOOK_URL"

#: scenario tag → the runbook heading it automates (anchors are GitHub's heading slugs)
RUNBOOK_SECTIONS: dict[str, str] = {
    "scenario-1": "Scenario 1: Single Pod Failure",
    "scenario-2": "Scenario 2: Zone Failure",
    "scenario-3": "Scenario 3: Complete Cluster Loss",
    "scenario-4": "Scenario 4: Ransomware/Compromise",
    "monthly": "Monthly DR Drill",
    "daily": "Backup Verification",
}
CRITICAL_SCENARIOS = frozenset({"scenario-3", "scenario-4"})

_BREACH_STATUSES = ["failed", "broken"]
#: names of the drill's expected failures; anything else broken is a harness error
_KNOWN_FAILURES = (r"TargetMissed|VerificationFailed|FaultNotConfirmed|RestoreRefused|PipelineBackupUnfit"
                   r"|BREACHED|INVALID")

#: Allure categories; each regex is matched (Java, whole message) against the failure message
CATEGORIES: list[dict[str, Any]] = [
    {
        "name": "RTO breach",
        "description": "Recovery took longer than the RTO target (TargetMissed: RTO ... BREACHED).",
        "messageRegex": r"(?s).*\bRTO\b.*\bBREACHED\b.*",
        "matchedStatuses": _BREACH_STATUSES,
    },
    {
        "name": "RPO breach",
        "description": "More data was lost than the RPO target allows (TargetMissed: RPO ... BREACHED).",
        "messageRegex": r"(?s).*\bRPO\b.*\bBREACHED\b.*",
        "matchedStatuses": _BREACH_STATUSES,
    },
    {
        "name": "Other target missed",
        "description": "A target other than RTO/RPO (availability floor, key-count tolerance) was missed.",
        "messageRegex": r"(?s)(?!.*\bR[TP]O\b.*\bBREACHED\b).*\bTargetMissed\b.*",
        "matchedStatuses": _BREACH_STATUSES,
    },
    {
        "name": "Backup invalid",
        "description": "A backup failed a verification level (checksum, redis-check-rdb, load, keys, canary).",
        "messageRegex": r"(?s).*\bVerificationFailed\b.*",
        "matchedStatuses": _BREACH_STATUSES,
    },
    {
        "name": "Backup stale",
        "description": "The backup pipeline's newest backup was missing, older than the RPO or not object-locked "
                       "where the store locks: the drill was refused before any fault.",
        "messageRegex": r"(?s).*\bPipelineBackupUnfit\b.*",
        "matchedStatuses": _BREACH_STATUSES,
    },
    {
        "name": "Restore refused",
        "description": "A restore was refused to protect data (unverified backup or non-empty target).",
        "messageRegex": r"(?s).*\bRestoreRefused\b.*",
        "matchedStatuses": _BREACH_STATUSES,
    },
    {
        "name": "Fault not confirmed (INVALID)",
        "description": "The injected fault was never observed, so the drill proves nothing: INVALID, not PASS.",
        "messageRegex": r"(?s).*(?:\bFaultNotConfirmed\b|\bINVALID\b).*",
        "matchedStatuses": _BREACH_STATUSES,
    },
    {
        "name": "Harness error",
        "description": "The harness itself failed (not a finding about SENTINEL): fix the harness or target.",
        "messageRegex": rf"(?s)(?!.*\b(?:{_KNOWN_FAILURES})\b).*",
        "matchedStatuses": ["broken"],
    },
]


def runbook_link(key: str | None, *, base: str | None = None) -> tuple[str, str] | None:
    """(url, name) of the runbook section for a scenario tag, or None if it has none."""
    if key not in RUNBOOK_SECTIONS:
        return None
    heading = RUNBOOK_SECTIONS[key]
    base = base or os.environ.get(RUNBOOK_URL_ENV) or RUNBOOK_URL
    return f"{base}#{github_anchor(heading)}", f"Runbook: {heading}"


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)


def attach_scenario(
    record: ScenarioRecord,
    *,
    journals: Sequence[Path | str],
    config: Mapping[str, Any],
    scrubber: Redactor | None = None,
    runbook_url: str | None = None,
) -> None:
    """Attach a scenario's evidence to the running Allure test and label it.

    Call after the scenario's last step (e.g. from `pytest_bdd_after_scenario`).
    Every text is scrubbed of secrets first. Attaches: the chaostoolkit journals,
    the recovery timeline (JSON + table), RTO/RPO vs targets (HTML), the backup
    verification report, the scenario record and the redacted configuration.
    Labels: severity, one tag and one `control` label per control, a runbook
    link, and measured RTO/RPO as parameters excluded from the history id.
    """
    scrubber = scrubber or Redactor.from_env()

    def attach(text: str, name: str, kind: Any) -> None:
        clean, hits = scrubber.scrub_text(text)
        if hits:
            log.warning("redacted %d secret occurrence(s) from attachment %r", hits, name)
        allure.attach(clean, name=name, attachment_type=kind)

    data = record.to_json()  # the raw observations are the bundle's (JSON Lines); here only how many
    data["observations"] = {stream: len(lines) for stream, lines in record.observations.items()}
    for path in journals:
        path = Path(path)
        if path.is_file():
            attach(path.read_text(errors="replace"), f"chaostoolkit journal: {path.name}", allure.attachment_type.JSON)
        else:
            attach(f"journal {path} was not written\n", f"chaostoolkit journal missing: {path.name}",
                   allure.attachment_type.TEXT)
    if record.timeline:
        attach(timeline_text(record.timeline), "recovery timeline", allure.attachment_type.TEXT)
        attach(_json(record.timeline), "recovery timeline (JSON)", allure.attachment_type.JSON)
    rows = target_rows(record.measurements)
    attach(targets_html(rows, scenario=record.name, verdict=record.verdict.value), "RTO/RPO vs targets",
           allure.attachment_type.HTML)
    if record.verification:
        attach(_json(record.verification), "backup verification report", allure.attachment_type.JSON)
    attach(_json(data), "scenario record", allure.attachment_type.JSON)
    attach(_json(dict(config)), "effective configuration (redacted)", allure.attachment_type.JSON)

    key = scenario_key(record.tags)
    allure.dynamic.severity(
        allure.severity_level.CRITICAL if key in CRITICAL_SCENARIOS else allure.severity_level.NORMAL
    )
    for control in record.controls:
        allure.dynamic.tag(control)
        allure.dynamic.label("control", control)
    link = runbook_link(key, base=runbook_url)
    if link:
        allure.dynamic.link(link[0], name=link[1])
    allure.dynamic.parameter("verdict", record.verdict.value, excluded=True)
    for name in ("RTO", "RPO"):
        row = measurement(record.measurements, name)
        if row is not None and row.measured is not None:
            allure.dynamic.parameter(f"measured {name} (s)", round(row.measured, 3), excluded=True)
            allure.dynamic.parameter(f"{name} target (s)", row.target, excluded=True)


@dataclass(frozen=True)
class ResultsMetadata:
    """The three files written beside the Allure results."""

    environment: Path
    executor: Path
    categories: Path


def _escape_properties(text: str, *, key: bool) -> str:
    """Java .properties escaping (read as ISO-8859-1: everything else as \\uXXXX)."""
    out = []
    for i, ch in enumerate(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif key and ch in " =:#!":
            out.append("\\" + ch)
        elif not key and i == 0 and ch == " ":
            out.append("\\ ")
        elif ord(ch) < 0x20 or ord(ch) > 0x7E:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def environment_properties(values: Mapping[str, Any]) -> str:
    """Render `environment.properties`, skipping empty values."""
    lines = [
        f"{_escape_properties(k, key=True)}={_escape_properties(str(v), key=False)}"
        for k, v in values.items()
        if v not in (None, "")
    ]
    return "\n".join(lines) + "\n"


def executor_info(env: Mapping[str, str], *, git_sha: str, target: str) -> dict[str, Any]:
    """`executor.json`: the CI run that produced the results (GitHub Actions) or this host."""
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_RUN_ID"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        run_url = f"{server}/{env.get('GITHUB_REPOSITORY', '')}/actions/runs/{env['GITHUB_RUN_ID']}"
        number = env.get("GITHUB_RUN_NUMBER", "")
        info: dict[str, Any] = {
            "name": "GitHub Actions",
            "type": "github",
            "url": server,
            "buildName": f"{env.get('GITHUB_WORKFLOW', 'drill')} #{number}",
            "buildUrl": run_url,
            "reportName": labelled(f"sentinel-drill — {target}", evidence_label(target)),
        }
        if number.isdigit():
            info["buildOrder"] = int(number)
        return info
    return {
        "name": f"sentinel-drill on {socket.gethostname()}",
        "type": "local",
        "buildName": f"{target} drill at {git_sha[:12] or 'unknown commit'}",
        "reportName": labelled(f"sentinel-drill — {target}", evidence_label(target)),
    }


def write_results_metadata(
    results_dir: Path,
    *,
    settings_redacted: Mapping[str, Any],
    versions: Mapping[str, str],
    git_sha: str,
    target: str,
    context: str | None,
    namespace: str,
    env: Mapping[str, str] | None = None,
    scrubber: Redactor | None = None,
) -> ResultsMetadata:
    """Write environment.properties, executor.json and categories.json into `results_dir`.

    Call once per session after the results exist (e.g. `pytest_sessionfinish`),
    so `--clean-alluredir` cannot remove them.
    """
    env = os.environ if env is None else env
    scrubber = scrubber or Redactor.from_env(env=env)
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    values: dict[str, Any] = {
        "target": target,
        "label": evidence_label(target),
        "kubernetes.context": context,
        "namespace": namespace,
        "git.sha": git_sha,
        "rto.target.seconds": settings_redacted.get("rto_seconds"),
        "rpo.target.seconds": settings_redacted.get("rpo_seconds"),
        "redis.url": settings_redacted.get("redis_url"),
        "store.url": settings_redacted.get("store_url"),
        "python.version": platform.python_version(),
    }
    values.update({f"{name}.version": version for name, version in sorted(versions.items())})
    written = ResultsMetadata(
        results_dir / "environment.properties", results_dir / "executor.json", results_dir / "categories.json"
    )
    texts = {
        written.environment: environment_properties(values),
        written.executor: _json(executor_info(env, git_sha=git_sha, target=target)),
        written.categories: json.dumps(CATEGORIES, indent=2),
    }
    for path, text in texts.items():
        path.write_text(scrubber.scrub_text(text)[0])
    return written
