"""Prove the DR environment is not production, by what the servers say rather than the text of the settings.

A DR setting that points back at production (an unset `dr_namespace`, the same
context, production's Redis under another address, production's DNS record)
would turn the drill's teardown of "its" environment into a wipe of production.
`prove_distinct` compares: the clusters' kube-system UIDs with the namespaces,
the Redis servers' `run_id` and replication ids (a replica of production holds
production's data), the health URLs, and the DNS records by name and as a CNAME
alias. It writes nothing; a match is a SafetyRefused naming the setting to change.
A DR Redis that is the DR stack's own and not deployed yet (`k8s://` in the DR
namespace, no such Service or pod) has no identity to compare: the proof says it
is absent, and the server that later answers there is compared with production's
before the drill claims it (`require_not_production_redis`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import redis

from harness.config import Settings, redact_url
from harness.dns import same_record
from harness.errors import DrillError, SafetyRefused
from harness.safety import ClusterIdentity, read_identity

if TYPE_CHECKING:
    from harness.target.cluster import ClusterTarget


@dataclass(frozen=True)
class RedisIdentity:
    """Who a Redis server is, by its own word: `run_id` (one per server process) and its replication ids."""

    run_id: str
    replication_ids: frozenset[str]
    role: str

    def same_server(self, other: RedisIdentity) -> bool:
        return bool(self.run_id) and self.run_id == other.run_id

    def same_data(self, other: RedisIdentity) -> bool:
        """Master and replica share a replication id: writing to either writes production's data."""
        return bool(self.replication_ids & other.replication_ids)


_NO_REPLID = "0" * 40


def read_redis_identity(client: redis.Redis) -> RedisIdentity:
    """`INFO server` run_id and `INFO replication` ids of the server `client` reaches."""
    server = client.info("server")
    replication = client.info("replication")
    ids = {str(replication.get(k) or "") for k in ("master_replid", "master_replid2")}
    return RedisIdentity(str(server.get("run_id") or ""), frozenset(i for i in ids if i and i != _NO_REPLID),
                         str(replication.get("role") or "?"))


def _same_url(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False

    def norm(url: str) -> str:
        p = urlsplit(url.strip())
        return urlunsplit((p.scheme.lower(), p.netloc.lower(), p.path.rstrip("/") or "/", p.query, ""))

    return norm(a) == norm(b)


@dataclass(frozen=True)
class DistinctProof:
    """What showed the DR environment is not production (for the evidence: identities, never secrets)."""

    production_cluster: ClusterIdentity
    recovery_cluster: ClusterIdentity
    production_namespace: str
    recovery_namespace: str
    production_redis: RedisIdentity
    #: None while the DR Redis is absent (the clean deploy creates it)
    recovery_redis: RedisIdentity | None
    production_record: str | None
    recovery_record: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "production": {"cluster": self.production_cluster.describe(), "namespace": self.production_namespace,
                           "redis_run_id": self.production_redis.run_id, "dns_record": self.production_record},
            "dr": {"cluster": self.recovery_cluster.describe(), "namespace": self.recovery_namespace,
                   "redis_run_id": self.recovery_redis.run_id if self.recovery_redis else None,
                   "redis": "present" if self.recovery_redis else "absent until the clean deploy",
                   "dns_record": self.recovery_record},
        }


def _refuse(message: str, fix: str) -> SafetyRefused:
    return SafetyRefused(f"refusing to use the DR environment: {message}", fix=fix)


def _require_distinct_cluster(production: Settings, recovery: Settings, prod: ClusterIdentity,
                              dr: ClusterIdentity) -> None:
    if prod.kube_system_uid != dr.kube_system_uid or production.namespace != recovery.namespace:
        return
    if production.dr_namespace is None:
        what = (f"dr_namespace is unset, so it defaults to production's namespace {production.namespace!r}, and "
                f"dr_context {production.dr_context!r} reaches production's cluster ({prod.describe()})")
    else:
        what = (f"dr_namespace {production.dr_namespace!r} in dr_context {production.dr_context!r} is production's "
                f"namespace in production's cluster ({prod.describe()})")
    raise _refuse(what, fix="set dr_namespace to a namespace of its own (e.g. sentinel-dr), or dr_context/"
                            "dr_kubeconfig to another cluster")


