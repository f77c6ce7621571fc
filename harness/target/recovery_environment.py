"""The parallel DR environment: proven empty, claimed for one run, and released by that claim only.

On a real target scenarios 3 and 4 restore into the `dr_*` coordinates and tear
that environment down afterwards. Once it is shown not to be production
(harness.target.distinct), it must be **empty** — no SENTINEL, no other run's
claim, no labelled object in the namespace, no key in the Redis — and is then
**claimed**: a ConfigMap carrying the run id in the namespace (the namespace
created, labelled, when it did not exist), and a claim key holding the run id in
the Redis (set only while the Redis is empty). A DR Redis that is the DR stack's
own (`k8s://` in the DR namespace) does not exist until the clean deploy creates
it: absent counts as empty, and its claim key is set when it first answers, still
empty, before anything is written to it (`claim_redis`).

Release flushes the Redis only while its claim key holds this run's id (first,
while it still answers: it may be one of the run's own objects), deletes only
objects labelled with this run's id, and deletes the namespace only when this
run created it; never a cluster-scoped object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis

from harness.errors import DrillError
from harness.ownership import CLAIM_CONFIGMAP, REDIS_CLAIM_KEY, RUN_LABEL, owner_of, run_labels, run_selector
from harness.platform.client import ApiRejected, Cluster, ObjectNotFound, cluster_scoped, namespaced
from harness.resp import reply_text

#: namespaced kinds a drill may create in the DR namespace (the stack's kinds and its own); release lists each
#: by the run's label, so a kind missing here leaves objects behind but can never delete someone else's
RELEASED_KINDS: tuple[tuple[str, str], ...] = (
    ("apps/v1", "deployments"), ("apps/v1", "statefulsets"), ("apps/v1", "daemonsets"),
    ("batch/v1", "cronjobs"), ("batch/v1", "jobs"),
    ("v1", "services"), ("v1", "configmaps"), ("v1", "secrets"), ("v1", "serviceaccounts"), ("v1", "pods"),
    ("v1", "persistentvolumeclaims"),
    ("networking.k8s.io/v1", "networkpolicies"), ("networking.k8s.io/v1", "ingresses"),
    ("policy/v1", "poddisruptionbudgets"), ("autoscaling/v2", "horizontalpodautoscalers"),
    ("rbac.authorization.k8s.io/v1", "roles"), ("rbac.authorization.k8s.io/v1", "rolebindings"),
)


def total_keys(client: redis.Redis) -> int:
    """Keys in every database of the server (`INFO keyspace`), not only the URL's."""
    return sum(int(db.get("keys", 0)) for db in client.info("keyspace").values() if isinstance(db, dict))


def _claim_path(namespace: str) -> str:
    return namespaced("v1", "configmaps", namespace, CLAIM_CONFIGMAP)


def read_claim(cluster: Cluster, namespace: str) -> dict[str, Any] | None:
    try:
        return cluster.get(_claim_path(namespace), what=f"configmap {namespace}/{CLAIM_CONFIGMAP}")
    except ObjectNotFound:
        return None


@dataclass(frozen=True)
class LabelledObject:
    """An object a drill run created: where it is and which run made it."""

    plural: str
    namespace: str
    name: str
    path: str
    owner: str | None

    def describe(self) -> str:
        return f"{self.plural.removesuffix('s')} {self.namespace}/{self.name}"

    @property
    def is_claim(self) -> bool:
        return self.plural == "configmaps" and self.name == CLAIM_CONFIGMAP


def labelled_objects(cluster: Cluster, namespace: str, *, selector: str = RUN_LABEL) -> list[LabelledObject]:
    """Objects of RELEASED_KINDS in `namespace` matching `selector` (default: made by any drill run)."""
    found: list[LabelledObject] = []
    for group_version, plural in RELEASED_KINDS:
        try:
            items = cluster.list_metadata(namespaced(group_version, plural, namespace), labelSelector=selector)
        except ObjectNotFound:  # a kind this cluster does not serve
            continue
        for item in items:
            name = item["metadata"]["name"]
            found.append(LabelledObject(plural, namespace, name, namespaced(group_version, plural, namespace, name),
                                        owner_of(item)))
    return found


