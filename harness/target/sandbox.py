"""The sandbox as a Target: the same operations as production, on local real parts.

Losing the cluster deletes the kwok cluster and kills the Redis process and its
data; a new cluster is another kwok cluster in the same state dir; the
password lives in the sandbox's 0600 secret file, which rotation rewrites.
"""

from __future__ import annotations

import shutil
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import redis

from harness.aws import AwsAccess
from harness.backup.manifest import PIPELINE
from harness.config import Settings
from harness.errors import DrillError
from harness.platform.client import Cluster, Obj
from harness.platform.stack import deploy_stack
from harness.redis_client import connect as redis_connect
from harness.safety import require_destructive
from harness.sandbox import SandboxInfo, images, processes, repoint_health
from harness.sandbox import cluster as kwok
from harness.sandbox.aws import sandbox_aws
from harness.sandbox.first_backups import config_key
from harness.sandbox.stack import with_sandbox_values
from harness.sandbox.state import (
    SandboxError,
    SandboxPaths,
    owned_processes,
    read_secret,
    save_state,
    write_secret,
)
from harness.target.base import LossProof, LossReport, PipelineRun, Target

if TYPE_CHECKING:
    from harness.restore.plane import RestorePlane


def sandbox_settings(base: Settings, info: SandboxInfo) -> Settings:
    """`base` with the sandbox's coordinates filled in (targets, floors and timings stay the user's)."""
    return base.model_copy(update={
        "target": "sandbox",
        "redis_url": info.redis_url,
        "redis_password": None,
        "store_url": info.store_url,
        "log_store_url": info.log_store_url,
        "kubeconfig": str(info.kubeconfig),
        "context": info.context,
        "namespace": info.namespace,
        "health_url": info.health_url,
        "hosted_zone_id": info.hosted_zone_id,
        "dns_record_name": info.record_name,
        "sandbox_dir": str(info.state_dir),
    })


def _api_answers(server: str) -> tuple[bool, str]:
    """Any HTTP answer (even 401) from the API server counts as answering."""
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(f"{server}/readyz", timeout=1.0, context=insecure):
            return True, ""
    except urllib.error.HTTPError as exc:
        return True, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return False, exc.__class__.__name__ + (f": {exc.reason}" if isinstance(exc, urllib.error.URLError) else "")


