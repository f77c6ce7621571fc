"""A drill-shaped pytest-bdd run → Allure results → the Allure command line's HTML report.

A tiny synthetic feature runs in a subprocess with allure-pytest-bdd (the parent
runs with the plugin disabled); its conftest calls `attach_scenario` after each
scenario and `write_results_metadata` at the end, exactly as the drill's root
conftest does. The generated report's data must list every scenario with its
attachments, sort failures into the drill's categories, and keep a trend
across two runs. Needs Java 17 and `make allure-cli` (both part of `make setup`).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.errors import ConfigError
from harness.evidence.report import allure_binary, build_report

pytestmark = pytest.mark.integration

SECRET = "planted-Redis-pa55word"

FEATURE = """\
@scenario-3
Feature: Synthetic complete cluster loss
  A stand-in for the real drill: same hooks, same record, no cluster.

  Scenario: Recovery within the targets
    Given a drill record for "Recovery within the targets"
    When the recovery took 41.2 seconds against a target of 900
    Then the drill ends with "pass"

  Scenario: Recovery slower than the RTO
    Given a drill record for "Recovery slower than the RTO"
    When the recovery took 12.3 seconds against a target of 1
    Then the drill ends with "rto breach"

  Scenario: Data loss beyond the RPO
    Given a drill record for "Data loss beyond the RPO"
    When the recovery took 30.0 seconds against a target of 900
    Then the drill ends with "rpo breach"

  Scenario: The backup does not verify
    Given a drill record for "The backup does not verify"
    When the recovery took 30.0 seconds against a target of 900
    Then the drill ends with "backup invalid"

  Scenario: The fault was never observed
    Given a drill record for "The fault was never observed"
    When the recovery took 30.0 seconds against a target of 900
    Then the drill ends with "fault not confirmed"

  Scenario: The harness breaks
    Given a drill record for "The harness breaks"
    When the recovery took 30.0 seconds against a target of 900
    Then the drill ends with "harness error"
"""

CONFTEST = '''\
import json
import os
from pathlib import Path

from pytest_bdd import given, parsers, then, when

from harness.errors import TargetMissed, VerificationFailed
from harness.evidence.allure_results import attach_scenario, write_results_metadata
from harness.evidence.record import ScenarioRecord, Verdict
from harness.measure.clock import Measurement


class FaultNotConfirmed(Exception):
    """Stands in for the drill's own exception of that name."""


@given(parsers.parse('a drill record for "{name}"'), target_fixture="drill_record")
def drill_record(name, tmp_path):
    journal = tmp_path / "experiment.journal.json"
    journal.write_text(json.dumps({"status": "completed", "secrets": {"redis": os.environ["REDIS_PASSWORD"]}}))
    return ScenarioRecord(name=name, feature="Synthetic complete cluster loss", tags=("scenario-3",),
                          artifacts=[str(journal)], verification={"backup_id": "b-1", "checksum": "ok"})


@when(parsers.parse("the recovery took {seconds:g} seconds against a target of {target:g}"))
def recovery(drill_record, seconds, target):
    drill_record.measurements.append(Measurement("RTO", target, seconds).to_json())
    drill_record.measurements.append(Measurement("RPO", 3600.0, 95.0).to_json())
    drill_record.timeline = {"resolution_s": 0.2, "events": [
        {"name": "fault_injected", "at": "2026-01-01T05:00:00+00:00", "monotonic": 0.0},
        {"name": "verified", "at": "2026-01-01T05:00:41+00:00", "monotonic": seconds}],
        "phases": [{"name": "verified", "seconds": seconds}]}


@then(parsers.parse('the drill ends with "{outcome}"'))
def ends_with(drill_record, outcome):
    rto = Measurement("RTO", drill_record.measurements[0]["target_s"], drill_record.measurements[0]["measured_s"])
    failures = {
        "rto breach": TargetMissed(rto.describe()),
        "rpo breach": TargetMissed("RPO measured 5400.0s vs target 3600s: BREACHED by 1800.0s"),
        "backup invalid": VerificationFailed("backup b-1 failed check checksum: sha256 differs"),
        "fault not confirmed": FaultNotConfirmed("INVALID — the brain pods kept their UIDs"),
        "harness error": KeyError("redis_url"),
    }
    if outcome in failures:
        drill_record.verdict = Verdict.ERROR if outcome == "harness error" else Verdict.FAIL
        raise failures[outcome]


def pytest_bdd_after_scenario(request, feature, scenario):
    record = request.getfixturevalue("drill_record")
    attach_scenario(record, journals=[Path(a) for a in record.artifacts],
                    config={"target": "sandbox", "redis_password": "***", "rto_seconds": 900})


def pytest_sessionfinish(session):
    results = session.config.option.allure_report_dir
    if results:
        write_results_metadata(Path(results), settings_redacted={"rto_seconds": 900, "rpo_seconds": 3600},
                               versions={"redis": "7.0.15", "kubernetes": "v1.36.3", "harness": "0.1.0"},
                               git_sha="0123456789abcdef", target="sandbox", context="kwok-sentinel",
                               namespace="sentinel")