def emptiness(cluster: Cluster, namespace: str, client: redis.Redis | None) -> list[str]:
    """What makes the DR environment not empty, in words ([] when it is empty); `client` None: the DR Redis is
    absent (the clean deploy creates it), which holds no key."""
    found: list[str] = []
    claim = read_claim(cluster, namespace)
    if claim is not None:
        holder = ((claim.get("data") or {}).get("run_id")) or owner_of(claim) or "?"
        found.append(f"namespace {namespace} is claimed by drill run {holder} (configmap {CLAIM_CONFIGMAP})")
    try:
        cluster.get(namespaced("apps/v1", "deployments", namespace, "sentinel-brain"))
        found.append(f"namespace {namespace} already runs sentinel-brain")
    except ObjectNotFound:
        pass
    leftovers = [o for o in labelled_objects(cluster, namespace) if not o.is_claim]
    if leftovers:
        runs = sorted({o.owner or "?" for o in leftovers})
        found.append(f"namespace {namespace} holds {len(leftovers)} object(s) of drill run(s) {', '.join(runs)}")
    keys = total_keys(client) if client is not None else 0
    if keys:
        found.append(f"the DR Redis holds {keys} keys")
    return found


@dataclass(frozen=True)
class Claim:
    """This run's claim on the DR environment: the namespace's ConfigMap and the Redis's claim key.

    `redis_pending`: the DR Redis did not exist yet when the namespace was claimed; its
    key is set when it first answers (ClusterTarget claims it before the restore writes).
    """

    run_id: str
    namespace: str
    at: str
    objects: tuple[str, ...] = field(default=())
    redis_pending: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "namespace": self.namespace, "at": self.at, "marks": list(self.objects),
                "redis_pending": self.redis_pending}


def claim_redis(client: redis.Redis, run_id: str) -> None:
    """Set the claim key while the server is empty; DrillError (nothing claimed) when it is not, or another run's.

    The key is set with NX and the keyspace read again: a key another client wrote
    meanwhile undoes the claim rather than letting a teardown flush that write.
    """
    if total_keys(client):
        raise DrillError("the DR Redis is not empty", fix="run `sentinel-drill recover`, or empty it by hand")
    client.set(REDIS_CLAIM_KEY, run_id, nx=True)
    holder = _claim_holder(client)
    others = total_keys(client) - 1
    if holder != run_id or others:
        if holder == run_id:
            client.delete(REDIS_CLAIM_KEY)
        raise DrillError(f"the DR Redis was written to while it was being claimed ({others} other key(s), claim "
                         f"key {holder!r})", fix="something else uses this Redis: point dr_redis_url at the DR's own")


def _claim_holder(client: redis.Redis) -> str | None:
    value = client.get(REDIS_CLAIM_KEY)
    return reply_text(value) if value is not None else None


def redis_claimed_by(client: redis.Redis, run_id: str) -> bool:
    return _claim_holder(client) == run_id


def claim(cluster: Cluster, namespace: str, client: redis.Redis | None, run_id: str, *,
          production: str) -> Claim:
    """Mark the (empty) DR environment as this run's: the namespace's claim ConfigMap, then the Redis's claim key
    (`client` None: the DR Redis is absent, its key pending until it answers).

    A claim another run holds is refused (DrillError), never taken over.
    """
    at = datetime.now(UTC).isoformat()
    marks = []
    if _ensure_namespace(cluster, namespace, run_id):
        marks.append(f"namespace {namespace} (created by this run)")
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": CLAIM_CONFIGMAP, "namespace": namespace, "labels": run_labels(run_id)},
            "data": {"run_id": run_id, "claimed_at": at, "production": production}}
    try:
        cluster.request("POST", namespaced("v1", "configmaps", namespace), body=body,
                        what=f"configmap {namespace}/{CLAIM_CONFIGMAP}")
    except ApiRejected as exc:
        if exc.status != 409:
            raise
        existing = read_claim(cluster, namespace) or {}
        if (existing.get("data") or {}).get("run_id") != run_id:
            raise DrillError(f"namespace {namespace} is claimed by drill run "
                             f"{(existing.get('data') or {}).get('run_id', '?')}",
                             fix="let that run finish, or run `sentinel-drill recover` where it ran") from None
    if client is None:
        return Claim(run_id, namespace, at, (*marks, f"configmap {namespace}/{CLAIM_CONFIGMAP}"), redis_pending=True)
    try:
        claim_redis(client, run_id)
    except BaseException:
        _delete_claim_map(cluster, namespace, run_id)
        raise
    return Claim(run_id, namespace, at,
                 (*marks, f"configmap {namespace}/{CLAIM_CONFIGMAP}", f"redis key {REDIS_CLAIM_KEY}"))