class SandboxTarget(Target):
    """The local sandbox, as recorded in its state dir."""

    def __init__(self, base: Settings, info: SandboxInfo) -> None:
        super().__init__(sandbox_settings(base, info))
        self.info = info
        self.paths = SandboxPaths(info.state_dir)
        self.lost_cluster: str | None = None

    def _adopt(self, info: SandboxInfo) -> None:
        """Make `info` the current sandbox: state file, settings and health endpoint all follow."""
        save_state(self.paths, info)
        self.info = info
        self.settings = self.settings.model_copy(update={
            "kubeconfig": str(info.kubeconfig), "context": info.context, "namespace": info.namespace})
        repoint_health(info.state_dir, kubeconfig=info.kubeconfig, context=info.context, namespace=info.namespace)

    def redis_password(self) -> str | None:
        return read_secret(self.info.redis_password_file)

    def nodes_description(self) -> str:
        why = f" ({self.info.nodes_note})" if self.info.nodes_note else ""
        return f"sandbox kwok nodes: simulated pods, Redis a host process, health a stub{why}"

    def why_no_hard_zone_failure(self) -> str | None:
        return ("the sandbox's nodes are kwok's simulation: no machine runs to be stopped "
                "(real nodes can: `sentinel-drill sandbox up --nodes real`, DRILL_SANDBOX_NODES=real)")

    def why_no_pin_needed(self) -> str | None:
        return "the sandbox is its own recorded cluster (its kubeconfig comes from its state dir)"

    def why_no_gateway(self) -> str | None:
        return "kwok pods never run: no Gateway serves requests (its /health is the sandbox's stand-in)"

    def aws(self) -> AwsAccess:
        """The sandbox's moto server, with its placeholder credentials (handed to each client, never exported)."""
        return sandbox_aws(self.info.s3_endpoint)

    def config_export_key(self) -> str:
        """The sandbox's Fernet key for configuration exports (written at `sandbox up`, 0600)."""
        return config_key(self.paths)

    def stack_as_deployed(self, namespace: str) -> list[Obj]:
        return with_sandbox_values(self.stack_for_deploy(namespace))

    def image_digest(self, image: str) -> str | None:
        """The sandbox's images are this machine's: their Docker image id (None where Docker has no such image)."""
        try:
            return images.image_ids((image,))[image]
        except (SandboxError, OSError, KeyError):
            return None

    def run_pipeline_backup(self, *, timeout: float) -> PipelineRun:
        """kwok pods never run, so the CronJob's Job cannot: the host runs what its container would
        (`sentinel-drill backup`, a pipeline backup), as `sandbox up` does for the store's first backup."""
        from harness.backup.take import take_backup

        started = time.monotonic()
        result = take_backup(self.redis_url, self.store(), password=self.redis_password(), origin=PIPELINE)
        return PipelineRun("the sandbox's stand-in for the backup CronJob's Job (kwok pods never run): "
                           "`sentinel-drill backup` on the host", time.monotonic() - started, result.id)

    def restore_plane(self) -> RestorePlane:
        """The sandbox's Redis is a process on this machine: stopped, given the file, started again."""
        from harness.redis_process import RedisProcess
        from harness.restore.process_plane import LocalProcessPlane

        password = self.redis_password()  # the current one: rotation rewrites the password file
        server = RedisProcess(data_dir=self.info.redis_data_dir, port=self.info.redis_port, password=password)
        return LocalProcessPlane(server, self.info.redis_url, password, snapshot_store=self.store())

    def lose_primary(self) -> LossReport:
        require_destructive(self, "destroy the cluster and the Redis data")
        name = self.info.cluster_name
        kwok.delete_cluster(name, self.paths)
        redis_proc = owned_processes(self.paths).get("redis")
        if redis_proc is not None:
            processes.terminate(redis_proc, timeout=10.0)
        removed = sorted(p.name for p in self.info.redis_data_dir.iterdir()) if self.info.redis_data_dir.exists() else []
        shutil.rmtree(self.info.redis_data_dir, ignore_errors=True)
        self.info.redis_data_dir.mkdir(parents=True, exist_ok=True)
        self.lost_cluster = name
        return LossReport(name, self.info.api_server, self.info.redis_url,
                          {"redis_pid": redis_proc.pid if redis_proc else None, "redis_files_removed": removed})

    def prove_loss(self, loss: LossReport) -> LossProof:
        api, api_error = _api_answers(loss.api_server)
        try:
            redis_connect(loss.redis, self.redis_password(), timeout=1.0)
            redis_ok, redis_error = True, ""
        except DrillError as exc:
            redis_ok, redis_error = False, exc.message
        return LossProof(
            confirmed=not api and not redis_ok,
            what=(f"old API {loss.api_server} {'still answers' if api else 'no longer answers'} ({api_error}); "
                  f"old Redis {loss.redis} {'still answers' if redis_ok else 'no longer answers'} ({redis_error})"),
            evidence={"api_answers": api, "redis_answers": redis_ok, **loss.details},
        )

    def finish_teardown(self) -> None:
        """Delete the current kwok cluster if its API is gone (idempotent: stops any straggler process)."""
        answers, _ = _api_answers(self.info.api_server)
        if self.lost_cluster or not answers:
            kwok.delete_cluster(self.lost_cluster or self.info.cluster_name, self.paths)

    def provision_cluster(self) -> Cluster:
        stamp = datetime.now(UTC).strftime("%H%M%S")
        name = f"{self.info.cluster_name.split('-dr-')[0]}-dr-{stamp}"
        bins = kwok.bin_dir()
        creating = kwok.start_create(name, bins, self.paths, timeout=120)
        cluster = kwok.finish_create(creating, name, self.paths, timeout=120)
        kwok.create_nodes(cluster, timeout=120)
        kwok.create_redis_volume(cluster, self.paths, namespace=self.info.namespace)
        objects = self.stack_as_deployed(self.info.namespace)  # Secrets: from the export
        deploy_stack(cluster, objects, namespace=self.info.namespace, timeout=120)
        self._adopt(replace(self.info, cluster_name=name, context=f"kwok-{name}", api_server=cluster.server,
                            ports={**{k: v for k, v in self.info.ports.items() if "/" not in k},
                                   **kwok.api_ports(self.paths, name)}))
        return cluster

    def deploy_clean_namespace(self, namespace: str) -> Cluster:
        cluster = self.cluster()
        kwok.create_redis_volume(cluster, self.paths, namespace=namespace, name=f"sandbox-redis-data-{namespace}")
        objects = self.stack_as_deployed(namespace)  # fresh Secrets come from the rotation
        deploy_stack(cluster, objects, namespace=namespace, timeout=120)
        self._adopt(replace(self.info, namespace=namespace))
        return cluster

    def end_recovery(self) -> list[str]:
        """The sandbox recovers in place: the new cluster or clean namespace simply is the sandbox now."""
        return []

    def load_balancer_address(self) -> str:
        return f"lb-{self.info.cluster_name}.{self.info.hosted_zone_name}"

    def rotate_redis_password(self, new_password: str) -> None:
        client = self.redis()
        client.config_set("requirepass", new_password)
        try:
            client.execute_command("AUTH", new_password)
            client.config_rewrite()  # the server's 0600 conf file now holds only the new password
        except redis.RedisError as exc:
            raise DrillError(f"Redis accepted the new password but CONFIG REWRITE failed: {exc}",
                             fix="check the redis.conf permissions in the sandbox state dir") from None
        write_secret(self.info.redis_password_file, new_password)

    def close(self) -> None:
        """The sandbox's lifetime is owned by open_target; nothing to release here."""
