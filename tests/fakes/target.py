"""FakeTarget: the `Target` seam over a FakeCluster, a real FileStore, an optional real redis-server and a real
health endpoint, so each drill module runs its real experiment through the real activities in a unit test.

It is a *pinned non-sandbox* target ("fake-staging"): every fault passes the real
guard (allow-list + DRILL_CONFIRM_DESTRUCTIVE + the cluster's identity, read
from the fake's kube-system UID), exactly the path a staging run takes. Like
ClusterTarget, a lost primary moves the target to a parallel DR cluster
(pinned as the DR identity); unlike it, the primary then stops answering, so
anything that kept a stale client of it fails loudly. The target-specific
operations record themselves in `calls`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from pydantic import SecretStr

from harness.backup.config_export import new_key
from harness.config import Settings
from harness.drills.pytest_plugin import classify
from harness.evidence.record import Verdict
from harness.platform.client import Cluster
from harness.restore.network_plane import NetworkPlane
from harness.safety import require_destructive
from harness.target.base import LossProof, LossReport, PipelineRun, Target
from tests.fakes.cluster import FakeCluster

TARGET_NAME = "fake-staging"
BRAIN = "sentinel-brain"


class HealthServer:
    """SENTINEL's /health stand-in on 127.0.0.1: 200 while `check()` is true, 503 otherwise."""

    def __init__(self) -> None:
        self.check: Callable[[], bool] = lambda: False
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                ok = server.check()
                self.send_response(200 if ok else 503)
                self.end_headers()
                self.wfile.write(b"ok" if ok else b"brain not available")

            def log_message(self, *_: Any) -> None:
                """Quiet: one line per probe otherwise."""

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       name="fake-health", daemon=True)  # shutdown waits one poll

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/health"

    def start(self) -> HealthServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def fake_settings(primary: FakeCluster, dr: FakeCluster, *, health_url: str, store_url: str,
                  redis_url: str | None = None, redis_password: str | None = None, **overrides: Any) -> Settings:
    """A pinned, allow-listed non-sandbox target on the fakes, with timings a unit test can afford."""
    values: dict[str, Any] = {
        "target": TARGET_NAME, "allowed_targets": (TARGET_NAME,), "namespace": "sentinel",
        "pinned_api_server": primary.server, "pinned_kube_system_uid": primary.kube_system_uid,
        "dr_pinned_api_server": dr.server, "dr_pinned_kube_system_uid": dr.kube_system_uid,
        "health_url": health_url, "store_url": store_url, "redis_url": redis_url,
        "redis_password": SecretStr(redis_password) if redis_password else None,
        "probe_interval_seconds": 0.05, "rto_seconds": 30, "min_keys": 10,
        "run_id": "20261206T000000Z-fake-staging-0001",  # what open_target gives every real run
    }
    return Settings(**{**values, **overrides})


class FakeTarget(Target):
    """A drill target made of fakes and real local parts; what it was asked to do is in `calls`."""

    def __init__(self, settings: Settings, *, primary: FakeCluster, dr: FakeCluster, brain_replicas: int) -> None:
        super().__init__(settings)
        self.primary = primary
        self.dr = dr
        self.current = primary
        self.brain_replicas = brain_replicas
        self.calls: list[str] = []
        self.rotated_password: str | None = None
        #: image → digest as this target resolves it (a test plays the registry)
        self.image_digests: dict[str, str] = {}
        #: what the fake backup CronJob's Job backs up: the target's Redis, unless a test points it elsewhere
        self.pipeline_source: tuple[str, str | None] | None = None
        self._export_key = new_key()

    def cluster(self) -> Cluster:
        return cast(Cluster, self.current)  # duck-typed: FakeCluster answers what Cluster does

    def healthy(self) -> bool:
        """What the fake /health reports: Brain fully available in the current cluster and namespace."""
        return self.current.deployment_available(BRAIN, namespace=self.namespace)

    def redis_password(self) -> str | None:
        return self.rotated_password or super().redis_password()

    def config_export_key(self) -> str:
        return self._export_key

    def restore_plane(self) -> NetworkPlane:
        return NetworkPlane(self.redis_url, self.redis_password(), snapshot_store=self.store())

    def image_digest(self, image: str) -> str | None:
        return self.image_digests.get(image) or super().image_digest(image)

    def run_pipeline_backup(self, *, timeout: float) -> PipelineRun:
        """The backup CronJob's Job: `sentinel-drill backup` of `pipeline_source` (the target's Redis by default)."""
        from harness.backup.manifest import PIPELINE
        from harness.backup.take import take_backup

        self.calls.append("run_pipeline_backup")
        url, password = self.pipeline_source or (self.redis_url, self.redis_password())
        result = take_backup(url, self.store(), password=password, origin=PIPELINE)
        return PipelineRun("the fake backup CronJob's Job", result.seconds, result.id, f"backup {result.id}\n")

    def lose_primary(self) -> LossReport:
        """The primary stops answering, its Redis data is gone; the target moves to the DR cluster."""
        require_destructive(self, "lose the fake primary")
        self.calls.append("lose_primary")
        lost = self.current
        lost.lost = True
        if self.settings.redis_url:
            self.redis().flushall()
        self.current = self.dr
        return LossReport(str(lost.context), lost.server, self.settings.redis_url or "",
                          {"mode": "fake", "now": str(self.dr.context)})

    def prove_loss(self, loss: LossReport) -> LossProof:
        """Lost when the old API no longer answers and the DR cluster does not already run Brain."""
        self.calls.append("prove_loss")
        old_answers = not self.primary.lost
        dr_runs_brain = ("deployments", self.namespace, BRAIN) in self.dr.objects
        what = (f"old API {loss.api_server} {'still answers' if old_answers else 'no longer answers'}; "
                f"DR cluster {'already runs' if dr_runs_brain else 'runs no'} {BRAIN}")
        return LossProof(not old_answers and not dr_runs_brain, what,
                         {"old_api_answers": old_answers, "dr_runs_brain": dr_runs_brain})

    def finish_teardown(self) -> None:
        self.calls.append("finish_teardown")

    def provision_cluster(self) -> Cluster:
        self.calls.append("provision_cluster")
        self.current.add_deployment(BRAIN, namespace=self.namespace, replicas=self.brain_replicas)
        return self.cluster()

    def deploy_clean_namespace(self, namespace: str) -> Cluster:
        self.calls.append(f"deploy_clean_namespace:{namespace}")
        self.settings = self.settings.model_copy(update={"namespace": namespace})
        return self.provision_cluster()

    def end_recovery(self) -> list[str]:
        self.calls.append("end_recovery")
        return []

    def load_balancer_address(self) -> str:
        return f"lb-{self.current.context}.fake.test"

    def rotate_redis_password(self, new_password: str) -> None:
        self.calls.append("rotate_redis_password")
        self.redis().config_set("requirepass", new_password)
        self.rotated_password = new_password

    def close(self) -> None:
        """Nothing to release: the fixtures own the servers."""


def verdict_of(action: Callable[[], object]) -> tuple[Verdict, str]:
    """Run one drill step and classify what stopped it, as the drill's pytest plugin does for a scenario."""
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - the verdict is the point
        return classify(exc)
    return classify(None)
