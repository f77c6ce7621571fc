"""One real sandbox per test session, in a throw-away state dir; the stack reset to baseline after each test.

Without the control-plane binaries the sandbox tests are skipped with the
reason — except in CI (CI=true), where a missing build must fail loudly
instead of hiding behind a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.platform.client import Cluster, connect
from harness.platform.nodes import uncordon_zone
from harness.platform.workloads import rollout_status, scale, wait_for_rollout
from harness.sandbox import SandboxInfo, sandbox_down, sandbox_up
from harness.sandbox.cluster import ZONES, bin_dir, binaries_available

BASELINE = {("Deployment", "sentinel-brain"): 3, ("Deployment", "sentinel-gateway"): 2, ("StatefulSet", "redis"): 1}


def require_binaries() -> None:
    """Skip (or fail in CI) when the sandbox cannot be started here."""
    ok, why = binaries_available()
    if ok:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but the sandbox binaries are missing: {why}", pytrace=False)
    pytest.skip(f"sandbox binaries not built: {why}")


@pytest.fixture(scope="session")
def sandbox_bin_dir() -> Path:
    """The built control-plane binaries (skip, or fail in CI, without them)."""
    require_binaries()
    return bin_dir()


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    """The session's sandbox (its own state dir, never the developer's .sandbox/)."""
    require_binaries()
    state_dir = tmp_path_factory.mktemp("sandbox-state")
    try:
        info = sandbox_up(state_dir, cluster_name="drill-test")
    except BaseException:
        sandbox_down(state_dir)
        raise
    try:
        yield info
    finally:
        sandbox_down(state_dir)


@pytest.fixture(scope="session")
def cluster(sandbox: SandboxInfo) -> Cluster:
    return connect(sandbox.kubeconfig, sandbox.context)


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
def spare_state_dir(tmp_path: Path) -> Iterator[Path]:
    """A state dir for a second, short-lived sandbox; always taken down."""
    require_binaries()
    state_dir = tmp_path / "spare-sandbox"
    try:
        yield state_dir
    finally:
        sandbox_down(state_dir)
