"""Scenarios 4 and 3 on running software, last in the session (named so: scenario 3 replaces the cluster).

Scenario 4 must prove the isolation by a refused connection and get a clean namespace
serving with rotated secrets; scenario 3 must rebuild a control plane, have the
host's nodes rejoin it and restore Redis into the new cluster's volume.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness.sandbox import SandboxInfo
from harness.sandbox.state import REPO_ROOT


def _drill(sandbox: SandboxInfo, selection: str, reports: Path) -> dict:  # type: ignore[type-arg]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRILL_")}
    env.update(DRILL_SANDBOX_DIR=str(sandbox.state_dir), DRILL_REPORTS_DIR=str(reports))
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "drill", selection, "--results",
                           str(reports / "allure-results")], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=900, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    (record,) = json.loads((reports / "drill-results.json").read_text())["scenarios"]
    assert record["verdict"] == "PASS"
    return record  # type: ignore[no-any-return]


def test_scenario_4_isolates_by_a_refused_connection_and_the_clean_namespace_serves(real_sandbox: SandboxInfo,
                                                                                     tmp_path: Path) -> None:
    record = _drill(real_sandbox, "scenario-4", tmp_path)
    isolation = record["details"]["isolation"]
    assert isolation["connection_attempt"]["connected"] is False
    assert isolation["enforcement"].startswith("proven")
    assert record["details"]["clean_namespace"] != real_sandbox.namespace


def test_scenario_3_restores_into_a_new_cluster_that_the_nodes_rejoin(real_sandbox: SandboxInfo,
                                                                      tmp_path: Path) -> None:
    record = _drill(real_sandbox, "scenario-3", tmp_path)
    phases = [p["name"] for p in record["timeline"]["phases"]]
    assert phases[:3] == ["fault_confirmed", "infra_ready", "secrets_restored"]  # Secrets before Redis
    assert record["details"]["redis_restore"]["keys"] > 1_000
