"""The one seam: a Target is everything a drill touches, chosen by configuration.

Scenario code never asks "is this the sandbox?". Where an operation differs —
how a cluster is lost and replaced, where Redis keeps its RDB, how a password
is rotated — it is a method here with one implementation per kind of target.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import redis

from harness.aws import AwsAccess
from harness.backup.store import BackupStore, open_store
from harness.config import Settings, redact_url
from harness.errors import ConfigError
from harness.ownership import run_labels
from harness.platform.client import Cluster, Obj, connect, namespaced
from harness.platform.deploy_methods import StackSource, deploy_record, stack_source
from harness.platform.port_forward import forwarded_redis
from harness.platform.secret_values import secret_value
from harness.redaction import register_secret
from harness.redis_client import connect as redis_connect

if TYPE_CHECKING:
    from harness.restore.plane import RestorePlane

#: where SENTINEL keeps the Gateway's API keys (comma-separated), as deploy/gateway.yaml reads them
GATEWAY_AUTH_SECRET, GATEWAY_API_KEYS = "sentinel-auth", "api-keys"


@dataclass(frozen=True)
class LossReport:
    """What a destructive fault removed, for the evidence and the fault proof."""

    cluster: str
    api_server: str
    redis: str
    details: dict[str, Any]


@dataclass(frozen=True)
class PipelineRun:
    """One run of the backup pipeline a drill asked for: what ran, how long, and the backup id it reported."""

    how: str
    seconds: float
    backup_id: str | None
    log_tail: str = ""


#: a backup id as `sentinel-drill backup` prints it last (harness.backup.layout)
_BACKUP_ID = re.compile(r"\b(\d{8}T\d{6}Z-[0-9a-f]{6})\b")


def backup_id_in(log: str) -> str | None:
    """The last backup id a backup Job's log names (its last stdout line), or None."""
    found = _BACKUP_ID.findall(log)
    return found[-1] if found else None


@dataclass(frozen=True)
class LossProof:
    """Whether the loss is observable, in words and in the facts behind them."""

    confirmed: bool
    what: str
    evidence: dict[str, Any]