'''

TEST_MODULE = 'from pytest_bdd import scenarios\n\nscenarios("drill.feature")\n'
EXPECTED_SCENARIOS = {line.split(":", 1)[1].strip() for line in FEATURE.splitlines() if "Scenario:" in line}
EXPECTED_ATTACHMENTS = {"chaostoolkit journal: experiment.journal.json", "recovery timeline",
                        "recovery timeline (JSON)", "RTO/RPO vs targets", "backup verification report",
                        "scenario record", "effective configuration (redacted)"}


@pytest.fixture(scope="module")
def allure_ready() -> None:
    try:
        allure_binary()
    except ConfigError as exc:
        pytest.skip(f"{exc.one_line()}")


def run_synthetic_drill(project: Path, results: Path) -> None:
    """Run the synthetic feature under allure-pytest-bdd, writing results into `results`."""
    if not project.exists():
        project.mkdir(parents=True)
        (project / "drill.feature").write_text(FEATURE)
        (project / "conftest.py").write_text(CONFTEST)
        (project / "test_drill.py").write_text(TEST_MODULE)
        (project / "pytest.ini").write_text(textwrap.dedent("""\
            [pytest]
            markers =
                scenario-3: synthetic
            """))
    env = {**os.environ, "REDIS_PASSWORD": SECRET, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:allure_pytest",
         f"--alluredir={results}", "--clean-alluredir", "--rootdir", str(project), str(project)],
        cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    # one scenario passes and five fail on purpose: pytest exits 1, never 2+ (an error of the run itself)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "5 failed, 1 passed" in out.stdout, out.stdout


def _test_cases(report: Path) -> dict[str, dict[str, Any]]:
    cases = [json.loads(p.read_text()) for p in (report / "data" / "test-cases").glob("*.json")]
    return {c["name"]: c for c in cases}


def _leaf_names(node: dict[str, Any]) -> set[str]:
    """Names of the test results under a node of the categories tree (category → message → result)."""
    if "children" not in node:
        return {node["name"]}
    return set().union(*(_leaf_names(child) for child in node["children"]))


def _attachment_names(case: dict[str, Any]) -> set[str]:
    names: set[str] = set()

    def walk(stage: dict[str, Any]) -> None:
        names.update(a["name"] for a in stage.get("attachments", []))
        for step in stage.get("steps", []):
            walk(step)

    walk(case.get("testStage", {}))
    return names


def test_report_lists_every_scenario_with_attachments_categories_and_trend(
    tmp_path: Path, allure_ready: None
) -> None:
    project, results, report = tmp_path / "project", tmp_path / "allure-results", tmp_path / "allure-report"
    run_synthetic_drill(project, results)
    started = time.monotonic()
    first = build_report(results, report)
    first_s = time.monotonic() - started

    cases = _test_cases(report)
    assert set(cases) == EXPECTED_SCENARIOS
    for name, case in cases.items():
        assert _attachment_names(case) >= EXPECTED_ATTACHMENTS, name
        labels = {(label["name"], label["value"]) for label in case["labels"]}
        assert ("severity", "critical") in labels and ("control", "DORA Art. 12") in labels
        assert any(link["url"].endswith("#scenario-3-complete-cluster-loss") for link in case["links"])
        assert any(p["name"] == "measured RTO (s)" for p in case["parameters"])

    categories = json.loads((report / "data" / "categories.json").read_text())
    by_category = {c["name"]: _leaf_names(c) for c in categories["children"]}
    assert by_category["RTO breach"] == {"Recovery slower than the RTO"}
    assert by_category["RPO breach"] == {"Data loss beyond the RPO"}
    assert by_category["Backup invalid"] == {"The backup does not verify"}
    assert by_category["Fault not confirmed (INVALID)"] == {"The fault was never observed"}
    assert by_category["Harness error"] == {"The harness breaks"}

    environment = {e["name"]: e["values"] for e in json.loads((report / "widgets" / "environment.json").read_text())}
    assert environment["target"] == ["sandbox"] and environment["redis.version"] == ["7.0.15"]
    summary = json.loads((report / "widgets" / "summary.json").read_text())
    assert summary["statistic"]["total"] == 6 and summary["statistic"]["passed"] == 1
    # the synthetic drill ran on the sandbox: the report's title says it is no production evidence
    assert summary["reportName"] == "sentinel-drill DR evidence — SANDBOX — not evidence of production recovery"
    assert environment["label"] == ["SANDBOX — not evidence of production recovery"]

    assert first.single_file and first.single_file.is_file() and first.single_file_bytes
    for root in (results, report, first.single_file.parent):
        for path in root.rglob("*"):
            if path.is_file():
                assert SECRET.encode() not in path.read_bytes(), f"the password leaked into {path}"

    # a second drill: fresh results, history carried from the first report
    shutil.rmtree(results)
    run_synthetic_drill(project, results)
    # through the CLI this time: `sentinel-drill report --json`
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["report", "--results", str(results), "--out", str(report), "--no-single-file", "--json"]) == 0
    second = json.loads(buffer.getvalue())
    trend = json.loads((report / "history" / "history-trend.json").read_text())
    assert len(trend) == 2 and second["history_runs"] == 2
    assert all(point["data"]["total"] == 6 for point in trend)
    assert (tmp_path / "history" / "history-trend.json").is_file(), "history kept beside the results"
    print(f"\nreport: first {first.generate_seconds}s + single file {first.single_file_seconds}s "
          f"(wall {first_s:.1f}s); size {first.report_bytes / 1e6:.2f} MB, "
          f"single file {first.single_file_bytes / 1e6:.2f} MB; second {second['generate_seconds']}s")
