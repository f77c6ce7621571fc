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
    assert any("evidence bundle" in r for r in runs) and any("evidence verify" in r for r in runs)
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