class Target(ABC):
    """A drill target: Kubernetes cluster + Redis + backup store + health URL + DNS."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._redis_forwards = ExitStack()
        self._forwarded: dict[tuple[str, str | None, str | None], str] = {}
        #: what the last clean deploy rendered (method, source, objects, their managed-by), for the record
        self.last_deploy: dict[str, Any] | None = None

    def stack_source(self) -> StackSource:
        """The configured deploy method (reference stack, manifests, kustomize or Helm chart)."""
        return stack_source(self.settings)

    def stack_for_deploy(self, namespace: str) -> list[Obj]:
        """SENTINEL's objects for `namespace` by the configured method, without Secrets (the export or the
        rotation brings those); remembered in `last_deploy`."""
        source = self.stack_source()
        objects = [o for o in source.render(namespace) if o["kind"] != "Secret"]
        self.last_deploy = deploy_record(source, objects)
        return objects

    def stack_as_deployed(self, namespace: str) -> list[Obj]:
        """The objects a deploy to `namespace` applies on this target (`stack_for_deploy` plus what the target
        adds: the sandbox's values, its real nodes' local images); what scenario 4 checks before its clean deploy."""
        return self.stack_for_deploy(namespace)

    def image_digest(self, image: str) -> str | None:
        """The digest `image` runs as on this target (`sha256:…`), or None when it cannot tell.

        A reference pinned by digest is its own answer; otherwise the image id the kubelets report for a
        pod of the target's namespace running that reference.
        """
        _, at, pinned = image.partition("@")
        if at:
            return pinned
        for pod in self.cluster().list_items(namespaced("v1", "pods", self.namespace)):
            for status in (pod.get("status") or {}).get("containerStatuses") or []:
                image_id = str(status.get("imageID") or "")
                if status.get("image") == image and "sha256:" in image_id:
                    return "sha256:" + image_id.rsplit("sha256:", 1)[1]
        return None

    @property
    def name(self) -> str:
        return self.settings.target

    def owner_labels(self) -> dict[str, str]:
        """The label every object this run creates carries (harness.ownership); {} for a run without an id."""
        return run_labels(self.settings.run_id) if self.settings.run_id else {}

    @property
    def namespace(self) -> str:
        return self.settings.namespace

    @property
    def health_url(self) -> str:
        if not self.settings.health_url:
            raise ConfigError("no health URL configured for the target", fix="set DRILL_HEALTH_URL")
        return self.settings.health_url

    @property
    def redis_url(self) -> str:
        """The URL a client reaches the current Redis at (no password in it: that comes from `redis_password`).

        A `k8s://` redis_url is port-forwarded through this target's own kubeconfig/context
        (harness.platform.port_forward) and this is the forward's local redis:// URL; the forward
        stays open until `release_redis_forwards` (open_target calls it on exit).
        """
        configured = self.settings.redis_url
        if not configured:
            raise ConfigError("no Redis URL configured for the target", fix="set DRILL_REDIS_URL")
        key = (configured, self.settings.kubeconfig, self.settings.context)  # the DR environment may reuse the URL
        if key not in self._forwarded:
            self._forwarded[key] = self._redis_forwards.enter_context(forwarded_redis(configured, self.cluster))
        return self._forwarded[key]

    def release_redis_forwards(self) -> None:
        """Close the port-forwards `redis_url` opened (idempotent)."""
        self._forwarded.clear()
        self._redis_forwards.close()

    def cluster(self) -> Cluster:
        """A client for the target's current cluster."""
        return connect(self.settings.kubeconfig, self.settings.context)

    def why_no_pin_needed(self) -> str | None:
        """None when faults need the cluster identity pinned in the config (harness.safety), else why not."""
        return None

    def why_no_gateway(self) -> str | None:
        """None when a real Gateway serves requests at `gateway_url()`, else why not (the smoke test is NOT RUN)."""
        if not self.settings.integration_smoke:
            return (f"integration_smoke is false for target {self.name!r}: its health URL is not SENTINEL's "
                    "Gateway, so there is no Gateway to send requests to")
        return None

    def gateway_url(self) -> str:
        """The Gateway's base URL: the health URL without its `/health` path (both are the Gateway's)."""
        url = urlsplit(self.health_url)
        if not url.path.rstrip("/").endswith("/health"):
            raise ConfigError(f"cannot tell the Gateway's URL from health URL {url.scheme}://{url.netloc}{url.path}: "
                              "its path does not end in /health",
                              fix="set DRILL_HEALTH_URL to the Gateway's /health (e.g. https://sentinel.example/health)")
        base = url.path.rstrip("/").removesuffix("/health")
        return urlunsplit((url.scheme, url.netloc, base, "", ""))

    def gateway_api_key(self) -> str:
        """The first API key of Secret sentinel-auth in the current cluster (registered for redaction)."""
        keys = secret_value(self.cluster(), namespace=self.namespace, name=GATEWAY_AUTH_SECRET,
                            key=GATEWAY_API_KEYS)
        for key in keys.split(","):
            register_secret(key.strip())
        first = next((k.strip() for k in keys.split(",") if k.strip()), None)
        if first is None:
            raise ConfigError(f"secret {self.namespace}/{GATEWAY_AUTH_SECRET} key {GATEWAY_API_KEYS!r} holds no key",
                              fix="put the Gateway's API keys, comma-separated, in it")
        return first

    def redis_password(self) -> str | None:
        secret = self.settings.redis_password
        return secret.get_secret_value() if secret else None

    def redis(self, *, password: str | None = None) -> redis.Redis:
        """A client for the target's production Redis (current password unless one is given)."""
        return redis_connect(self.redis_url, password or self.redis_password())

    def nodes_description(self) -> str:
        """What ran the pods, for the evidence: an auditor must know whether software really ran."""
        return "the target's own Kubernetes nodes"

    def redis_dbsize(self, timeout: float) -> int:
        """DBSIZE of the target's Redis, asked until it answers within `timeout` (it may be restarting)."""
        from harness.errors import DrillError
        from harness.polling import wait_until

        answer: list[int] = []

        def asked() -> bool | None:
            try:
                answer.append(int(self.redis().dbsize()))
                return True
            except (DrillError, redis.RedisError):
                return None

        # named by its configured URL: `redis_url` would open a k8s:// forward, which fails while no pod is ready
        shown = redact_url(self.settings.redis_url or "")
        wait_until(asked, timeout=timeout, interval=0.25, what=f"Redis at {shown} to answer DBSIZE",
                   describe=lambda: "no answer (restarting, or the password is not the one it loaded)")
        return answer[-1]

    def why_no_hard_zone_failure(self) -> str | None:
        """None when this target can stop a zone's machines outright (scenario 2's hard failure), else why not."""
        return (f"target {self.name!r} has no power switch for a zone's machines (on a cloud that is the "
                "provider's fault injection, e.g. an AWS FIS availability-zone power interruption)")

    def stop_zone(self, zone: str) -> list[str]:
        """Stop every machine of `zone` at once, kubelets and containers together; return the nodes stopped."""
        raise ConfigError(f"cannot stop zone {zone}: {self.why_no_hard_zone_failure()}",
                          fix="run scenario 2 with zone_failure: drain (DRILL_ZONE_FAILURE=drain)")

    def restart_zone(self, zone: str) -> list[str]:
        """Give back what `stop_zone` stopped (its rollback); return the nodes restarted."""
        raise ConfigError(f"cannot restart zone {zone}: {self.why_no_hard_zone_failure()}",
                          fix="run scenario 2 with zone_failure: drain (DRILL_ZONE_FAILURE=drain)")

    def zone_cgroups(self, zone: str) -> list[str]:
        """Where a stopped zone's machines can be restarted by `recover` after a crash (host cgroups; [] if none)."""
        return []

    def aws(self) -> AwsAccess:
        """How this target's S3 and Route 53 are reached (boto3's chain unless an endpoint is configured)."""
        return AwsAccess(endpoint_url=self.settings.aws_endpoint_url)

    def store(self) -> BackupStore:
        if not self.settings.store_url:
            raise ConfigError("no backup store configured for the target", fix="set DRILL_STORE_URL")
        return open_store(self.settings.store_url, retention_days=self.settings.store_retention_days,
                          lock_mode=self.settings.store_lock_mode, aws=self.aws())

    def run_pipeline_backup(self, *, timeout: float) -> PipelineRun:
        """Ask the backup pipeline for a backup now, as an operator would: a Job from the CronJob `backup_cronjob`'s
        template in the target's namespace (`kubectl create job --from=cronjob/redis-backup`), labelled with this
        run's id, waited for. JobFailed (with its log) when the Job fails; ObjectNotFound without the CronJob."""
        from harness.platform.jobs import run_cronjob_now

        run = run_cronjob_now(self.cluster(), self.settings.backup_cronjob, namespace=self.namespace,
                              timeout=timeout, labels=self.owner_labels())
        return PipelineRun(f"job {run.namespace}/{run.name} from cronjob/{self.settings.backup_cronjob}",
                           run.seconds, backup_id_in(run.log_tail), run.log_tail)

    def recovery_replaces_production(self) -> bool:
        """Whether a scenario's recovery now *is* production (the sandbox), or ran in a parallel environment."""
        return True

    def log_store(self) -> BackupStore:
        """Where the daily log archives live (`log_store_url`), under the bucket's lifecycle rules."""
        if not self.settings.log_store_url:
            raise ConfigError("no log archive store configured for the target", fix="set DRILL_LOG_STORE_URL")
        return open_store(self.settings.log_store_url, aws=self.aws())

    @abstractmethod
    def config_export_key(self) -> str:
        """The Fernet key the configuration export is encrypted with (never printed)."""

    @abstractmethod
    def restore_plane(self) -> RestorePlane:
        """How a backup reaches the target's Redis (network, Kubernetes volume or local process): what the restore
        gate (harness.restore.run.restore_to) drives. Snapshots of a non-empty Redis go to the target's store."""

    def restore_owner(self) -> str | None:
        """The run id whose claim key marks the target's Redis as filled by this run (a claimed DR Redis), else None."""
        return None

    @abstractmethod
    def lose_primary(self) -> LossReport:
        """Destroy the cluster and the Redis data (scenario 3's fault); guarded by harness.safety."""

    @abstractmethod
    def prove_loss(self, loss: LossReport) -> LossProof:
        """Check that what `lose_primary` removed no longer answers."""

    @abstractmethod
    def finish_teardown(self) -> None:
        """Make sure nothing of a lost primary lingers half-alive (rollback of the loss)."""

    @abstractmethod
    def provision_cluster(self) -> Cluster:
        """Deploy SENTINEL (without its Secrets) to a new cluster and make it the target's current one."""

    @abstractmethod
    def deploy_clean_namespace(self, namespace: str) -> Cluster:
        """Deploy SENTINEL (without its Secrets) into a fresh namespace and make it the current one."""

    @abstractmethod
    def end_recovery(self) -> list[str]:
        """When a scenario ends: release what its recovery built beside production; return what was removed."""

    @abstractmethod
    def load_balancer_address(self) -> str:
        """The DNS name SENTINEL's record must point at for the current cluster."""

    @abstractmethod
    def rotate_redis_password(self, new_password: str) -> None:
        """Make `new_password` the only one Redis accepts, everywhere the target keeps it."""

    @abstractmethod
    def close(self) -> None:
        """Release what opening the target started (the sandbox it brought up)."""
