"""A sandbox run says so wherever an auditor reads a title or a verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.evidence import integrity
from harness.evidence.allure_results import write_results_metadata
from harness.evidence.bundle import build_bundle
from harness.evidence.label import SANDBOX_LABEL, UNKNOWN_TARGET_LABEL, evidence_label, labelled
from harness.evidence.record import read_records
from harness.evidence.report import REPORT_NAME, report_name, results_target
from harness.evidence.summary import render_summary
from harness.evidence.verify import verify_bundle
from tests.unit.test_evidence_bundle import drill_results

SANDBOX = "SANDBOX — not evidence of production recovery"


@pytest.mark.parametrize(("target", "expected"), [
    ("sandbox", SANDBOX), ("Sandbox ", SANDBOX), (None, UNKNOWN_TARGET_LABEL), ("", UNKNOWN_TARGET_LABEL),
    ("unknown", UNKNOWN_TARGET_LABEL), ("production", None), ("staging", None),
])
def test_only_a_configured_target_goes_unlabelled(target: str | None, expected: str | None) -> None:
    assert SANDBOX_LABEL == SANDBOX
    assert evidence_label(target) == expected


def test_a_sandbox_bundle_says_so_in_its_title_verdict_line_and_run_json(tmp_path: Path) -> None:
    bundle = build_bundle(drill_results(tmp_path), out_root=tmp_path / "ev", meta={"run_id": "run-1"}, env={})
    run = json.loads((bundle / "run.json").read_text())
    assert run["target"] == "sandbox" and run["label"] == SANDBOX
    lines = (bundle / "summary.md").read_text().splitlines()
    assert lines[0] == f"# DR drill evidence — run run-1 — {SANDBOX}"
    assert lines[2] == f"**Overall verdict: FAIL — {SANDBOX}**"
    assert verify_bundle(bundle, env={}).ok


def test_a_bundle_from_a_configured_target_carries_no_label(tmp_path: Path) -> None:
    meta, records = read_records(drill_results(tmp_path))
    bundle = build_bundle(records, out_root=tmp_path / "ev", meta={**meta, "target": "production", "run_id": "p-1"},
                          env={})
    run = json.loads((bundle / "run.json").read_text())
    assert run["label"] is None
    summary = (bundle / "summary.md").read_text()
    assert summary.startswith("# DR drill evidence — run p-1\n") and "**Overall verdict: FAIL**" in summary
    assert "not evidence of production recovery" not in summary
    assert verify_bundle(bundle, env={}).ok


def test_stripping_the_label_is_caught_even_with_everything_re_rendered(tmp_path: Path) -> None:
    bundle = build_bundle(drill_results(tmp_path), out_root=tmp_path / "ev", meta={"run_id": "run-1"}, env={})
    run = json.loads((bundle / "run.json").read_text())
    run["label"] = None
    (bundle / "run.json").write_text(json.dumps(run, indent=2, sort_keys=True) + "\n")
    (bundle / "summary.md").write_text(render_summary(run))
    (bundle / integrity.SUMS).write_text(integrity.render_sums(bundle))
    problems = list(verify_bundle(bundle, env={}).problems)
    assert problems == [f"run.json: label None is not the one target 'sandbox' carries ({SANDBOX!r})"]


def test_a_bundle_made_before_labels_existed_still_verifies(tmp_path: Path) -> None:
    bundle = build_bundle(drill_results(tmp_path), out_root=tmp_path / "ev", meta={"run_id": "old"}, env={})
    run = json.loads((bundle / "run.json").read_text())
    del run["label"]
    (bundle / "run.json").write_text(json.dumps(run, indent=2, sort_keys=True) + "\n")
    (bundle / "summary.md").write_text(render_summary(run))
    (bundle / integrity.SUMS).write_text(integrity.render_sums(bundle))
    assert (bundle / "summary.md").read_text().startswith("# DR drill evidence — run old\n")
    assert verify_bundle(bundle, env={}).ok


def test_the_allure_report_title_comes_from_the_results_target(tmp_path: Path) -> None:
    results = tmp_path / "results"
    assert report_name(results) == labelled(REPORT_NAME, UNKNOWN_TARGET_LABEL)
    written = write_results_metadata(results, settings_redacted={}, versions={}, git_sha="abc", target="sandbox",
                                     context="kwok", namespace="sentinel", env={})
    assert results_target(results) == "sandbox"
    assert report_name(results) == f"{REPORT_NAME} — {SANDBOX}"
    assert "label=SANDBOX \\u2014 not evidence" in written.environment.read_text()
    assert json.loads(written.executor.read_text())["reportName"] == f"sentinel-drill — sandbox — {SANDBOX}"
    write_results_metadata(results, settings_redacted={}, versions={}, git_sha="abc", target="prod=eu west",
                           context="prod", namespace="sentinel", env={})
    assert results_target(results) == "prod=eu west" and report_name(results) == REPORT_NAME
