"""Fixtures for the drill modules' unit tests: a FakeTarget (pinned, confirmed), a real health endpoint,
a real FileStore, a real redis-server when asked for, and a DrillScenario over them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.drills.scenario import DrillScenario
from harness.evidence.record import ScenarioRecord
from harness.redis_process import RedisProcess
from harness.safety import CONFIRM_ENV
from tests.fakes.cluster import FakeCluster
from tests.fakes.target import BRAIN, TARGET_NAME, FakeTarget, HealthServer, fake_settings

BRAIN_REPLICAS = 4
REDIS_PASSWORD = "fake-redis-pw-0123456789"


@pytest.fixture(autouse=True)
def confirmed(clean_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """This run is confirmed for the fake target (tests that need a refusal delete it)."""
    clean_env.setenv(CONFIRM_ENV, TARGET_NAME)
    return clean_env


@pytest.fixture
def primary() -> FakeCluster:
    cluster = FakeCluster(name="primary")
    cluster.add_deployment(BRAIN, namespace="sentinel", replicas=BRAIN_REPLICAS)
    return cluster


@pytest.fixture
def dr() -> FakeCluster:
    return FakeCluster(name="dr")


@pytest.fixture
def health() -> Iterator[HealthServer]:
    server = HealthServer().start()
    yield server
    server.stop()


@pytest.fixture
def make_target(primary: FakeCluster, dr: FakeCluster, health: HealthServer,
                tmp_path: Path) -> Callable[..., FakeTarget]:
    """Build the FakeTarget (optionally over a real Redis) and point the health endpoint at it."""
    store = tmp_path / "store"
    store.mkdir()

    def make(redis: RedisProcess | None = None, **overrides: Any) -> FakeTarget:
        overrides.setdefault("state_dir", str(tmp_path / "state"))  # the undo ledger, never the repo's reports/
        settings = fake_settings(primary, dr, health_url=health.url, store_url=f"file://{store}",
                                 redis_url=redis.url if redis else None,
                                 redis_password=redis.password if redis else None, **overrides)
        target = FakeTarget(settings, primary=primary, dr=dr, brain_replicas=BRAIN_REPLICAS)
        health.check = target.healthy
        return target

    return make


@pytest.fixture
def target(make_target: Callable[..., FakeTarget]) -> FakeTarget:
    return make_target()


@pytest.fixture
def redis_server(redis_factory: Callable[..., RedisProcess]) -> RedisProcess:
    return redis_factory(password=REDIS_PASSWORD)


@pytest.fixture
def redis_target(make_target: Callable[..., FakeTarget], redis_server: RedisProcess) -> FakeTarget:
    return make_target(redis_server)


@pytest.fixture
def new_drill(tmp_path: Path) -> Iterator[Callable[[FakeTarget], DrillScenario]]:
    """A DrillScenario for a target, finished (cleanups run) when the test ends."""
    started: list[DrillScenario] = []

    def make(target: FakeTarget) -> DrillScenario:
        drill = DrillScenario(target.settings, ScenarioRecord("unit", "fake.feature"), tmp_path / "journals")
        started.append(drill)
        return drill

    yield make
    for drill in started:
        drill.finish()

