"""Deployments and StatefulSets: scale them and wait until a rollout has really finished.

"Finished" is what `kubectl rollout status` means, checked from status fields:
the controller has observed the latest generation, and updated, ready and
available replicas all equal the desired count with no old pods left over.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from harness.platform.client import MERGE_PATCH, Cluster, Obj, namespaced
from harness.polling import wait_until

Kind = Literal["Deployment", "StatefulSet"]
_PLURAL = {"Deployment": "deployments", "StatefulSet": "statefulsets"}


@dataclass(frozen=True)
class RolloutStatus:
    """Replica counts of one workload at one moment, and whether its rollout is complete."""

    kind: str
    namespace: str
    name: str
    desired: int
    current: int
    updated: int
    ready: int
    available: int
    generation: int
    observed_generation: int
    revisions_match: bool = True  # StatefulSet: currentRevision == updateRevision

    @property
    def complete(self) -> bool:
        return (
            self.observed_generation >= self.generation
            and self.updated == self.desired
            and self.ready == self.desired
            and self.available == self.desired
            and self.current == self.desired
            and self.revisions_match
        )

    def describe(self) -> str:
        return (
            f"{self.kind.lower()} {self.namespace}/{self.name}: desired {self.desired}, current {self.current}, "
            f"updated {self.updated}, ready {self.ready}, available {self.available}, "
            f"generation {self.observed_generation}/{self.generation}"
        )


@dataclass(frozen=True)
class ScaleResult:
    kind: str
    namespace: str
    name: str
    previous: int
    replicas: int


def _path(kind: Kind, namespace: str, name: str) -> str:
    return namespaced("apps/v1", _PLURAL[kind], namespace, name)


def _what(kind: Kind, namespace: str, name: str) -> str:
    return f"{kind.lower()} {namespace}/{name}"


def status_of(kind: Kind, obj: Obj) -> RolloutStatus:
    """The rollout status carried by a workload object already fetched."""
    spec, status, meta = obj.get("spec") or {}, obj.get("status") or {}, obj["metadata"]
    desired = int(spec.get("replicas", 1))
    revisions_match = kind != "StatefulSet" or status.get("currentRevision") == status.get("updateRevision")
    return RolloutStatus(
        kind=kind,
        namespace=meta["namespace"],
        name=meta["name"],
        desired=desired,
        current=int(status.get("replicas") or 0),
        updated=int(status.get("updatedReplicas") or 0),
        ready=int(status.get("readyReplicas") or 0),
        available=int(status.get("availableReplicas") or 0),
        generation=int(meta.get("generation") or 0),
        observed_generation=int(status.get("observedGeneration") or 0),
        revisions_match=revisions_match,
    )


def rollout_status(cluster: Cluster, kind: Kind, name: str, *, namespace: str) -> RolloutStatus:
    """Read the workload's replica counts now; raise ObjectNotFound when it does not exist."""
    return status_of(kind, cluster.get(_path(kind, namespace, name), what=_what(kind, namespace, name)))


def wait_for_rollout(
    cluster: Cluster, kind: Kind, name: str, *, namespace: str, timeout: float = 120.0, interval: float = 0.1
) -> RolloutStatus:
    """Poll until the rollout is complete; return the final status or raise WaitTimedOut with the counts."""
    last: list[RolloutStatus] = []

    def check() -> RolloutStatus | None:
        status = rollout_status(cluster, kind, name, namespace=namespace)
        last[:] = [status]
        return status if status.complete else None

    return wait_until(
        check,
        timeout=timeout,
        interval=interval,
        what=f"rollout of {_what(kind, namespace, name)}",
        describe=lambda: last[0].describe() if last else "nothing (no answer)",
    )


def scale_of(cluster: Cluster, kind: Kind, name: str, *, namespace: str) -> int:
    """The desired replica count now (from the scale subresource)."""
    current = cluster.get(_path(kind, namespace, name) + "/scale", what=_what(kind, namespace, name))
    return int((current.get("spec") or {}).get("replicas") or 0)


def scale(cluster: Cluster, kind: Kind, name: str, replicas: int, *, namespace: str) -> ScaleResult:
    """Set the desired replica count through the scale subresource; return the previous count."""
    if replicas < 0:
        raise ValueError("replicas must be >= 0")
    what = _what(kind, namespace, name)
    current = cluster.get(_path(kind, namespace, name) + "/scale", what=what)
    previous = int((current.get("spec") or {}).get("replicas") or 0)
    cluster.request(
        "PATCH", _path(kind, namespace, name) + "/scale",
        body={"spec": {"replicas": replicas}}, content_type=MERGE_PATCH, what=what,
    )
    return ScaleResult(kind, namespace, name, previous, replicas)


def wait_for_no_pods(
    cluster: Cluster, *, namespace: str, selector: str, timeout: float = 120.0, interval: float = 0.1
) -> float:
    """Wait until no pod matches `selector` (e.g. after scaling to 0); return the seconds waited."""
    start = time.monotonic()
    remaining: list[str] = []

    def check() -> bool | None:
        pods = cluster.list_items(namespaced("v1", "pods", namespace), labelSelector=selector)
        remaining[:] = [p["metadata"]["name"] for p in pods]
        return True if not pods else None

    wait_until(
        check, timeout=timeout, interval=interval,
        what=f"no pods matching {selector} in {namespace}",
        describe=lambda: f"still present: {', '.join(remaining)}",
    )
    return time.monotonic() - start
