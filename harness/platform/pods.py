"""Pods: where they run (pod → node → zone), killing them, and proving they were replaced.

A replacement is proven by UID, never by name or count alone: a ReplicaSet can
keep the count at 3 while the deleted pod is still terminating, so "recovered"
means Ready pods whose UIDs were not there before the fault.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from harness.platform.client import (
    ApiRejected,
    Cluster,
    Obj,
    ObjectNotFound,
    cluster_scoped,
    label_selector,
    namespaced,
)
from harness.platform.workloads import status_of
from harness.polling import Backoff, wait_until

ZONE_LABEL = "topology.kubernetes.io/zone"

#: how waits over a workload's pods poll: quickly at first (a small fault clears in a moment), then every
#: 0.5 s, so a wait over thousands of pods lists them twice a second at most and still times recovery to 0.5 s
POD_WAIT = Backoff(0.05, factor=1.5, cap=0.5)
#: pod deletions in flight at once (a pod kill of thousands)
DELETE_CONCURRENCY = 8


@dataclass(frozen=True)
class PodInfo:
    """The facts a drill needs about one pod."""

    name: str
    namespace: str
    uid: str
    node: str | None
    zone: str | None
    phase: str
    ready: bool
    terminating: bool

    @property
    def serving(self) -> bool:
        """Ready and not on its way out: what a Service would route to."""
        return self.ready and not self.terminating


@dataclass(frozen=True)
class DeletedPods:
    """The pods a fault deleted, and every pod UID that existed just before it (to tell replacements apart)."""

    names: tuple[str, ...]
    uids: frozenset[str]
    deleted_at: datetime
    before_uids: frozenset[str]


@dataclass(frozen=True)
class Replacements:
    """Pods that took the place of deleted ones, and how long that took to observe."""

    pods: tuple[PodInfo, ...]
    seconds: float

    @property
    def uids(self) -> frozenset[str]:
        return frozenset(p.uid for p in self.pods)


def node_zones(cluster: Cluster) -> dict[str, str | None]:
    """Map every node name to its topology.kubernetes.io/zone label (None when unlabelled)."""
    nodes = cluster.list_items(cluster_scoped("v1", "nodes"))
    return {n["metadata"]["name"]: (n["metadata"].get("labels") or {}).get(ZONE_LABEL) for n in nodes}


def _is_ready(pod: Obj) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def pod_info(pod: Obj, zones: dict[str, str | None]) -> PodInfo:
    meta, spec, status = pod["metadata"], pod.get("spec") or {}, pod.get("status") or {}
    node = spec.get("nodeName")
    return PodInfo(
        name=meta["name"],
        namespace=meta["namespace"],
        uid=meta["uid"],
        node=node,
        zone=zones.get(node) if node else None,
        phase=status.get("phase", "Unknown"),
        ready=_is_ready(pod),
        terminating=bool(meta.get("deletionTimestamp")),
    )


def list_pods(cluster: Cluster, *, namespace: str, selector: str, with_zones: bool = True) -> list[PodInfo]:
    """Pods matching a label selector, each with its node's zone (`with_zones=False`: zone None, one list fewer:
    the node list is as long as the cluster)."""
    pods = cluster.list_items(namespaced("v1", "pods", namespace), labelSelector=selector)
    wanted = with_zones and any((p.get("spec") or {}).get("nodeName") for p in pods)
    zones = node_zones(cluster) if wanted else {}
    return sorted((pod_info(p, zones) for p in pods), key=lambda p: p.name)


def pods_by_zone(cluster: Cluster, *, namespace: str, selector: str) -> dict[str, list[PodInfo]]:
    """Scheduled pods matching `selector`, grouped by zone ("" for nodes without a zone label)."""
    grouped: dict[str, list[PodInfo]] = {}
    for pod in list_pods(cluster, namespace=namespace, selector=selector):
        if pod.node:
            grouped.setdefault(pod.zone or "", []).append(pod)
    return grouped


def serving_count(cluster: Cluster, *, namespace: str, selector: str) -> int:
    """How many matching pods are Ready and not terminating right now."""
    return sum(1 for p in list_pods(cluster, namespace=namespace, selector=selector, with_zones=False) if p.serving)


def delete_pods(
    cluster: Cluster,
    *,
    namespace: str,
    selector: str,
    names: Iterable[str] | None = None,
    grace_seconds: int = 0,
) -> DeletedPods:
    """Delete the pods matching `selector` (or only `names` among them); return their old UIDs.

    Raises ObjectNotFound when nothing matches: a fault that hit nothing is not a fault.
    """
    wanted = set(names) if names is not None else None
    before = list_pods(cluster, namespace=namespace, selector=selector, with_zones=False)
    victims = [p for p in before if not p.terminating and (wanted is None or p.name in wanted)]
    if not victims:
        raise ObjectNotFound(
            f"no running pods match {selector} in namespace {namespace}"
            + (f" among {sorted(wanted)}" if wanted else ""),
            fix="check the selector and that the workload is deployed",
        )
    # a few at a time: 1,500 deletes one after another take over a minute, and the fault is "pods die at once"
    with ThreadPoolExecutor(max_workers=min(DELETE_CONCURRENCY, len(victims))) as pool:
        list(pool.map(lambda pod: _delete_pod(cluster, pod, grace_seconds), victims))
    deleted = victims
    return DeletedPods(
        names=tuple(p.name for p in deleted),
        uids=frozenset(p.uid for p in deleted),
        deleted_at=datetime.now(UTC),
        before_uids=frozenset(p.uid for p in before),
    )


def _delete_pod(cluster: Cluster, pod: PodInfo, grace_seconds: int) -> None:
    """DELETE one pod by UID; gone already is fine, a 429 (server overloaded) is sent again after its Retry-After."""
    body = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": grace_seconds,
            "preconditions": {"uid": pod.uid}}
    try:
        cluster.request("DELETE", namespaced("v1", "pods", pod.namespace, pod.name), body=body,
                        what=f"pod {pod.namespace}/{pod.name}", retry_throttled=True)
    except ObjectNotFound:
        return  # already gone: still a victim of this fault
    except ApiRejected as exc:
        if exc.status != 409:  # 409: UID precondition failed, a same-named successor exists
            raise


def wait_for_pods_gone(
    cluster: Cluster, *, namespace: str, selector: str, uids: frozenset[str], timeout: float = 60.0,
    interval: float | Backoff = POD_WAIT,
) -> float:
    """Wait until none of `uids` exists any more (the fault is proven); return the seconds waited."""
    start = time.monotonic()
    left: list[str] = []

    def check() -> bool | None:
        present = [m["metadata"]["name"] for m in
                   cluster.list_metadata(namespaced("v1", "pods", namespace), labelSelector=selector)
                   if m["metadata"].get("uid") in uids]
        left[:] = present
        return True if not present else None

    wait_until(check, timeout=timeout, interval=interval, what=f"deleted pods of {selector} gone",
               describe=lambda: f"still present: {', '.join(left)}")
    return time.monotonic() - start


def wait_for_replacements(
    cluster: Cluster,
    *,
    namespace: str,
    selector: str,
    deleted: DeletedPods,
    count: int | None = None,
    timeout: float = 120.0,
    interval: float | Backoff = POD_WAIT,
) -> Replacements:
    """Wait until `count` (default: as many as were deleted) pods that did not exist before the fault serve."""
    need = len(deleted.uids) if count is None else count
    known = deleted.before_uids | deleted.uids
    start = time.monotonic()
    seen: list[PodInfo] = []

    def check() -> tuple[PodInfo, ...] | None:
        pods = list_pods(cluster, namespace=namespace, selector=selector, with_zones=False)
        seen[:] = pods
        fresh = tuple(p for p in pods if p.uid not in known and p.serving)
        return fresh if len(fresh) >= need else None

    def describe() -> str:
        return "; ".join(
            f"{p.name} ({'old' if p.uid in known else 'new'}, {p.phase}, ready={p.ready}, node={p.node})"
            for p in seen
        ) or "no pods"

    fresh = wait_until(check, timeout=timeout, interval=interval,
                       what=f"{need} replacement pod(s) Ready for {selector}", describe=describe)
    return Replacements(pods=fresh, seconds=time.monotonic() - start)


def count_in_zone(cluster: Cluster, *, namespace: str, selector: str, zone: str) -> int:
    """How many pods matching `selector` (not terminating) are scheduled on nodes of `zone`.

    Lists the zone's nodes by label, not every node of the cluster.
    """
    in_zone = {n["metadata"]["name"]
               for n in cluster.list_items(cluster_scoped("v1", "nodes"), labelSelector=f"{ZONE_LABEL}={zone}")}
    return sum(1 for p in list_pods(cluster, namespace=namespace, selector=selector, with_zones=False)
               if p.node in in_zone and not p.terminating)


def deployment_serving(cluster: Cluster, name: str, *, namespace: str) -> tuple[bool, str]:
    """Rollout complete AND as many Ready, non-terminating pods as desired, with what was seen.

    The Deployment's status lags a pod deletion by a moment, so the status
    alone can still say "3 ready" right after a pod was killed. The pods are
    listed only once the status says complete: while it does not, one GET
    answers, where the list would be thousands of pods long at scale.
    """
    deployment = cluster.get(namespaced("apps/v1", "deployments", namespace, name),
                             what=f"deployment {namespace}/{name}")
    status = status_of("Deployment", deployment)
    if not status.complete:
        return False, f"{status.describe()}; pods not counted until the rollout is complete"
    selector = label_selector((deployment.get("spec") or {}).get("selector", {}).get("matchLabels") or {})
    serving = serving_count(cluster, namespace=namespace, selector=selector)
    return serving >= status.desired, f"{status.describe()}; {serving} pods serving"
