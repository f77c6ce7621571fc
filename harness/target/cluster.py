"""A real Kubernetes target (staging, production's DR): never destroyed, restored in parallel.

The runbook's quarterly test "spins up a parallel environment": on a real target
scenario 3's "loss" and scenario 4's "clean deploy" both move the drill's own
target to the configured DR environment (context, namespace, Redis, health URL,
the drill's DNS record), which must start empty. Everything after that is the
same code as on the sandbox. Before the first write the DR environment is proven
not to be production and empty, then claimed for this run
(harness.target.recovery_environment). A DR Redis that is the DR stack's own
(`dr_redis_url: k8s://<dr_namespace>/redis:6379`) is absent until the clean deploy
creates it: counted as empty, and claimed when it first answers, before the
restore writes to it. When the scenario ends only a claimed
environment is released: the objects labelled with this run's id deleted, the DR
Redis emptied while its claim key holds this run's id and given back its
configured password, and the target points at production again, so the next
scenario and the next drill start from the same place. Production is never
written to.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

import redis

from harness.backup.config_export import KEY_ENV
from harness.config import Settings
from harness.dns import same_record
from harness.errors import ConfigError, DrillError
from harness.ownership import REDIS_CLAIM_KEY, stamp
from harness.platform.client import Cluster, ObjectNotFound, namespaced
from harness.platform.port_forward import is_k8s_url, parse_k8s_url
from harness.platform.redis_volume import ClusterRedisVolumeOps
from harness.platform.stack import deploy_stack
from harness.target import distinct
from harness.target import recovery_environment as recovery_env
from harness.target.base import LossProof, LossReport, Target
from harness.target.restore_planes import network_plane, volume_plane
from harness.undo import cluster_ref, ledger_for

if TYPE_CHECKING:
    from harness.restore.plane import RestorePlane

DR_FIELDS = ("dr_context", "dr_redis_url", "dr_health_url", "dr_dns_record_name")
#: how long the DR stack's own Redis may take to answer after the clean deploy (its Secret restored first)
DR_REDIS_START_TIMEOUT = 300.0


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
        #: this run's claim on the DR environment; only a claimed environment is ever released
        self.claim: recovery_env.Claim | None = None
        #: what showed the DR environment is not production (for the evidence)
        self.distinct: distinct.DistinctProof | None = None

    @property
    def in_recovery_environment(self) -> bool:
        return self.settings is not self.production

    def recovery_replaces_production(self) -> bool:
        """Scenarios 3 and 4 recover into the DR environment; production is never replaced."""
        return not self.in_recovery_environment

    def restore_plane(self) -> RestorePlane:
        """`redis_restore_method` decides: the runbook's volume copy (file) or DUMP/RESTORE (network).

        The file restore's helper pod runs `restore_helper_image` with `restore_helper_pull_policy` (a
        local image and Never where nodes cannot pull). A DR Redis absent when the environment was
        claimed is claimed here, once it answers, before the gate writes to it.
        """
        self._claim_pending_redis()
        if self.settings.redis_restore_method == "network":
            return network_plane(self)
        cluster = self.cluster()
        ops = ClusterRedisVolumeOps(cluster, self.namespace, helper_image=self.settings.restore_helper_image,
                                    helper_pull_policy=self.settings.restore_helper_pull_policy)
        return volume_plane(self, cluster, ops)

    def restore_owner(self) -> str | None:
        """In a claimed DR environment, this run: the restore keeps (and sets again) the Redis's claim key."""
        return self.claim.run_id if self.in_recovery_environment and self.claim is not None else None

    def config_export_key(self) -> str:
        key = os.environ.get(KEY_ENV)
        if not key:
            raise ConfigError("no key for the configuration export", fix=f"set {KEY_ENV} (a Fernet key)")
        return key

    @property
    def run_id(self) -> str:
        if not self.settings.run_id:
            raise DrillError("this run has no run id", fix="open the target through harness.target.open_target")
        return self.settings.run_id

    def recovery_target(self, *, purpose: str) -> ClusterTarget:
        """A separate target for the DR coordinates (its own port-forwards); the caller releases its forwards."""
        return ClusterTarget(dr_settings(self.production, purpose=purpose))

    def require_distinct_recovery_environment(self, *, purpose: str) -> distinct.DistinctProof:
        """SafetyRefused naming the setting unless the DR coordinates are provably not production; writes nothing."""
        production = ClusterTarget(self.production)
        recovery = self.recovery_target(purpose=purpose)
        try:
            return distinct.prove_distinct(production, recovery)
        finally:
            production.release_redis_forwards()
            recovery.release_redis_forwards()

    def _enter_recovery_environment(self, *, purpose: str) -> None:
        if not self.in_recovery_environment:
            self.distinct = self.require_distinct_recovery_environment(purpose=purpose)
            self.settings = dr_settings(self.production, purpose=purpose)

    def lose_primary(self) -> LossReport:
        """Switch to the DR environment (cluster, Redis, health URL, the drill's DNS record); production is never touched."""
        self._enter_recovery_environment(purpose="scenario 3")
        return LossReport(self.production.context or "current", "(not touched)", "(not touched)",
                          {"mode": "parallel environment", "dr_context": self.settings.context,
                           "dr_namespace": self.namespace,
                           "distinct_from_production": self.distinct.to_json() if self.distinct else None})

    def redis_absence(self) -> str | None:
        """Why the DR Redis cannot be asked yet, or None: a `k8s://` dr_redis_url in the DR namespace naming no
        Service and no pod there is the DR stack's own Redis, not deployed yet (the clean deploy creates it)."""
        url = self.settings.redis_url
        if not is_k8s_url(url) or url != self.settings.dr_redis_url:
            return None
        address = parse_k8s_url(url or "")
        if address.namespace != self.namespace:
            return None
        cluster = self.cluster()
        plurals = {"either": ("services", "pods"), "service": ("services",), "pod": ("pods",)}[address.kind]
        for plural in plurals:
            try:
                cluster.get(namespaced("v1", plural, address.namespace, address.name))
                return None
            except ObjectNotFound:
                continue
        return f"the DR Redis {address.describe()} does not exist yet (the clean deploy creates it)"

    def recovery_environment_state(self) -> tuple[bool, str]:
        """(empty, what was found): no SENTINEL, claim or drill object in the DR namespace, no key in the DR Redis
        (an absent DR Redis, the DR stack's own before the clean deploy, holds none)."""
        absent = self.redis_absence()
        try:
            client = None if absent else self.redis()
            found = recovery_env.emptiness(self.cluster(), self.namespace, client)
        except redis.RedisError as exc:
            raise DrillError(f"the DR Redis does not answer: {exc.__class__.__name__}",
                             fix="check dr_redis_url and DR_REDIS_PASSWORD") from None
        if found:
            return False, "; ".join(found)
        if absent:
            return True, f"namespace {self.namespace} is empty and {absent}: counted as empty"
        return True, f"namespace {self.namespace} and the DR Redis are empty"

    def claim_recovery_environment(self) -> recovery_env.Claim:
        """Prove the DR environment empty, then claim it for this run (DrillError naming what is in it otherwise)."""
        if self.claim is not None:
            return self.claim
        empty, what = self.recovery_environment_state()
        if not empty:
            raise DrillError(f"the DR environment is not empty: {what}",
                             fix="run `sentinel-drill recover` or tear the DR environment down by hand")
        cluster = self.cluster()
        # the undo first: a run killed after the claim leaves `recover` what to release (its own marks only)
        ledger = ledger_for(self)
        entry = ledger.before("release_recovery_environment", action=f"claim DR namespace {self.namespace}",
                              cluster=cluster_ref(cluster), namespace=self.namespace, run_id=self.run_id,
                              redis_url=self.settings.redis_url)
        try:
            client = None if self.redis_absence() else self.redis()
            self.claim = recovery_env.claim(cluster, self.namespace, client, self.run_id,
                                            production=f"{self.production.context or 'current'}/"
                                                       f"{self.production.namespace}")
        except DrillError:
            ledger.done(entry, how="claim refused: nothing of this run to release")
            raise
        return self.claim

    def _claim_pending_redis(self) -> None:
        """Claim the DR Redis that was absent when the environment was claimed: once it answers, shown not to be
        production's (nor its replica) and still empty; DrillError/SafetyRefused otherwise, nothing written."""
        claimed = self.claim
        if claimed is None or not claimed.redis_pending or not self.in_recovery_environment:
            return
        self.redis_dbsize(timeout=DR_REDIS_START_TIMEOUT)  # the clean deploy's Redis is starting
        client = self.redis()
        if self.distinct is not None:
            distinct.require_not_production_redis(self.distinct, self.production, self.settings, client)
        recovery_env.claim_redis(client, claimed.run_id)
        self.claim = dataclasses.replace(claimed, redis_pending=False,
                                         objects=(*claimed.objects, f"redis key {REDIS_CLAIM_KEY}"))

    def _redis_not_started(self) -> bool:
        """The DR Redis was absent when claimed (the DR stack's own) and does not answer yet."""
        if self.claim is None or not self.claim.redis_pending:
            return False
        try:
            self.redis().ping()
        except redis.AuthenticationError:  # it runs, with another password: the rotation must reach it
            return False
        except (DrillError, redis.RedisError):
            return True
        return False

    def prove_loss(self, loss: LossReport) -> LossProof:
        """The DR environment must start empty, or the restore would prove nothing; an empty one is claimed."""
        empty, what = self.recovery_environment_state()
        evidence: dict[str, object] = {"dr_context": self.settings.context, "namespace": self.namespace}
        if empty:
            evidence["claim"] = self.claim_recovery_environment().to_json()
        return LossProof(empty, f"DR environment: {what}", evidence)

    def finish_teardown(self) -> None:
        """Nothing was destroyed on a real target."""

    def provision_cluster(self) -> Cluster:
        """The stack applied to the DR environment; its pods start once the export's Secrets are restored."""
        if self.claim is None:
            raise DrillError("refusing to deploy into an unclaimed DR environment",
                             fix="the DR environment is claimed when it is proven empty (scenario 3's fault proof)")
        cluster = self.cluster()
        deploy_stack(cluster, self.stack_for_deploy(self.namespace), namespace=self.namespace, wait=False)
        return cluster

    def deploy_clean_namespace(self, namespace: str) -> Cluster:
        """Scenario 4's clean deploy goes to the (empty) DR environment's namespace, never next to production."""
        self._enter_recovery_environment(purpose="scenario 4")
        self.claim_recovery_environment()
        return self.provision_cluster()

    def stack_for_deploy(self, namespace: str) -> list[dict[str, object]]:
        """The stack, labelled with this run's id (release deletes by that label); the Namespace object left out:
        the DR namespace is not the drill's to own or delete."""
        return stamp([o for o in super().stack_for_deploy(namespace) if o["kind"] != "Namespace"], self.run_id)

    def end_recovery(self) -> list[str]:
        """Release the DR environment if this run claimed it, and point the target at production again (idempotent)."""
        if not self.in_recovery_environment:
            return []
        try:
            if self.claim is None:
                return ["DR environment not claimed by this run: nothing removed"]
            client = None
            try:
                client = self.redis()
            except DrillError as exc:
                removed = [f"DR Redis not reached ({exc.message}): not emptied"]
            else:
                removed = []
            removed = recovery_env.release(self.cluster(), self.namespace, self.run_id, client,
                                           configured_password=super().redis_password(),
                                           rotated=self.rotated_password is not None) + removed
            ledger_for(self).settle("release_recovery_environment", how="released by the drill",
                                    namespace=self.namespace, run_id=self.run_id)
            return removed
        finally:
            self.release_redis_forwards()
            self.settings = self.production
            self.rotated_password = None
            self.claim = None

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
        if self._redis_not_started():
            # the DR stack's own Redis, deployed without its Secret: it starts from the Secret the rotation writes
            self.rotated_password = new_password
            return
        client = self.redis()
        try:
            client.config_set("requirepass", new_password)
        except redis.RedisError as exc:
            raise DrillError(f"Redis refused the new password: {exc}", fix="check the Redis ACL/CONFIG rights") from None
        self.rotated_password = new_password

    def close(self) -> None:
        """Nothing to release."""
