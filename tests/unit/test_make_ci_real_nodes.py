"""Who requires real sandbox nodes: `.ci/run` on the project's own machine (DRILL_REQUIRE_REAL_NODES=1), not
any CI. GitHub's hosted runners (CI=true, cgroup v2, not root) set it to 0 and run the kwok path, and say so.

The real-node fixture is run for real in a child pytest, on a host that reports it cannot run real nodes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from harness.sandbox.state import REPO_ROOT

#: a host without real nodes (and with the control-plane binaries, so only the real-node check decides)
NO_REAL_NODES = """
from pathlib import Path
import harness.sandbox.cluster as cluster
import harness.sandbox.node_pool as node_pool
cluster.binaries_available = lambda: (True, "built")
cluster.bin_dir = lambda: Path("/nonexistent")
node_pool.why_no_real_nodes = lambda: "no cgroup v1 here (cgroup v2)"
"""
ONE_REAL_NODE_TEST = "tests/integration/nodes/test_real_nodes.py::test_the_health_url_is_the_real_gateway_behind_the_front_door"


def _real_node_test(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "no_real_nodes_here.py").write_text(NO_REAL_NODES)
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "DRILL_REQUIRE_REAL_NODES", "PYTEST_ADDOPTS")}
    clean.update(PYTHONPATH=os.pathsep.join([str(tmp_path), str(REPO_ROOT)]), **env)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no_real_nodes_here", "-p", "no:allure_pytest_bdd",
                           "-p", "no:cacheprovider", "-q", "-rs", ONE_REAL_NODE_TEST], cwd=REPO_ROOT, env=clean,
                          capture_output=True, text=True, timeout=120, check=False)


def test_a_hosted_ci_runner_skips_the_real_node_tests_with_the_reason(tmp_path: Path) -> None:
    out = _real_node_test(tmp_path, CI="true", DRILL_REQUIRE_REAL_NODES="0")
    assert out.returncode == 0, out.stdout[-1500:]
    assert "1 skipped" in out.stdout and "real nodes cannot start here: no cgroup v1 here" in out.stdout


def test_the_projects_ci_fails_when_real_nodes_cannot_start(tmp_path: Path) -> None:
    out = _real_node_test(tmp_path, DRILL_REQUIRE_REAL_NODES="1")
    assert out.returncode == 1, out.stdout[-1500:]
    assert "DRILL_REQUIRE_REAL_NODES=1 (.ci/run) but real nodes cannot start: no cgroup v1 here" in out.stdout


def test_ci_run_requires_real_nodes_and_hosted_ci_does_not() -> None:
    assert 'export DRILL_REQUIRE_REAL_NODES="${DRILL_REQUIRE_REAL_NODES:-1}"' in (REPO_ROOT / ".ci" / "run").read_text()
    workflow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "ci.yml").read_text())
    (job,) = workflow["jobs"].values()
    assert job["env"]["DRILL_REQUIRE_REAL_NODES"] == "0"


def test_ci_run_writes_what_ran_to_the_job_summary(tmp_path: Path) -> None:
    """.ci/run's summary lines, run with a `make` that only prints a pytest closing line."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "make").write_text("#!/bin/sh\necho '=== 3 passed, 2 skipped in 1.50s ==='\n")
    (fake_bin / "make").chmod(0o755)
    summary = tmp_path / "summary.md"
    env = {"PATH": f"{fake_bin}{os.pathsep}{os.environ['PATH']}", "HOME": os.environ.get("HOME", str(tmp_path)),
           "GITHUB_STEP_SUMMARY": str(summary), "DRILL_REQUIRE_REAL_NODES": "0", "CI": "true"}
    out = subprocess.run(["bash", str(REPO_ROOT / ".ci" / "run")], env=env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    text = summary.read_text()
    assert "### make test exited 0" in text and "- pytest: 3 passed, 2 skipped in 1.50s" in text
    assert "- DRILL_REQUIRE_REAL_NODES=0" in text
    assert "real sandbox nodes" in text or "kwok-only sandbox (" in text
