"""The scheduled drill workflows pass actionlint (built from its Go module) and keep their promises."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
ACTIONLINT_VERSION = "v1.7.12"  # keep in step with mk/report.mk
CACHE = Path(os.environ.get("SENTINEL_DRILL_CACHE") or Path.home() / ".cache" / "sentinel-drill")


def _go() -> str | None:
    return shutil.which("go") or next((p for p in ("/usr/local/go/bin/go",) if os.access(p, os.X_OK)), None)


def _actionlint() -> Path:
    """actionlint from the Go module proxy, built once per version into the cache."""
    go = _go()
    if go is None:
        pytest.skip("go is not installed, so actionlint cannot be built (install Go 1.26, or run `make lint-workflows`)")
    target = CACHE / "bin" / f"actionlint-{ACTIONLINT_VERSION}"
    binary = target / "actionlint"
    if not os.access(binary, os.X_OK):
        target.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "GOBIN": str(target), "GOFLAGS": "-buildvcs=false"}
        subprocess.run([go, "install", f"github.com/rhysd/actionlint/cmd/actionlint@{ACTIONLINT_VERSION}"],
                       env=env, check=True, timeout=600, capture_output=True)
    return binary


def _load(name: str) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def test_the_workflow_mk_and_this_test_pin_the_same_actionlint() -> None:
    assert f"ACTIONLINT_VERSION ?= {ACTIONLINT_VERSION}" in (REPO / "mk" / "report.mk").read_text()


def test_workflows_pass_actionlint() -> None:
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    out = subprocess.run([str(_actionlint()), "-no-color", "-oneline", *files], cwd=REPO, capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(("name", "cron", "target"), [
    ("quarterly-restore.yml", "0 5 1 1,4,7,10 *", "restore-test"),
    ("monthly-drill.yml", "0 5 15 * *", "drill"),
])
def test_scheduled_workflows_run_their_drill_on_schedule_and_on_demand(name: str, cron: str, target: str) -> None:
    workflow = _load(name)
    assert workflow["on"]["schedule"] == [{"cron": cron}] and "workflow_dispatch" in workflow["on"]
    (job,) = workflow["jobs"].values()
    assert job["uses"] == "./.github/workflows/drill-run.yml" and job["with"]["make-target"] == target


def test_reports_and_evidence_are_uploaded_even_when_the_drill_fails() -> None:
    steps = _load("drill-run.yml")["jobs"]["drill"]["steps"]
    runs = [s.get("run", "") for s in steps]
    drill_index = next(i for i, s in enumerate(steps) if s.get("name") == "Run the drill")
    assert "continue-on-error" not in steps[drill_index], "a breach must fail the job"
    assert any("make setup" in r for r in runs) and any("make report" in r for r in runs)
    # the drill target's own `make evidence` builds the bundle under the workflow's RUN_ID; the steps after verify it
    # and, once stored, the whole chain in the store against its locked heads
    assert "RUN_ID" in _load("drill-run.yml")["jobs"]["drill"]["env"]
    assert "--run-id $(RUN_ID)" in (REPO / "mk" / "report.mk").read_text()
    assert any('evidence verify "reports/evidence/$RUN_ID"' in r for r in runs)
    assert any('evidence verify --chain "$EVIDENCE_STORE"' in r for r in runs)
    for step in steps[drill_index + 1:]:
        assert step.get("if") in ("always()", "${{ !cancelled() }}") or str(step.get("if", "")).startswith(
            "${{ !cancelled()"), step.get("name")
    uploads = {s["with"]["path"].strip() for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")}
    assert {"reports/allure-report/", "reports/allure-report-single/index.html"} <= uploads
    assert any(p.startswith("reports/evidence/") for p in uploads)


def test_actionlint_really_checks(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
                      "      - uses: actions/checkout@v4\n        with:\n          no-such-input: 1\n")
    out = subprocess.run([str(_actionlint()), "-no-color", str(broken)], capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 1 and "no-such-input" in out.stdout


def test_ci_runs_the_ci_entry_point_on_every_push_and_pull_request() -> None:
    workflow = _load("ci.yml")
    assert set(workflow["on"]) == {"push", "pull_request"}
    assert workflow["on"]["push"] is None and workflow["on"]["pull_request"] is None, "no branch filter"
    (job,) = workflow["jobs"].values()
    assert str(job["runs-on"]).startswith("ubuntu-")
    runs = [s["run"].strip() for s in job["steps"] if "run" in s]
    assert runs == [".ci/run"], "CI must call .ci/run (make test), not a copy of it that can drift"
    assert "make test" in (REPO / ".ci" / "run").read_text()


@pytest.mark.parametrize("name", ["quarterly-restore.yml", "monthly-drill.yml"])
def test_scheduled_workflows_take_the_target_from_the_repository_variable(name: str) -> None:
    workflow = _load(name)
    (job,) = workflow["jobs"].values()
    assert "vars.DRILL_CONFIG" in job["with"]["config"]
    assert job["with"]["sandbox"] == "${{ inputs.sandbox == true }}", "false on schedule (no inputs)"
    sandbox = workflow["on"]["workflow_dispatch"]["inputs"]["sandbox"]
    assert sandbox["type"] == "boolean" and sandbox["default"] is False, "the sandbox only on purpose"


def _guard_job() -> dict[Any, Any]:
    workflow = _load("drill-run.yml")
    assert workflow["jobs"]["drill"]["needs"] == "require-target", "the drill waits for the target check"
    guard: dict[Any, Any] = workflow["jobs"]["require-target"]
    return guard


def _run_step(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-e", "-c", script], env={"PATH": os.environ["PATH"], **env}, cwd=cwd,
                          capture_output=True, text=True, timeout=30, check=False)


def test_the_drill_stops_first_when_no_target_is_configured(tmp_path: Path) -> None:
    first = _guard_job()["steps"][0]["run"]
    refused = _run_step(first, {"DRILL_CONFIG": "", "SANDBOX": "false"}, tmp_path)
    assert refused.returncode == 1
    assert refused.stdout.startswith("::error::no drill target configured: set the repository variable DRILL_CONFIG")
    configured = _run_step(first, {"DRILL_CONFIG": "deploy/drill/production.yaml", "SANDBOX": "false"}, tmp_path)
    assert configured.returncode == 0 and "::error::" not in configured.stdout
    sandbox = _run_step(first, {"DRILL_CONFIG": "", "SANDBOX": "true"}, tmp_path)
    assert sandbox.returncode == 0
    assert "::warning::sandbox run on purpose" in sandbox.stdout and "SANDBOX — not evidence" in sandbox.stdout


@pytest.mark.parametrize(("content", "ok", "says"), [
    (None, False, "is not a file in this repository"),
    ("namespace: sentinel\n", False, "sandbox (the default)"),
    ("target: sandbox\n", False, "names target 'sandbox'"),
    ("target: \"production\"  # the real one\nnamespace: sentinel\n", True, "drill target: production"),
])
def test_the_settings_file_must_exist_and_name_a_real_target(tmp_path: Path, content: str | None, ok: bool,
                                                            says: str) -> None:
    (check,) = [s["run"] for s in _guard_job()["steps"][1:] if "run" in s]
    if content is not None:
        (tmp_path / "drill.yaml").write_text(content)
    out = _run_step(check, {"DRILL_CONFIG": "drill.yaml", "SANDBOX": "false"}, tmp_path)
    assert (out.returncode == 0) is ok, out.stdout + out.stderr
    assert says in out.stdout and (("::error::" in out.stdout) is not ok)
