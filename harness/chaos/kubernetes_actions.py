"""Guarded stand-ins for the chaostoolkit-kubernetes actions the experiments use, over harness.platform.

chaosk8s's actions reach whatever cluster the process-wide kubeconfig default
names and check nothing, so `chaos run` of a SENTINEL experiment could break a
cluster that only *has the name* of an allowed target. These keep chaosk8s's
function and argument names (an experiment reads the same), act on the
target's own typed `Cluster` (see `harness.chaos.binding`), and pass
`harness.safety.require_destructive` first: a fault needs allow-list +
confirmation + the pinned identity, an undo (`scale_deployment_back`,
`remove_network_policy`) the identity only.

Deliberately not carried over: `ns="default"` (the namespace is required),
`all=`/`name_pattern`/`order`, and a negative `grace_period` (the pod's own
grace period): the runbook's pod kill is `--grace-period=0`.
"""

from __future__ import annotations

import random
from typing import Any

from chaoslib.exceptions import ActivityFailed

from harness.chaos.binding import target_from
from harness.errors import DrillError
from harness.ownership import owner_of
from harness.platform import pods, workloads
from harness.platform.client import Cluster, ObjectNotFound, namespaced
from harness.platform.manifests import apply_objects
from harness.safety import require_destructive
from harness.undo import cluster_ref, ledger_for, lift_own_policy

__all__ = [
    "create_network_policy",
    "remove_network_policy",
    "scale_deployment",
    "scale_deployment_back",
    "terminate_pods",
]


