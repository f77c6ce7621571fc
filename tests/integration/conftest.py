"""Sandbox fixtures shared by the integration suites: one session sandbox, and the binaries check.

Without the control-plane binaries the sandbox tests are skipped with the
reason — except in CI (CI=true), where a missing build must fail loudly
instead of hiding behind a skip.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from harness.platform.client import Cluster, connect
from harness.sandbox import SandboxInfo, sandbox_down, sandbox_up
from harness.sandbox.cluster import bin_dir, binaries_available
from tests.containers import RedisContainer, container_skip_reason, redis_container, remove_scratch_containers


@pytest.fixture(scope="session")
def sandbox_bin_dir() -> Path:
    """The built control-plane binaries (skip without them, fail in CI)."""
    ok, why = binaries_available()
    if not ok:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the sandbox binaries are missing: {why}", pytrace=False)
        pytest.skip(f"sandbox binaries not built (`make sandbox-bin`): {why}")
    return bin_dir()


@pytest.fixture(scope="session")
def sandbox(sandbox_bin_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxInfo]:
    """The session's sandbox (its own state dir, never the developer's .sandbox/)."""
    state_dir = tmp_path_factory.mktemp("sandbox-state")
    try:
        yield sandbox_up(state_dir, cluster_name="drill-test")
    finally:
        sandbox_down(state_dir)


@pytest.fixture(scope="session")
def cluster(sandbox: SandboxInfo) -> Cluster:
    return connect(sandbox.kubeconfig, sandbox.context)


@pytest.fixture
def redis_in_container() -> Iterator[Callable[[str], RedisContainer]]:
    """Start scratch Redis containers from the local images (`make images`); every one is removed
    afterwards. Skips with the reason when no Docker engine answers or an image is not built."""
    with ExitStack() as stack:

        def start(image: str) -> RedisContainer:
            reason = container_skip_reason(image)
            if reason:
                pytest.skip(reason)
            return stack.enter_context(redis_container(image))

        yield start
        stack.callback(remove_scratch_containers)
