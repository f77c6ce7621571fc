"""Carry out what the undo ledger says, for a rollback or for `sentinel-drill recover` after a crash.

Each undo kind is idempotent (uncordoning a schedulable node, deleting an
absent policy, scaling to the count it already has are no-ops), deletes only
what carries the run's label, and runs only against the cluster the entry was
written for: the API server it reaches *and* its kube-system UID must be the
ones recorded (and, on a non-sandbox target, a pinned identity), or the undo is
refused rather than applied elsewhere. A kubeconfig path recorded on another
machine is replaced by the configured one; the identity check decides.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from typing import Any

import redis

from harness.config import Settings
from harness.errors import DrillError, SafetyRefused
from harness.ledger import UNDO_KINDS, StoreLedgerMirror, UndoEntry, UndoLedger
from harness.ownership import owner_of
from harness.platform import nodes, workloads
from harness.platform.client import Cluster, ObjectNotFound, connect, namespaced
from harness.platform.network import unisolate_namespace
from harness.platform.port_forward import forwarded_redis
from harness.platform.secret_values import secret_value
from harness.safety import SANDBOX, ClusterIdentity, normalise_api_server, pinned_identities, read_identity
from harness.target.base import Target

#: where scenario 4's rotation keeps the DR Redis's new password (the DR stack's own Secret)
ROTATED_PASSWORD_SECRET = ("sentinel-redis", "password")


def cluster_ref(cluster: Cluster) -> dict[str, str | None]:
    """Where an undo must run: kubeconfig path, context, API server and the cluster's kube-system UID (no secret)."""
    return {"kubeconfig": cluster.kubeconfig, "context": cluster.context, "api_server": cluster.server,
            "kube_system_uid": read_identity(cluster).kube_system_uid}


def ledger_for(target: Target) -> UndoLedger:
    """The run's ledger: the state dir's file, copied record by record into the target's store when it has one."""
    mirror = None
    if target.settings.store_url and target.settings.run_id:
        mirror = StoreLedgerMirror(target.store(), target.settings.run_id)
    return UndoLedger.in_dir(target.settings.state_dir, mirror=mirror)


def _connect_for(entry: UndoEntry, settings: Settings | None) -> Cluster:
    ref = entry.cluster
    kubeconfig = ref.get("kubeconfig")
    if kubeconfig and os.path.exists(kubeconfig):
        return connect(kubeconfig, ref.get("context"))
    if settings is None:
        raise SafetyRefused(f"undo {entry.kind}: its kubeconfig {kubeconfig} is not on this machine",
                            fix="pass --config with a kubeconfig/context that reaches the recorded cluster")
    return connect(settings.kubeconfig, settings.context)


def _cluster_for(entry: UndoEntry, settings: Settings | None = None) -> Cluster:
    """A client for the cluster `entry` was written for; SafetyRefused when the one reached is another."""
    cluster = _connect_for(entry, settings)
    recorded_server, recorded_uid = entry.cluster.get("api_server"), entry.cluster.get("kube_system_uid")
    seen = read_identity(cluster)
    if recorded_server and normalise_api_server(recorded_server) != seen.api_server:
        raise SafetyRefused(
            f"undo {entry.kind} was written for {recorded_server}, but the kubeconfig now reaches {cluster.server}",
            fix="point the kubeconfig/context back at that cluster, or undo by hand (see the ledger entry)")
    if recorded_uid and recorded_uid != seen.kube_system_uid:
        raise SafetyRefused(
            f"undo {entry.kind} was written for the cluster with kube-system uid {recorded_uid}, but "
            f"{cluster.server} is another cluster now (uid {seen.kube_system_uid})",
            fix="the cluster was rebuilt: nothing of the drill is left on it; mark the entry done by hand if so")
    if settings is not None and settings.target != SANDBOX:
        pinned = pinned_identities(settings)
        if ClusterIdentity(seen.api_server, seen.kube_system_uid) not in pinned:
            raise SafetyRefused(f"undo {entry.kind}: {seen.describe()} is not a pinned cluster of target "
                                f"{settings.target!r}", fix="run recover with the config that pinned it")
    return cluster


def _labelled_ours(cluster: Cluster, path: str, run_id: str | None) -> bool | None:
    """True when the object at `path` carries `run_id`'s label, False when another's or none, None when absent."""
    try:
        obj = cluster.get(path)
    except ObjectNotFound:
        return None
    return run_id is not None and owner_of(obj) == run_id


def _delete_pod(cluster: Cluster, p: dict[str, Any]) -> str:
    path = namespaced("v1", "pods", p["namespace"], p["name"])
    ours = _labelled_ours(cluster, path, p.get("run_id"))
    if ours is None:
        return f"pod {p['namespace']}/{p['name']} already gone"
    if not ours:
        return f"pod {p['namespace']}/{p['name']} left: not labelled with run {p.get('run_id')}"
    try:
        cluster.request("DELETE", path, body={"gracePeriodSeconds": 0}, what=f"pod {p['namespace']}/{p['name']}")
    except ObjectNotFound:
        pass
    return f"pod {p['namespace']}/{p['name']} deleted"


