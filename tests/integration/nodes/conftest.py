"""A sandbox on real kubelet nodes for the tests that need running software (one per session; slow to start).

Skipped with the one-line reason when this machine cannot run real nodes
(not root, no cgroup v1, no Docker engine, binaries or images not built) —
except with DRILL_REQUIRE_REAL_NODES=1 (.ci/run sets it: the project's CI machine
runs them, and a skip there would hide a broken setup; hosted CI sets 0).

The host is left as found: its network state (host_state.py) is read before
the first real-node test and compared after the session sandbox's `down`,
with what "another program" added while the sandbox was up still in place.
Tests that need the host without the session sandbox (`host_without_real_sandbox`)
run before the first test that starts it.
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
from tests.integration.nodes.host_state import ForeignChanges, differences, snapshot

_session_sandbox_started: list[bool] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that need this host without the session's real-node sandbox go just before the first one using it."""
    alone = [i for i in items if "host_without_real_sandbox" in getattr(i, "fixturenames", ())]
    if not alone:
        return
    rest = [i for i in items if i not in alone]
    first = next((n for n, i in enumerate(rest) if "real_sandbox" in getattr(i, "fixturenames", ())), len(rest))
    items[:] = rest[:first] + alone + rest[first:]


@pytest.fixture(scope="session")
def real_nodes_here(sandbox_bin_dir: Path) -> None:
    why = why_no_real_nodes()
    if why:
        if os.environ.get("DRILL_REQUIRE_REAL_NODES") == "1":
            pytest.fail(f"DRILL_REQUIRE_REAL_NODES=1 (.ci/run) but real nodes cannot start: {why}", pytrace=False)
        pytest.skip(f"real nodes cannot start here: {why}")


@pytest.fixture(scope="session")
def host_before(real_nodes_here: None) -> dict[str, list[str]]:
    """The host's network state before any real-node sandbox of this session (which finds none on it)."""
    left = hostnet.leftovers()
    assert left == [], (f"a real-node sandbox is still on this host before the suite: {left[:5]} — run "
                        "`sentinel-drill sandbox down` for it (or wait for the one running to finish)")
    return snapshot()


@pytest.fixture(scope="session")
def foreign_changes() -> ForeignChanges:
    """What another program adds while the session sandbox is up (a test makes it; the session's end checks it)."""
    return ForeignChanges()


@pytest.fixture
def host_without_real_sandbox(real_nodes_here: None, host_before: dict[str, list[str]]) -> dict[str, list[str]]:
    """The host before the session sandbox: for tests that start (and crash) real-node sandboxes of their own."""
    assert not _session_sandbox_started, "the session's real-node sandbox is up; this test must run before it"
    return host_before


@pytest.fixture(scope="session")
def real_sandbox(real_nodes_here: None, host_before: dict[str, list[str]], foreign_changes: ForeignChanges,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    state_dir = tmp_path_factory.mktemp("real-sandbox-state")
    _session_sandbox_started.append(True)
    try:
        yield sandbox_up(state_dir, cluster_name="real", nodes="real", keys=2_000, timeout=180)
    finally:
        sandbox_down(state_dir)
    # `down` gives the host back as it was, and leaves what another program added meanwhile
    missing = foreign_changes.missing() if foreign_changes.made else []
    if foreign_changes.made:
        foreign_changes.undo(host_before)
    assert missing == [], f"`sandbox down` removed what another program added while it was up: {missing}"
    assert hostnet.leftovers() == []
    assert differences(host_before, snapshot()) == []


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
