"""A real Kubernetes target (staging, production's DR): never destroyed, restored in parallel.

The runbook's quarterly test "spins up a parallel environment": on a real target
scenario 3's "loss" and scenario 4's "clean deploy" both move the drill's own
target to the configured DR environment (context, namespace, Redis, health URL,
the drill's DNS record), which must start empty. Everything after that is the
same code as on the sandbox. When the scenario ends the DR environment is torn
down (the stack deleted, the DR Redis emptied and given back its configured
password) and the target points at production again, so the next scenario and
the next drill start from the same place. Production is never written to.
"""

from __future__ import annotations

import os

import redis

from harness.backup.config_export import KEY_ENV
from harness.config import Settings
from harness.dns import same_record
from harness.errors import ConfigError, DrillError
from harness.platform.client import Cluster, ObjectNotFound, namespaced
from harness.platform.manifests import delete_objects
from harness.platform.redis_data import KubernetesRedisData, NetworkRedisData, RedisDataPlane
from harness.platform.redis_volume import ClusterRedisVolumeOps
from harness.platform.stack import deploy_stack
from harness.target.base import LossProof, LossReport, Target

DR_FIELDS = ("dr_context", "dr_redis_url", "dr_health_url", "dr_dns_record_name")


def dr_settings(production: Settings, *, purpose: str) -> Settings:
    """Production's settings moved to the DR environment; ConfigError naming what is missing."""
    missing = [name for name in DR_FIELDS if not getattr(production, name)]
    if missing:
        raise ConfigError(
            f"{purpose} on target {production.target!r} needs a parallel DR environment: {', '.join(missing)} unset",
            fix="set them in the config file; a drill restores next to production and never moves its DNS record",
        )
    if production.dns_record_name and same_record(production.dr_dns_record_name or "", production.dns_record_name):
        raise ConfigError("dr_dns_record_name is production's record",
                          fix="give the drill its own record (e.g. dr-drill.sentinel.example.com)")
    return production.model_copy(update={
        "kubeconfig": production.dr_kubeconfig or production.kubeconfig,
        "context": production.dr_context,
        "namespace": production.dr_namespace or production.namespace,
        "redis_url": production.dr_redis_url,
        "redis_password": production.dr_redis_password,
        "health_url": production.dr_health_url,
        "dns_record_name": production.dr_dns_record_name,
    })


