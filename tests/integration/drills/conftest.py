"""A sandbox of the drills' own (scenario 3 replaces its cluster), and a way to run `sentinel-drill drill`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.sandbox import SandboxInfo, sandbox_down, sandbox_up

REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class DrillRun:
    code: int
    output: str
    results: dict[str, Any]
    allure_dir: Path
    stderr: str = ""

    def verdicts(self) -> dict[str, str]:
        return {s["name"]: s["verdict"] for s in self.results.get("scenarios", [])}

    def scenario(self, tag: str) -> dict[str, Any]:
        return next(s for s in self.results["scenarios"] if tag in s["tags"])


@pytest.fixture(scope="module")
def drill_sandbox(sandbox_bin_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    """A sandbox of the drills' own: scenario 3 replaces its cluster, scenario 4 its namespace and password."""
    state_dir = tmp_path_factory.mktemp("drill-sandbox")
    try:
        yield sandbox_up(state_dir, cluster_name="drills")
    finally:
        sandbox_down(state_dir)


@pytest.fixture(scope="module")
def run_drill(drill_sandbox: SandboxInfo, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Run `sentinel-drill drill <selection>` against the module's sandbox with extra environment."""
    def run(selection: str, *args: str, **env: str) -> DrillRun:
        reports = tmp_path_factory.mktemp(f"reports-{selection}")
        allure_dir = reports / "allure-results"
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("DRILL_")}
        child_env.update(DRILL_SANDBOX_DIR=str(drill_sandbox.state_dir), DRILL_REPORTS_DIR=str(reports), **env)
        proc = subprocess.run(
            [sys.executable, "-m", "harness.cli", "drill", selection, "--results", str(allure_dir), *args],
            check=False, cwd=REPO_ROOT, env=child_env, capture_output=True, text=True, timeout=900,
        )
        results_file = reports / "drill-results.json"
        results = json.loads(results_file.read_text()) if results_file.exists() else {}
        return DrillRun(proc.returncode, proc.stdout + proc.stderr, results, allure_dir, proc.stderr)

    return run


@pytest.fixture(scope="module")
def all_drills(run_drill: Any, drill_sandbox: SandboxInfo) -> tuple[DrillRun, list[str]]:
    """One `drill all` for the module, and every secret the sandbox held before and after it."""
    secrets = [drill_sandbox.redis_password()]
    run = run_drill("all")
    secrets.append(drill_sandbox.redis_password())  # scenario 4 rotated it
    return run, secrets
