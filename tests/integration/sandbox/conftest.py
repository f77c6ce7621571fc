"""The sandbox suite: the session sandbox (tests/integration/conftest.py) reset to baseline after each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.platform.client import Cluster
from harness.platform.nodes import uncordon_zone
from harness.platform.workloads import rollout_status, scale, wait_for_rollout
from harness.sandbox import SandboxInfo, sandbox_down
from harness.sandbox.cluster import ZONES

BASELINE = {("Deployment", "sentinel-brain"): 3, ("Deployment", "sentinel-gateway"): 2, ("StatefulSet", "redis"): 1}


@pytest.fixture
def baseline(cluster: Cluster, sandbox: SandboxInfo) -> Iterator[Cluster]:
    """Yield the cluster; afterwards uncordon every zone and put every workload back to its replica count."""
    yield cluster
    for zone in ZONES:
        uncordon_zone(cluster, zone)
    for (kind, name), replicas in BASELINE.items():
        if rollout_status(cluster, kind, name, namespace=sandbox.namespace).desired != replicas:  # type: ignore[arg-type]
            scale(cluster, kind, name, replicas, namespace=sandbox.namespace)  # type: ignore[arg-type]
    for kind, name in BASELINE:
        wait_for_rollout(cluster, kind, name, namespace=sandbox.namespace, timeout=60)  # type: ignore[arg-type]


@pytest.fixture
def spare_state_dir(sandbox_bin_dir: Path, tmp_path: Path) -> Iterator[Path]:
    """A state dir for a second, short-lived sandbox; always taken down."""
    state_dir = tmp_path / "spare-sandbox"
    try:
        yield state_dir
    finally:
        sandbox_down(state_dir)
