"""A sandbox on real kubelet nodes for the tests that need running software (one per session; slow to start).

Skipped with the one-line reason when this machine cannot run real nodes
(not root, no cgroup v1, no Docker engine, binaries or images not built) —
except with DRILL_REQUIRE_REAL_NODES=1 (.ci/run sets it: the project's CI machine
runs them, and a skip there would hide a broken setup; hosted CI sets 0).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.platform.client import Cluster, connect
from harness.sandbox import SandboxInfo, hostnet, sandbox_down, sandbox_up
from harness.sandbox.node_pool import why_no_real_nodes
from harness.sandbox.state import REPO_ROOT


@pytest.fixture(scope="session")
def real_sandbox(sandbox_bin_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    why = why_no_real_nodes()
    if why:
        if os.environ.get("DRILL_REQUIRE_REAL_NODES") == "1":
            pytest.fail(f"DRILL_REQUIRE_REAL_NODES=1 (.ci/run) but real nodes cannot start: {why}", pytrace=False)
        pytest.skip(f"real nodes cannot start here: {why}")
    state_dir = tmp_path_factory.mktemp("real-sandbox-state")
    try:
        yield sandbox_up(state_dir, cluster_name="real", nodes="real", keys=2_000, timeout=180)
    finally:
        sandbox_down(state_dir)
    # `down` gives the host back as it was: no address, route, chain, bridge, nftables table or cgroup left
    assert hostnet.leftovers() == []


@pytest.fixture(scope="session")
def real_cluster(real_sandbox: SandboxInfo) -> Cluster:
    return connect(real_sandbox.kubeconfig, real_sandbox.context)


@pytest.fixture(scope="session")
def real_drill(real_sandbox: SandboxInfo) -> Callable[[str, Path], tuple[str, dict[str, Any]]]:
    """Run `sentinel-drill drill <selection>` on the real-node sandbox; (output, drill-results.json) of a run
    that exited 0."""
    def run(selection: str, reports: Path) -> tuple[str, dict[str, Any]]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DRILL_")}
        env.update(DRILL_SANDBOX_DIR=str(real_sandbox.state_dir), DRILL_REPORTS_DIR=str(reports))
        proc = subprocess.run([sys.executable, "-m", "harness.cli", "drill", selection, "--results",
                               str(reports / "allure-results")], cwd=REPO_ROOT, env=env, capture_output=True,
                              text=True, timeout=900, check=False)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output[-3000:]
        return output, json.loads((reports / "drill-results.json").read_text())

    return run