class ClusterTarget(Target):
    """A configured cluster reached through its kubeconfig/context; the DR environment receives restores."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.production = settings
        self.rotated_password: str | None = None

    @property
    def in_recovery_environment(self) -> bool:
        return self.settings is not self.production

    def recovery_replaces_production(self) -> bool:
        """Scenarios 3 and 4 recover into the DR environment; production is never replaced."""
        return not self.in_recovery_environment

    def redis_data(self) -> RedisDataPlane:
        """`redis_restore_method` decides: the runbook's volume copy (file) or DUMP/RESTORE (network)."""
        if self.settings.redis_restore_method == "network":
            return NetworkRedisData(self.redis_url, self.redis_password())
        return KubernetesRedisData(ClusterRedisVolumeOps(self.cluster(), self.namespace), namespace=self.namespace,
                                   dbsize=self.redis_dbsize)

    def config_export_key(self) -> str:
        key = os.environ.get(KEY_ENV)
        if not key:
            raise ConfigError("no key for the configuration export", fix=f"set {KEY_ENV} (a Fernet key)")
        return key

    def _enter_recovery_environment(self, *, purpose: str) -> None:
        if not self.in_recovery_environment:
            self.settings = dr_settings(self.production, purpose=purpose)

    def lose_primary(self) -> LossReport:
        """Switch to the DR environment (cluster, Redis, health URL, the drill's DNS record); production is never touched."""
        self._enter_recovery_environment(purpose="scenario 3")
        return LossReport(self.production.context or "current", "(not touched)", "(not touched)",
                          {"mode": "parallel environment", "dr_context": self.settings.context,
                           "dr_namespace": self.namespace})

    def recovery_environment_state(self) -> tuple[bool, str]:
        """(empty, what was found): the DR namespace runs no SENTINEL and the DR Redis holds no key."""
        found: list[str] = []
        try:
            self.cluster().get(namespaced("apps/v1", "deployments", self.namespace, "sentinel-brain"))
            found.append(f"namespace {self.namespace} already runs sentinel-brain")
        except ObjectNotFound:
            pass
        try:
            keys = int(self.redis().dbsize())
        except redis.RedisError as exc:
            raise DrillError(f"the DR Redis does not answer: {exc.__class__.__name__}",
                             fix="check dr_redis_url and DR_REDIS_PASSWORD") from None
        if keys:
            found.append(f"the DR Redis holds {keys} keys")
        return not found, "; ".join(found) or f"namespace {self.namespace} and the DR Redis are empty"

    def prove_loss(self, loss: LossReport) -> LossProof:
        """The DR environment must start empty, or the restore would prove nothing."""
        empty, what = self.recovery_environment_state()
        return LossProof(empty, f"DR environment: {what}",
                         {"dr_context": self.settings.context, "namespace": self.namespace})

    def finish_teardown(self) -> None:
        """Nothing was destroyed on a real target."""

    def provision_cluster(self) -> Cluster:
        """The stack applied to the DR environment; its pods start once the export's Secrets are restored."""
        cluster = self.cluster()
        deploy_stack(cluster, self.stack_for_deploy(self.namespace), namespace=self.namespace, wait=False)
        return cluster

    def deploy_clean_namespace(self, namespace: str) -> Cluster:
        """Scenario 4's clean deploy goes to the (empty) DR environment's namespace, never next to production."""
        self._enter_recovery_environment(purpose="scenario 4")
        empty, what = self.recovery_environment_state()
        if not empty:
            raise DrillError(f"the DR environment is not empty: {what}",
                             fix="run `sentinel-drill recover` or tear the DR environment down by hand")
        return self.provision_cluster()

    def end_recovery(self) -> list[str]:
        """Tear the DR environment down and point the target at production again (idempotent)."""
        if not self.in_recovery_environment:
            return []
        stack = [o for o in self.stack_source().render(self.namespace) if o["kind"] != "Namespace"]
        removed = delete_objects(self.cluster(), stack, namespace=self.namespace)  # the namespace itself stays
        client = self.redis()
        client.flushall()
        if self.rotated_password is not None:
            configured = super().redis_password() or ""
            client.config_set("requirepass", configured)
            removed.append("rotated DR Redis password reset to the configured one")
        removed.append("DR Redis flushed")
        self.settings = self.production
        self.rotated_password = None
        return removed

    def load_balancer_address(self) -> str:
        if self.settings.load_balancer:
            return self.settings.load_balancer
        svc = self.cluster().get(namespaced("v1", "services", self.namespace, "sentinel-gateway"))
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if not ingress:
            raise DrillError(f"service {self.namespace}/sentinel-gateway has no load balancer address yet",
                             fix="set load_balancer in the config or wait for the cloud load balancer")
        return str(ingress[0].get("hostname") or ingress[0].get("ip"))

    def redis_password(self) -> str | None:
        """The password the current Redis accepts now (the rotated one after scenario 4's rotation)."""
        return self.rotated_password or super().redis_password()

    def rotate_redis_password(self, new_password: str) -> None:
        """Rotate the password of the restored clean (DR) environment's Redis; production's is never changed."""
        if not self.in_recovery_environment:
            raise DrillError("refusing to rotate production's Redis password",
                             fix="rotation happens in the clean DR environment after a clean deploy")
        client = self.redis()
        try:
            client.config_set("requirepass", new_password)
        except redis.RedisError as exc:
            raise DrillError(f"Redis refused the new password: {exc}", fix="check the Redis ACL/CONFIG rights") from None
        self.rotated_password = new_password

    def close(self) -> None:
        """Nothing to release."""