def _victim_count(available: int, qty: int, mode: str) -> int:
    if mode == "fixed":
        return min(qty, available)
    if mode == "percentage":
        return min(available, max(1, available * qty // 100)) if qty > 0 else 0
    raise ActivityFailed(f"terminate_pods: mode {mode!r} is neither 'fixed' nor 'percentage'")


def terminate_pods(
    label_selector: str,
    ns: str,
    qty: int = 1,
    rand: bool = False,
    mode: str = "fixed",
    grace_period: int = 0,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> list[str]:
    """Delete `qty` running pods matching `label_selector` in `ns` (random ones with `rand`); return their names.

    Raises ActivityFailed when the guard refuses, nothing matches, or the API fails.
    """
    if int(grace_period) < 0:
        raise ActivityFailed("terminate_pods: grace_period must be >= 0 seconds")
    try:
        with target_from(configuration, activity="terminate_pods") as target:
            require_destructive(target, f"terminate pods {label_selector} in namespace {ns}")
            cluster = target.cluster()
            running = sorted(p.name for p in pods.list_pods(cluster, namespace=ns, selector=label_selector,
                                                           with_zones=False)
                              if not p.terminating)
            count = _victim_count(len(running), int(qty), mode)
            victims = random.sample(running, count) if rand else running[:count]
            deleted = pods.delete_pods(cluster, namespace=ns, selector=label_selector, names=victims,
                                       grace_seconds=int(grace_period))
    except DrillError as exc:
        raise ActivityFailed(f"terminate_pods {label_selector} in {ns}: {exc.one_line()}") from None
    return list(deleted.names)


def _scale(name: str, replicas: int, ns: str, configuration: dict[str, Any] | None, *, undo: bool) -> dict[str, Any]:
    activity = "scale_deployment_back" if undo else "scale_deployment"
    try:
        with target_from(configuration, activity=activity) as target:
            require_destructive(target, f"scale deployment {ns}/{name} to {replicas}", undo=undo)
            cluster, ledger = target.cluster(), ledger_for(target)
            entry = None
            if not undo:  # write down the count to go back to before changing it
                current = workloads.scale_of(cluster, "Deployment", name, namespace=ns)
                entry = ledger.before("scale_deployment", action=f"scale deployment {ns}/{name} to {replicas}",
                                      cluster=cluster_ref(cluster), namespace=ns, name=name, replicas=current)
            result = workloads.scale(cluster, "Deployment", name, int(replicas), namespace=ns)
            if undo:
                ledger.settle("scale_deployment", how=f"scaled back to {replicas}", namespace=ns, name=name)
            elif entry is not None and result.previous == int(replicas):
                ledger.done(entry, how="nothing changed")
    except DrillError as exc:
        raise ActivityFailed(f"{activity} {ns}/{name}: {exc.one_line()}") from None
    return {"name": name, "namespace": ns, "previous": result.previous, "replicas": result.replicas}


def scale_deployment(
    name: str, replicas: int, ns: str,
    configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Set Deployment `name`'s replica count (a fault: fully guarded); return the previous and new counts."""
    return _scale(name, replicas, ns, configuration, undo=False)


def scale_deployment_back(
    name: str, replicas: int, ns: str,
    configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Rollback of scale_deployment: restore the replica count (identity-guarded only, an undo is never refused
    for want of a confirmation)."""
    return _scale(name, replicas, ns, configuration, undo=True)


def create_network_policy(
    spec: dict[str, Any], ns: str,
    configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None,
) -> str:
    """Apply NetworkPolicy `spec` in `ns` (idempotent); return its name. Its rollback is remove_network_policy."""
    if spec.get("kind") != "NetworkPolicy" or not (spec.get("metadata") or {}).get("name"):
        raise ActivityFailed("create_network_policy: spec must be a NetworkPolicy with metadata.name")
    name = str(spec["metadata"]["name"])
    try:
        with target_from(configuration, activity="create_network_policy") as target:
            require_destructive(target, f"create network policy {ns}/{name}")
            cluster = target.cluster()
            _refuse_foreign_policy(cluster, ns, name, target.settings.run_id)
            ledger_for(target).before("delete_network_policy", action=f"create network policy {ns}/{name}",
                                      cluster=cluster_ref(cluster), namespace=ns, name=name,
                                      run_id=target.settings.run_id)
            apply_objects(cluster, [spec], namespace=ns, labels=target.owner_labels())
    except DrillError as exc:
        raise ActivityFailed(f"create_network_policy {ns}/{name}: {exc.one_line()}") from None
    return name


def _refuse_foreign_policy(cluster: Cluster, ns: str, name: str, run_id: str | None) -> None:
    """A policy of that name that this run did not create is someone else's: never overwritten, never deleted."""
    try:
        existing = cluster.get(namespaced("networking.k8s.io/v1", "networkpolicies", ns, name))
    except ObjectNotFound:
        return
    if owner_of(existing) != run_id:
        raise DrillError(f"network policy {ns}/{name} already exists and was not created by this run "
                         f"(run label {owner_of(existing) or 'none'})",
                         fix="a crashed drill's policy is lifted by `sentinel-drill recover`; otherwise rename the "
                             "drill's policy (policy_name in the experiment's configuration)")


#: `held_until` value with which the drill keeps the isolation past the experiment and lifts it itself
HELD_UNTIL_VERIFIED = "verified"


def remove_network_policy(
    name: str, ns: str, held_until: str = "",
    configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None,
) -> bool | str:
    """Rollback of create_network_policy: delete policy `name` from `ns` (absent is fine); True if it was there.

    With `held_until="verified"` (set by the drill, never by plain `chaos run`)
    the policy stays: a compromised namespace remains isolated until the
    recovery elsewhere is verified, then the drill lifts it (and a crashed run's
    undo ledger does).
    """
    if held_until == HELD_UNTIL_VERIFIED:
        return f"kept: {ns}/{name} stays until the recovery is verified"
    try:
        with target_from(configuration, activity="remove_network_policy") as target:
            require_destructive(target, f"remove network policy {ns}/{name}", undo=True)
            return lift_own_policy(target, ns, name)
    except DrillError as exc:
        raise ActivityFailed(f"remove_network_policy {ns}/{name}: {exc.one_line()}") from None
