"""Nodes by zone: cordon, uncordon, and drain through the Eviction API.

Draining uses evictions, not deletes, so PodDisruptionBudgets are honoured:
an eviction that would break a budget is answered 429 and retried until the
budget allows it (a replacement became Ready) or the deadline passes. At scale
(a thousand pods under one budget) the retries must not hammer the API server:
after a 429 the drain stops asking for that workload's pods (one budget covers
them all) until the retry interval, or the server's Retry-After, has passed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

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
from harness.polling import SYSTEM_CLOCK, Backoff, Clock, WaitTimedOut, poll, wait_until


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
    return tuple(sorted(_cordon_states(cluster, zone)))


def _cordon_states(cluster: Cluster, zone: str | None = None) -> dict[str, bool]:
    """Node name → unschedulable, from one list (of `zone`'s nodes: ObjectNotFound when it has none)."""
    nodes = cluster.list_items(cluster_scoped("v1", "nodes"),
                               labelSelector=f"{ZONE_LABEL}={zone}" if zone is not None else None)
    if zone is not None and not nodes:
        raise ObjectNotFound(
            f"no nodes labelled {ZONE_LABEL}={zone}",
            fix="check the zone name against `kubectl get nodes -L topology.kubernetes.io/zone`",
        )
    return {n["metadata"]["name"]: bool((n.get("spec") or {}).get("unschedulable")) for n in nodes}


def _set_unschedulable(cluster: Cluster, zone: str, value: bool) -> CordonResult:
    names = nodes_in_zone(cluster, zone)
    return CordonResult(zone, names, _set_nodes(cluster, names, value))


def _set_nodes(cluster: Cluster, names: tuple[str, ...], value: bool, *,
               current: dict[str, bool] | None = None) -> tuple[str, ...]:
    """Patch `unschedulable` on those of `names` that differ (`current`: the states the caller just listed,
    else one list of every node to find them, never a GET per node)."""
    if not names:
        return ()
    current = _cordon_states(cluster) if current is None else current
    changed: list[str] = []
    for name in names:
        if name not in current:
            raise ObjectNotFound(f"node {name} not found on {cluster.server}",
                                 fix="check the node names: kubectl get nodes")
        if current[name] == value:
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
    current = _cordon_states(cluster)
    return _set_nodes(cluster, tuple(n for n in names if n in current), False, current=current)


def schedulable_nodes(cluster: Cluster, zone: str) -> tuple[str, ...]:
    """Nodes of `zone` that are schedulable now: the ones a drain will cordon and must give back."""
    states = _cordon_states(cluster, zone)
    return tuple(n for n in sorted(states) if not states[n])


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
    """Every pod bound to `nodes`: one field-selected list per node (the API server indexes spec.nodeName)."""
    pods: list[Obj] = []
    for node in nodes:
        pods += cluster.list_items("/api/v1/pods", fieldSelector=f"spec.nodeName={node}")
    return pods


def _owner(pod: Obj) -> str:
    """Who keeps the pod (its controller's UID): pods of one owner share one PodDisruptionBudget."""
    meta = pod["metadata"]
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return f"pod:{meta['namespace']}/{meta['name']}"


#: evictions in flight at once: one after another, a 1,000-pod zone takes minutes (each is a budget update)
EVICT_CONCURRENCY = 8


@dataclass
class _Evictions:
    """Pods still to evict, and when each owner may be asked again after its budget said 429."""

    pending: dict[str, Obj]
    clock: Clock
    retry_interval: float
    concurrency: int = EVICT_CONCURRENCY
    evicted: list[str] = field(default_factory=list)
    refusals: int = 0
    not_before: dict[str, float] = field(default_factory=dict)  # owner → monotonic time of its next attempt
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def round(self, cluster: Cluster) -> bool | None:
        """Try each pending pod whose owner is not held back, a few at a time; True when none is left."""
        with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(self.pending)))) as pool:
            list(pool.map(lambda item: self._try(cluster, *item), list(self.pending.items())))
        return True if not self.pending else None

    def _try(self, cluster: Cluster, key: str, pod: Obj) -> None:
        owner = _owner(pod)
        with self._lock:
            if self.clock.monotonic() < self.not_before.get(owner, 0.0):
                return  # its budget said no a moment ago: asking for its siblings now would be refused too
        refused = _evict(cluster, pod)
        with self._lock:
            if refused is None:
                self.evicted.append(key)
                del self.pending[key]
            else:
                self.refusals += 1
                self.not_before[owner] = self.clock.monotonic() + max(self.retry_interval, refused)


def _evict(cluster: Cluster, pod: Obj) -> float | None:
    """POST one eviction; None when accepted or already gone, else the seconds the 429 asked us to wait (0: none)."""
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
        return None
    except ApiRejected as exc:
        if exc.status == 429:  # a budget (no Retry-After) or an overloaded server (Retry-After: honour it)
            return exc.retry_after or 0.0
        raise
    return None


def drain_zone(
    cluster: Cluster, zone: str, *, timeout: float = 300.0, retry_interval: float = 0.25,
    before_cordon: Callable[[tuple[str, ...]], object] | None = None, clock: Clock = SYSTEM_CLOCK,
) -> DrainResult:
    """Cordon every node of `zone`, evict all its pods (all namespaces, like `kubectl drain`), wait them out.

    `before_cordon` is called with the nodes about to be cordoned (those still
    schedulable) before any is touched: the undo ledger writes them down then.
    Pods owned by DaemonSets and static pods are skipped. A 429 holds back that
    pod's owner for `retry_interval` or the answer's Retry-After, whichever is
    longer. Raises WaitTimedOut naming the pods a PodDisruptionBudget still
    protects at the deadline.
    """
    start = clock.monotonic()
    deadline = start + timeout
    states = _cordon_states(cluster, zone)  # one list for the zone's nodes and which are schedulable now
    nodes = tuple(sorted(states))
    to_cordon = tuple(n for n in nodes if not states[n])
    if before_cordon is not None:
        before_cordon(to_cordon)
    cordoned = _set_nodes(cluster, to_cordon, True, current=states)
    evictions = _Evictions({f"{p['metadata']['namespace']}/{p['metadata']['name']}": p
                            for p in _pods_on(cluster, nodes) if _evictable(p)}, clock, retry_interval)

    if not poll(lambda: evictions.round(cluster), timeout=max(0.0, deadline - clock.monotonic()),
                interval=min(retry_interval, 0.1), clock=clock):
        raise WaitTimedOut(
            f"drain of zone {zone}: PodDisruptionBudgets still refuse to evict {', '.join(sorted(evictions.pending))} "
            f"after {timeout:.0f}s",
            fix="check that replacements can schedule in the other zones (kubectl get pods -o wide) and the "
            "budgets (kubectl get pdb -A)",
        )

    occupied = list(nodes)  # nodes that still held an evicted pod when last looked at: only those are listed again

    def gone() -> bool | None:
        still = []
        for node in occupied:
            pods = [p for p in _pods_on(cluster, (node,)) if _evictable(p) or p["metadata"].get("deletionTimestamp")]
            if pods:
                still.append(node)
        occupied[:] = still
        return True if not still else None

    wait_until(gone, timeout=max(1.0, deadline - clock.monotonic()), interval=Backoff(0.1, factor=1.5, cap=1.0),
               what=f"pods of zone {zone} terminated", clock=clock,
               describe=lambda: f"evicted pods still terminating on {', '.join(occupied)}")
    return DrainResult(zone, nodes, cordoned, tuple(evictions.evicted), evictions.refusals,
                       clock.monotonic() - start)
