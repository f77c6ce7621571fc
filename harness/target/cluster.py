"""A real Kubernetes target (staging, production's DR): never destroyed, restored in parallel.

The runbook's quarterly test "spins up a parallel environment": on a real target
scenario 3's "loss" is switching to the configured DR context/namespace, which
must start empty; everything after that is the same code as on the sandbox.
"""

from __future__ import annotations

import os

import redis

from harness.dns import same_record
from harness.errors import ConfigError, DrillError
from harness.platform.client import Cluster, ObjectNotFound, namespaced
from harness.platform.redis_data import RedisDataPlane, redis_data_plane
from harness.platform.stack import deploy_stack, stack_in
from harness.secrets import KEY_ENV
from harness.target.base import LossProof, LossReport, Target


def deploy(cluster: Cluster, namespace: str, *, timeout: float) -> None:
    """deploy/ without its Secrets (those come from the export or the rotation) into `namespace`, rolled out."""
    deploy_stack(cluster, stack_in(namespace, with_secrets=False), namespace=namespace, timeout=timeout)


class ClusterTarget(Target):
    """A configured cluster reached through its kubeconfig/context; the DR context receives restores."""

    def redis_data(self) -> RedisDataPlane:
        return redis_data_plane(self.settings)

    def config_export_key(self) -> str:
        key = os.environ.get(KEY_ENV)
        if not key:
            raise ConfigError("no key for the configuration export", fix=f"set {KEY_ENV} (a Fernet key)")
        return key

    def lose_primary(self) -> LossReport:
        """Switch to the DR environment (cluster, Redis, health URL, the drill's DNS record); production is never touched."""
        settings = self.settings
        required = {"dr_context": settings.dr_context, "dr_redis_url": settings.dr_redis_url,
                    "dr_health_url": settings.dr_health_url, "dr_dns_record_name": settings.dr_dns_record_name}
        missing = [name for name, value in required.items() if not value]
        if missing:
            raise ConfigError(
                f"scenario 3 on target {settings.target!r} needs a parallel DR environment: {', '.join(missing)} unset",
                fix="set them in the config file; a drill restores next to production and never moves its DNS record",
            )
        if settings.dns_record_name and same_record(str(settings.dr_dns_record_name), settings.dns_record_name):
            raise ConfigError("dr_dns_record_name is production's record",
                              fix="give the drill its own record (e.g. dr-drill.sentinel.example.com)")
        primary = settings.context or "current"
        self.settings = settings.model_copy(update={
            "kubeconfig": settings.dr_kubeconfig or settings.kubeconfig,
            "context": settings.dr_context,
            "namespace": settings.dr_namespace or settings.namespace,
            "redis_url": settings.dr_redis_url,
            "health_url": settings.dr_health_url,
            "dns_record_name": settings.dr_dns_record_name,
        })
        return LossReport(primary, "(not touched)", "(not touched)",
                          {"mode": "parallel environment", "dr_context": self.settings.context,
                           "dr_namespace": self.settings.namespace})

    def prove_loss(self, loss: LossReport) -> LossProof:
        """The DR namespace must not already run SENTINEL, or the restore would prove nothing."""
        cluster = self.cluster()
        try:
            cluster.get(namespaced("apps/v1", "deployments", self.namespace, "sentinel-brain"))
            present = True
        except ObjectNotFound:
            present = False
        return LossProof(not present, f"DR namespace {self.namespace} "
                         f"{'already runs sentinel-brain' if present else 'is empty of SENTINEL'}",
                         {"dr_context": self.settings.context, "namespace": self.namespace})

    def finish_teardown(self) -> None:
        """Nothing was destroyed on a real target."""

    def provision_cluster(self) -> Cluster:
        cluster = self.cluster()
        deploy(cluster, self.namespace, timeout=self.settings.rto_seconds)
        return cluster

    def deploy_clean_namespace(self, namespace: str) -> Cluster:
        cluster = self.cluster()
        deploy(cluster, namespace, timeout=self.settings.rto_seconds)
        self.settings = self.settings.model_copy(update={"namespace": namespace})
        return cluster

    def load_balancer_address(self) -> str:
        if self.settings.load_balancer:
            return self.settings.load_balancer
        svc = self.cluster().get(namespaced("v1", "services", self.namespace, "sentinel-gateway"))
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        if not ingress:
            raise DrillError(f"service {self.namespace}/sentinel-gateway has no load balancer address yet",
                             fix="set load_balancer in the config or wait for the cloud load balancer")
        return str(ingress[0].get("hostname") or ingress[0].get("ip"))

    def rotate_redis_password(self, new_password: str) -> None:
        client = self.redis()
        try:
            client.config_set("requirepass", new_password)
        except redis.RedisError as exc:
            raise DrillError(f"Redis refused the new password: {exc}", fix="check the Redis ACL/CONFIG rights") from None
        self.settings = self.settings.model_copy(update={"redis_password": new_password})

    def close(self) -> None:
        """Nothing to release."""


