"""FakeTarget: the Target seam over an in-memory cluster, a file store and a real local health endpoint.

It is a *non-sandbox* target ("fake-staging"), allow-listed, confirmed and
pinned to the fake cluster's identity, so every fault in a unit test goes
through the real safety guard. The health endpoint is a real HTTP server on
127.0.0.1 (the experiments' steady-state probes are chaostoolkit HTTP probes)
answering 200 while the fake Brain Deployment is fully served.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import redis

from harness.backup.store import BackupStore, FileStore
from harness.config import Settings, load_settings
from harness.platform.redis_data import NetworkRedisData, RedisDataPlane
from harness.secrets import new_key
from harness.target.base import LossProof, LossReport, Target
from tests.fakes.cluster import FakeCluster

NAME = "fake-staging"
NAMESPACE = "sentinel"
BRAIN = "sentinel-brain"


class HealthServer:
    """200 while `healthy()` says so, else 503; counts the requests it answered."""

    def __init__(self, healthy: Any) -> None:
        outer = self
        self.healthy = healthy
        self.answers: list[int] = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code = 200 if outer.healthy() else 503
                outer.answers.append(code)
                self.send_response(code)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/health"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeTarget(Target):
    """Records what the scenario asked of it; the cluster and the health answer are real enough to measure."""

    def __init__(self, settings: Settings, cluster: FakeCluster, store_dir: Path,
                 redis_url: str | None = None, redis_password: str | None = None) -> None:
        super().__init__(settings)
        self.fake = cluster
        self.store_dir = store_dir
        store_dir.mkdir(parents=True, exist_ok=True)
        self._redis = (redis_url, redis_password)
        self.loss_observable = True
        self.calls: list[str] = []
        self.key = new_key()

    def cluster(self) -> Any:
        return self.fake

    def store(self) -> BackupStore:
        return FileStore(self.store_dir)

    def redis_password(self) -> str | None:
        return self._redis[1]

    def redis(self, *, password: str | None = None) -> redis.Redis:
        url, current = self._redis
        assert url, "this FakeTarget has no Redis"
        return redis.Redis.from_url(url, password=password or current)

    def config_export_key(self) -> str:
        return self.key

    def redis_data(self) -> RedisDataPlane:
        return NetworkRedisData(self.redis_url, self.redis_password())

    def lose_primary(self) -> LossReport:
        self.calls.append("lose_primary")
        return LossReport("fake", self.fake.server, "redis://fake", {"mode": "fake"})

    def prove_loss(self, loss: LossReport) -> LossProof:
        self.calls.append("prove_loss")
        return LossProof(self.loss_observable, "fake cluster " + ("gone" if self.loss_observable else "still there"),
                         {"cluster": loss.cluster})

    def finish_teardown(self) -> None:
        self.calls.append("finish_teardown")

    def provision_cluster(self) -> Any:
        self.calls.append("provision_cluster")
        return self.fake

    def deploy_clean_namespace(self, namespace: str) -> Any:
        self.calls.append(f"deploy_clean_namespace {namespace}")
        return self.fake

    def end_recovery(self) -> list[str]:
        self.calls.append("end_recovery")
        return []

    def load_balancer_address(self) -> str:
        return "lb.fake.example."

    def rotate_redis_password(self, new_password: str) -> None:
        self.calls.append("rotate_redis_password")
        self.redis().config_set("requirepass", new_password)
        self._redis = (self._redis[0], new_password)

    def close(self) -> None:
        """Nothing to release."""


@contextmanager
def fake_target(tmp_path: Path, *, replicas: int = 4, brain_labels: dict[str, str] | None = None,
                redis_url: str | None = None, redis_password: str | None = None,
                **settings: Any) -> Iterator[FakeTarget]:
    """A FakeTarget with Brain running `replicas` pods over zones a/b/c, pinned, allow-listed and confirmed.

    The caller sets DRILL_CONFIRM_DESTRUCTIVE (the guard reads the process environment).
    """
    cluster = FakeCluster()
    cluster.add_zones()
    cluster.add_deployment(NAMESPACE, BRAIN, replicas, brain_labels or {"app": BRAIN})
    health = HealthServer(lambda: cluster.serving(NAMESPACE, BRAIN))
    env = {"DRILL_TARGET": NAME, "DRILL_ALLOWED_TARGETS": NAME, "DRILL_NAMESPACE": NAMESPACE,
           "DRILL_HEALTH_URL": health.url, "DRILL_PINNED_API_SERVER": cluster.server,
           "DRILL_PINNED_KUBE_SYSTEM_UID": cluster.kube_system_uid, "DRILL_STATE_DIR": str(tmp_path / "state"),
           "DRILL_PROBE_INTERVAL_SECONDS": "0.05", "DRILL_REDIS_URL": redis_url or "",
           **{f"DRILL_{k.upper()}": str(v) for k, v in settings.items()}}
    target = FakeTarget(load_settings(env=env), cluster, tmp_path / "store", redis_url, redis_password)
    try:
        yield target
    finally:
        health.close()