def _ensure_namespace(cluster: Cluster, namespace: str, run_id: str) -> bool:
    """Create `namespace` labelled with the run when it does not exist; True when this call created it."""
    path = cluster_scoped("v1", "namespaces", namespace)
    try:
        cluster.get(path, what=f"namespace {namespace}")
        return False
    except ObjectNotFound:
        pass
    cluster.request("POST", cluster_scoped("v1", "namespaces"), what=f"namespace {namespace}",
                    body={"apiVersion": "v1", "kind": "Namespace",
                          "metadata": {"name": namespace, "labels": run_labels(run_id)}})
    return True


def _delete_own_namespace(cluster: Cluster, namespace: str, run_id: str) -> bool:
    """Delete `namespace` only when this run created it (its label says so)."""
    path = cluster_scoped("v1", "namespaces", namespace)
    try:
        if owner_of(cluster.get(path, what=f"namespace {namespace}")) != run_id:
            return False
        cluster.request("DELETE", path, what=f"namespace {namespace}")
    except ObjectNotFound:
        return False
    return True


def _delete_claim_map(cluster: Cluster, namespace: str, run_id: str) -> bool:
    existing = read_claim(cluster, namespace)
    if existing is None or owner_of(existing) != run_id:
        return False
    try:
        cluster.request("DELETE", _claim_path(namespace), what=f"configmap {namespace}/{CLAIM_CONFIGMAP}")
    except ObjectNotFound:
        return False
    return True


# ----------------------------------------------------------------------------- release


def delete_run_objects(cluster: Cluster, namespace: str, run_id: str) -> list[str]:
    """Delete every object in `namespace` labelled with `run_id` (not its claim); return what was deleted."""
    removed: list[str] = []
    for obj in labelled_objects(cluster, namespace, selector=run_selector(run_id)):
        if obj.is_claim:
            continue
        try:
            cluster.request("DELETE", obj.path, body={"propagationPolicy": "Background"}, what=obj.describe())
        except ObjectNotFound:
            continue
        removed.append(obj.describe())
    return removed


def release_redis(client: redis.Redis, run_id: str, *, configured_password: str | None,
                  rotated: bool) -> list[str]:
    """Empty the DR Redis only while its claim key holds `run_id`; give back its configured password if rotated."""
    if not redis_claimed_by(client, run_id):
        holder = _claim_holder(client) or "nothing"
        return [f"DR Redis left as it is: its claim key holds {holder}, not this run's id"]
    client.flushall()
    done = ["DR Redis emptied (claimed by this run)"]
    if rotated:
        client.config_set("requirepass", configured_password or "")
        done.append("rotated DR Redis password reset to the configured one")
    return done


def release(cluster: Cluster, namespace: str, run_id: str, client: redis.Redis | None, *,
            configured_password: str | None, rotated: bool) -> list[str]:
    """Give the DR environment back: its Redis (if still claimed), this run's objects, then the claim itself.

    The Redis first: when it is the DR stack's own it goes with the run's objects, and an emptied server
    is what it saves on its way down (its volume outlives the StatefulSet for the next drill).
    """
    removed: list[str] = []
    if client is not None:
        try:
            removed += release_redis(client, run_id, configured_password=configured_password, rotated=rotated)
        except redis.RedisError as exc:  # the objects still go; the Redis is left as it is, said so
            removed.append(f"DR Redis not reached ({exc.__class__.__name__}): not emptied")
    removed += delete_run_objects(cluster, namespace, run_id)
    if _delete_claim_map(cluster, namespace, run_id):
        removed.append(f"claim configmap {namespace}/{CLAIM_CONFIGMAP}")
    if _delete_own_namespace(cluster, namespace, run_id):
        removed.append(f"namespace {namespace} (created by this run)")
    return removed