def _delete_policy(cluster: Cluster, p: dict[str, Any]) -> str:
    where = f"{p['namespace']}/{p['name']}"
    if "run_id" in p:  # written by a run that labels what it creates: delete only its own
        ours = _labelled_ours(cluster, namespaced("networking.k8s.io/v1", "networkpolicies", p["namespace"],
                                                  p["name"]), p["run_id"])
        if ours is None:
            return f"network policy {where} already gone"
        if not ours:
            return f"network policy {where} left: not labelled with run {p['run_id']}"
    lifted = unisolate_namespace(cluster, namespace=p["namespace"], name=p["name"])
    return f"network policy {where} {'deleted' if lifted.changed else 'already gone'}"


def _dr_redis_client(stack: ExitStack, cluster: Cluster, p: dict[str, Any],
                     settings: Settings | None) -> tuple[redis.Redis | None, bool, str]:
    """(client, rotated, note): the DR Redis reached with its configured password, else with the rotated one
    this run wrote into the DR namespace's Secret (only a Secret labelled with the run is read)."""
    from harness.redis_client import connect as redis_connect

    url = stack.enter_context(forwarded_redis(p["redis_url"], lambda: cluster))
    configured = settings.dr_redis_password.get_secret_value() if settings and settings.dr_redis_password else None
    configured = configured or os.environ.get("DR_REDIS_PASSWORD") or None
    try:
        return redis_connect(url, configured), False, ""
    except DrillError as first:
        name, key = ROTATED_PASSWORD_SECRET
        path = namespaced("v1", "secrets", p["namespace"], name)
        if not _labelled_ours(cluster, path, p["run_id"]):
            return None, False, f"DR Redis not reached ({first.message}); no rotated password of this run"
        rotated = secret_value(cluster, namespace=p["namespace"], name=name, key=key)
        try:
            return redis_connect(url, rotated), True, ""
        except DrillError as exc:
            return None, False, f"DR Redis not reached ({exc.message})"


def _release(cluster: Cluster, p: dict[str, Any], settings: Settings | None) -> str:
    from harness.target.recovery_environment import release

    with ExitStack() as stack:
        client, rotated, note = _dr_redis_client(stack, cluster, p, settings)
        configured = settings.dr_redis_password.get_secret_value() if settings and settings.dr_redis_password else None
        done = release(cluster, p["namespace"], p["run_id"], client,
                       configured_password=configured or os.environ.get("DR_REDIS_PASSWORD"), rotated=rotated)
    return "; ".join([*done, *([note] if note else [])]) or "nothing of the run left"


def apply_undo(entry: UndoEntry, cluster: Cluster | None = None, *, settings: Settings | None = None) -> str:
    """Undo one entry; return what was done, in words."""
    p: dict[str, Any] = entry.params
    if entry.kind == "thaw_zone":  # a sandbox's stopped zone: its machines are this host's cgroups
        from harness.sandbox.nodes import freeze, is_frozen

        thawed = [c for c in p["cgroups"] if is_frozen(c)]
        for cgroup in thawed:
            freeze(cgroup, False)
        return f"zone {p['zone']}: {'restarted ' + ', '.join(thawed) if thawed else 'already running'}"
    cluster = cluster or _cluster_for(entry, settings)
    if entry.kind == "uncordon_nodes":
        changed = nodes.uncordon_nodes(cluster, tuple(p["nodes"]))
        return f"uncordoned {', '.join(changed) or 'nothing (already schedulable)'}"
    if entry.kind == "delete_network_policy":
        return _delete_policy(cluster, p)
    if entry.kind in ("scale_deployment", "scale_statefulset"):
        kind: workloads.Kind = "Deployment" if entry.kind == "scale_deployment" else "StatefulSet"
        result = workloads.scale(cluster, kind, p["name"], int(p["replicas"]), namespace=p["namespace"])
        return f"{kind.lower()} {p['namespace']}/{p['name']} scaled {result.previous} → {result.replicas}"
    if entry.kind == "delete_pod":
        return _delete_pod(cluster, p)
    if entry.kind == "release_recovery_environment":
        return _release(cluster, p, settings)
    raise SafetyRefused(f"unknown undo kind {entry.kind!r} in the ledger", fix="undo it by hand")


def lift_own_policy(target: Target, namespace: str, name: str, *, how: str | None = None) -> bool:
    """Delete network policy `namespace/name` only as the ledger's undo of its creation by a drill run (its label
    checked); a policy no ledger entry created is left alone. True when a policy was deleted."""
    ledger, cluster = ledger_for(target), target.cluster()
    lifted = False
    for entry in ledger.find("delete_network_policy", namespace=namespace, name=name):
        outcome = apply_undo(entry, cluster)
        ledger.done(entry.id, how=how or outcome)
        lifted = lifted or outcome.endswith("deleted")
    return lifted


class LedgerNotes:
    """The ledger as a restore plane's `UndoNotes`: every entry bound to one cluster (harness.restore.plane)."""

    def __init__(self, ledger: UndoLedger, cluster: Cluster) -> None:
        self.ledger, self.cluster = ledger, cluster
        self.where: dict[str, str | None] | None = None  # read at the first entry (one GET of kube-system)

    def before(self, kind: str, *, action: str, **params: Any) -> str:
        if kind not in UNDO_KINDS:
            raise SafetyRefused(f"unknown undo kind {kind!r}", fix="a plane may note only the ledger's kinds")
        if self.where is None:
            self.where = cluster_ref(self.cluster)
        return self.ledger.before(kind, action=action, cluster=self.where, **params)  # type: ignore[arg-type]

    def done(self, entry_id: str, *, how: str = "undone") -> None:
        self.ledger.done(entry_id, how=how)
