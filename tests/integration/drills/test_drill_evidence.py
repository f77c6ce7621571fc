"""A real drill run becomes an Allure report listing every scenario with its evidence, and leaks no secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.evidence.report import build_report

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]


def test_the_report_of_a_drill_run_lists_every_scenario_with_its_attachments(all_drills, tmp_path: Path):
    run, _ = all_drills
    info = build_report(run.allure_dir, tmp_path / "report", single_file=False, kept_history=tmp_path / "history")

    cases = [json.loads(p.read_text()) for p in (tmp_path / "report" / "data" / "test-cases").glob("*.json")]
    not_run = {s["name"] for s in run.results["meta"]["not_run"]}  # listed with their reason, no verdict
    assert {c["name"] for c in cases} == set(run.verdicts()) | not_run
    for case in cases:
        if case["name"] in not_run:  # shown skipped, with the reason
            assert case["status"] == "skipped" and "kwok" in (case.get("statusMessage") or ""), case
            continue
        names = {a["name"] for a in (case.get("testStage") or {}).get("attachments", [])}
        assert "RTO/RPO vs targets" in names and "effective configuration (redacted)" in names, (case["name"], names)
    assert info.results == len(cases)


def test_no_sandbox_secret_reaches_the_reports(all_drills):
    run, secrets = all_drills
    reports = run.allure_dir.parent
    leaks = [(str(p), s[:4]) for p in reports.rglob("*") if p.is_file()
             for s in secrets if s and s.encode() in p.read_bytes()]
    assert secrets[0] != secrets[1]  # the scenario-4 rotation really changed it
    assert not leaks