def _require_distinct_redis(production: Settings, recovery: Settings, prod: RedisIdentity, dr: RedisIdentity) -> None:
    shown = redact_url(recovery.redis_url or "")
    if prod.same_server(dr):
        raise _refuse(f"dr_redis_url {shown} reaches production's Redis (server run_id {prod.run_id[:12]}…, "
                      f"also reached as {redact_url(production.redis_url or '')})",
                      fix="set dr_redis_url to the DR environment's own Redis")
    if prod.same_data(dr):
        raise _refuse(f"dr_redis_url {shown} reaches a server replicating production's Redis (shared replication "
                      f"id; DR {dr.role}, production {prod.role})",
                      fix="set dr_redis_url to a Redis that does not replicate production's")


def _require_distinct_endpoints(production: Settings, record_alias: Callable[[], str | None]) -> None:
    if _same_url(production.dr_health_url, production.health_url):
        raise _refuse("dr_health_url is production's health URL: the DR recovery would be judged by production",
                      fix="set dr_health_url to the DR environment's own health endpoint")
    dr_record, prod_record = production.dr_dns_record_name, production.dns_record_name
    if dr_record and prod_record:
        if same_record(dr_record, prod_record):
            raise _refuse(f"dr_dns_record_name {dr_record!r} is production's record",
                          fix="give the drill its own record (e.g. dr-drill.sentinel.example.com)")
        alias = record_alias()
        if alias and same_record(alias, prod_record):
            raise _refuse(f"dr_dns_record_name {dr_record!r} is a CNAME of production's record {prod_record!r}: "
                          "moving it moves what production's name resolves through",
                          fix="give the drill a record that is not an alias of production's")


def prove_distinct(production: ClusterTarget, recovery: ClusterTarget) -> DistinctProof:
    """Show that `recovery` (the DR coordinates) is not `production`; SafetyRefused naming the setting if it is.

    Reads both clusters' kube-system UIDs, both Redis servers' identities and the
    DR record; writes nothing. Unreachable servers raise ConnectionFailed/AuthFailed.
    """
    prod_s, dr_s = production.settings, recovery.settings
    prod_cluster, dr_cluster = read_identity(production.cluster()), read_identity(recovery.cluster())
    _require_distinct_cluster(prod_s, dr_s, prod_cluster, dr_cluster)

    def record_alias() -> str | None:
        if not prod_s.hosted_zone_id or not dr_s.dns_record_name:
            return None
        from harness.dns import resolve_record

        try:
            return resolve_record(prod_s.hosted_zone_id, dr_s.dns_record_name, aws=production.aws())
        except Exception as exc:  # noqa: BLE001 - botocore's tree; an unreadable zone is named, not guessed
            raise DrillError(f"cannot read DR record {dr_s.dns_record_name} in zone {prod_s.hosted_zone_id}: "
                             f"{exc.__class__.__name__}", fix="check the credentials' route53 read permission") from None

    _require_distinct_endpoints(prod_s, record_alias)
    prod_redis = read_redis_identity(production.redis())
    dr_redis = None if recovery.redis_absence() else read_redis_identity(recovery.redis())
    if dr_redis is not None:
        _require_distinct_redis(prod_s, dr_s, prod_redis, dr_redis)
    return DistinctProof(prod_cluster, dr_cluster, prod_s.namespace, dr_s.namespace, prod_redis, dr_redis,
                         prod_s.dns_record_name, dr_s.dns_record_name)


def require_not_production_redis(proof: DistinctProof, production: Settings, recovery: Settings,
                                 client: redis.Redis) -> RedisIdentity:
    """The DR Redis that answers now (absent when `proof` was made) is not production's, nor replicates it."""
    found = read_redis_identity(client)
    _require_distinct_redis(production, recovery, proof.production_redis, found)
    return found
