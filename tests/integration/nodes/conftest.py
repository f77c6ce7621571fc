"""A sandbox on real kubelet nodes for the tests that need running software (one per session; slow to start).

Skipped with the one-line reason when this machine cannot run real nodes
(not root, no cgroup v1, no Docker engine, binaries or images not built) —
except in CI (CI=true), where the machine is known to run them and a skip
would hide a broken setup.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.platform.client import Cluster, connect
from harness.sandbox import SandboxInfo, hostnet, sandbox_down, sandbox_up
from harness.sandbox.node_pool import why_no_real_nodes


@pytest.fixture(scope="session")
def real_sandbox(sandbox_bin_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    why = why_no_real_nodes()
    if why:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but real nodes cannot start: {why}", pytrace=False)
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
