"""Nodes by zone: cordon, uncordon, and drain through the Eviction API.

Draining uses evictions, not deletes, so PodDisruptionBudgets are honoured:
an eviction that would break a budget is answered 429 and retried until the
budget allows it (a replacement became Ready) or the deadline passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from harness.platform.client import (
    MERGE_PATCH,
    ApiRejected,
    Cluster,
    Obj,
    ObjectNotFound,
    cluster_scoped,
    namespaced,
)
from harness.platform.pods import ZONE_LABEL
from harness.polling import WaitTimedOut, poll, wait_until


@dataclass(frozen=True)
class CordonResult:
    zone: str
    nodes: tuple[str, ...]
    changed: tuple[str, ...]


@dataclass(frozen=True)
class DrainResult:
    """What a zone drain evicted, how often a budget made it wait, and how long it took."""

    zone: str
    nodes: tuple[str, ...]
    cordoned: tuple[str, ...]  # the nodes this drain made unschedulable (others were cordoned before it)
    evicted: tuple[str, ...]  # namespace/name
    budget_refusals: int  # 429 answers: evictions a PodDisruptionBudget held back
    seconds: float


def nodes_in_zone(cluster: Cluster, zone: str) -> tuple[str, ...]:
    """Names of the nodes labelled topology.kubernetes.io/zone=<zone>; ObjectNotFound when none."""
    nodes = cluster.list_items(cluster_scoped("v1", "nodes"), labelSelector=f"{ZONE_LABEL}={zone}")
    if not nodes:
        raise ObjectNotFound(
            f"no nodes labelled {ZONE_LABEL}={zone}",
            fix="check the zone name against `kubectl get nodes -L topology.kubernetes.io/zone`",
        )
    return tuple(sorted(n["metadata"]["name"] for n in nodes))


def _set_unschedulable(cluster: Cluster, zone: str, value: bool) -> CordonResult:
    names = nodes_in_zone(cluster, zone)
    return CordonResult(zone, names, _set_nodes(cluster, names, value))


def _set_nodes(cluster: Cluster, names: tuple[str, ...], value: bool) -> tuple[str, ...]:
    changed: list[str] = []
    for name in names:
        node = cluster.get(cluster_scoped("v1", "nodes", name), what=f"node {name}")
        if bool((node.get("spec") or {}).get("unschedulable")) == value:
            continue
        cluster.request(
            "PATCH", cluster_scoped("v1", "nodes", name),
            body={"spec": {"unschedulable": value or None}}, content_type=MERGE_PATCH, what=f"node {name}",
        )
        changed.append(name)
    return tuple(changed)


def cordon_zone(cluster: Cluster, zone: str) -> CordonResult:
    """Mark every node of `zone` unschedulable; `changed` lists the ones that were not already."""
    return _set_unschedulable(cluster, zone, True)


def uncordon_zone(cluster: Cluster, zone: str) -> CordonResult:
    """Make every node of `zone` schedulable again (the rollback of cordon_zone)."""
    return _set_unschedulable(cluster, zone, False)


def uncordon_nodes(cluster: Cluster, names: tuple[str, ...]) -> tuple[str, ...]:
    """Make exactly `names` schedulable (the undo of a drain: never a node cordoned before it); the changed ones."""
    present = {n["metadata"]["name"] for n in cluster.list_items(cluster_scoped("v1", "nodes"))}
    return _set_nodes(cluster, tuple(n for n in names if n in present), False)


def schedulable_nodes(cluster: Cluster, zone: str) -> tuple[str, ...]:
    """Nodes of `zone` that are schedulable now: the ones a drain will cordon and must give back."""
    cordoned = set(unschedulable_nodes(cluster, zone))
    return tuple(n for n in nodes_in_zone(cluster, zone) if n not in cordoned)


def unschedulable_nodes(cluster: Cluster, zone: str) -> tuple[str, ...]:
    """Nodes of `zone` that are cordoned right now (fault proof for a zone drain)."""
    nodes = cluster.list_items(cluster_scoped("v1", "nodes"), labelSelector=f"{ZONE_LABEL}={zone}")
    return tuple(sorted(n["metadata"]["name"] for n in nodes if (n.get("spec") or {}).get("unschedulable")))


def not_ready_nodes(cluster: Cluster, zone: str) -> tuple[str, ...]:
    """Nodes of `zone` whose Ready condition is not True (fault proof for a hard zone failure: the control
    plane stopped hearing from them)."""
    items = cluster.list_items(cluster_scoped("v1", "nodes"), labelSelector=f"{ZONE_LABEL}={zone}")

    def ready(node: Obj) -> bool:
        return any(c.get("type") == "Ready" and c.get("status") == "True"
                   for c in (node.get("status") or {}).get("conditions") or [])

    return tuple(sorted(n["metadata"]["name"] for n in items if not ready(n)))


def _evictable(pod: Obj) -> bool:
    meta = pod["metadata"]
    if meta.get("deletionTimestamp"):
        return False
    if "kubernetes.io/config.mirror" in (meta.get("annotations") or {}):
        return False  # static pods cannot be evicted
    if any(o.get("kind") == "DaemonSet" for o in meta.get("ownerReferences") or []):
        return False  # a DaemonSet would put it straight back; kubectl drain skips them too
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def _pods_on(cluster: Cluster, nodes: tuple[str, ...]) -> list[Obj]:
    pods: list[Obj] = []
    for node in nodes:
        pods += cluster.list_items("/api/v1/pods", fieldSelector=f"spec.nodeName={node}")
    return pods


def _evict(cluster: Cluster, pod: Obj) -> bool:
    """POST one eviction; True when accepted or already gone, False when a budget said 429."""
    meta = pod["metadata"]
    body = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
    }
    try:
        cluster.request("POST", namespaced("v1", "pods", meta["namespace"], meta["name"]) + "/eviction",
                        body=body, what=f"eviction of pod {meta['namespace']}/{meta['name']}")
    except ObjectNotFound:
        return True
    except ApiRejected as exc:
        if exc.status == 429:
            return False
        raise
    return True


def drain_zone(
    cluster: Cluster, zone: str, *, timeout: float = 300.0, retry_interval: float = 0.25,
    before_cordon: Callable[[tuple[str, ...]], object] | None = None,
) -> DrainResult:
    """Cordon every node of `zone`, evict all its pods (all namespaces, like `kubectl drain`), wait them out.

    `before_cordon` is called with the nodes about to be cordoned (those still
    schedulable) before any is touched: the undo ledger writes them down then.
    Pods owned by DaemonSets and static pods are skipped. Raises WaitTimedOut
    naming the pods a PodDisruptionBudget still protects at the deadline.
    """
    start = time.monotonic()
    deadline = start + timeout
    nodes = nodes_in_zone(cluster, zone)
    to_cordon = schedulable_nodes(cluster, zone)
    if before_cordon is not None:
        before_cordon(to_cordon)
    cordoned = _set_nodes(cluster, to_cordon, True)
    pending = {f"{p['metadata']['namespace']}/{p['metadata']['name']}": p
               for p in _pods_on(cluster, nodes) if _evictable(p)}
    evicted: list[str] = []
    refusals = 0

    def all_evicted() -> bool | None:
        nonlocal refusals
        for key, pod in list(pending.items()):
            if _evict(cluster, pod):
                evicted.append(key)
                del pending[key]
            else:
                refusals += 1
        return True if not pending else None

    if not poll(all_evicted, timeout=max(0.0, deadline - time.monotonic()), interval=retry_interval):
        raise WaitTimedOut(
            f"drain of zone {zone}: PodDisruptionBudgets still refuse to evict {', '.join(sorted(pending))} "
            f"after {timeout:.0f}s",
            fix="check that replacements can schedule in the other zones (kubectl get pods -o wide) and the "
            "budgets (kubectl get pdb -A)",
        )

    def gone() -> bool | None:
        left = [p for p in _pods_on(cluster, nodes) if _evictable(p) or p["metadata"].get("deletionTimestamp")]
        return True if not left else None

    wait_until(gone, timeout=max(1.0, deadline - time.monotonic()), interval=0.1,
               what=f"pods of zone {zone} terminated", describe=lambda: "evicted pods still terminating")
    return DrainResult(zone, nodes, cordoned, tuple(evicted), refusals, time.monotonic() - start)
