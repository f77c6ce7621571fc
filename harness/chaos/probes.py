"""Our chaostoolkit probes: thin wrappers over harness.platform for what chaostoolkit-kubernetes lacks.

Each returns a bool or a number so tolerances work, and raises ActivityFailed
naming the target when it cannot answer. The cluster is the drill's own
target's (handed over in configuration), or the configured target's under
plain `chaos run` (see `harness.chaos.binding`).
"""

from __future__ import annotations

import time
from typing import Any

from chaoslib.exceptions import ActivityFailed

from harness.chaos.binding import target_from
from harness.errors import DrillError
from harness.measure.availability import wait_healthy
from harness.platform.client import Cluster
from harness.platform.network import is_isolated
from harness.platform.nodes import nodes_in_zone, not_ready_nodes
from harness.platform.pods import POD_WAIT, count_in_zone, deployment_serving
from harness.polling import Backoff, poll

__all__ = [
    "count_pods_in_zone",
    "deployment_is_available",
    "namespace_is_isolated",
    "seconds_until_available",
    "seconds_until_evicted_from_zone",
    "seconds_until_healthy",
    "seconds_until_zone_not_ready",
]


def cluster_from(configuration: dict[str, Any] | None) -> Cluster:
    """The current cluster of the drill's target (or of the configured one under `chaos run`)."""
    try:
        with target_from(configuration, activity="probe") as target:
            return target.cluster()
    except DrillError as exc:
        raise ActivityFailed(exc.one_line()) from None


def deployment_is_available(
    name: str, ns: str, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> bool:
    """True when every desired replica of Deployment `ns/name` is updated, available and serving."""
    try:
        return deployment_serving(cluster_from(configuration), name, namespace=ns)[0]
    except DrillError as exc:
        raise ActivityFailed(f"deployment {ns}/{name}: {exc.one_line()}") from None


def _seconds_until(check: Any, *, timeout_s: float, what: str, configuration: dict[str, Any] | None,
                   interval: float | Backoff = POD_WAIT) -> float:
    """Poll `check(cluster) -> (done, seen)` until done; the seconds waited, or ActivityFailed with what was seen."""
    start = time.monotonic()
    last = [""]
    try:
        cluster = cluster_from(configuration)

        def done() -> float | None:
            ok, last[0] = check(cluster)
            return round(time.monotonic() - start, 3) if ok else None

        waited = poll(done, timeout=float(timeout_s), interval=interval)
    except DrillError as exc:
        raise ActivityFailed(f"{what}: {exc.one_line()}") from None
    if waited is None:
        raise ActivityFailed(f"{what}: not within {float(timeout_s):.0f}s ({last[0]})")
    return waited


def seconds_until_available(
    name: str,
    ns: str,
    timeout_s: float = 900.0,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float:
    """Wait until Deployment `ns/name` is fully available and serving; return the seconds waited."""
    return _seconds_until(lambda cluster: deployment_serving(cluster, name, namespace=ns), timeout_s=timeout_s,
                          what=f"deployment {ns}/{name} available", configuration=configuration)


def seconds_until_healthy(
    url: str,
    timeout_s: float = 900.0,
    interval_s: float = 0.1,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float:
    """Poll the health URL until it answers 200; return the seconds waited."""
    waited, last = wait_healthy(url, timeout=float(timeout_s), interval=float(interval_s))
    if waited is None:
        raise ActivityFailed(f"{url} not healthy within {float(timeout_s):.0f}s (last: {last})")
    return round(waited, 3)


def seconds_until_zone_not_ready(
    zone: str, timeout_s: float = 900.0, configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> float:
    """Wait until the control plane marks every node of `zone` NotReady (it stopped hearing from them)."""
    def check(cluster: Cluster) -> tuple[bool, str]:
        every, down = nodes_in_zone(cluster, zone), not_ready_nodes(cluster, zone)
        return bool(every) and set(down) == set(every), f"{len(down)}/{len(every)} nodes of {zone} NotReady"

    return _seconds_until(check, timeout_s=timeout_s, what=f"nodes of {zone} NotReady", configuration=configuration)


def seconds_until_evicted_from_zone(
    zone: str, label_selector: str, ns: str, timeout_s: float = 900.0,
    configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None,
) -> float:
    """Wait until no pod matching `label_selector` is left (not terminating) on the nodes of `zone`:
    the taint-based eviction of a hard zone failure has happened."""
    def check(cluster: Cluster) -> tuple[bool, str]:
        left = count_in_zone(cluster, namespace=ns, selector=label_selector, zone=zone)
        return left == 0, f"{left} pod(s) {label_selector} still on {zone}"

    return _seconds_until(check, timeout_s=timeout_s, what=f"pods {label_selector} evicted from {zone}",
                          configuration=configuration)


def count_pods_in_zone(
    zone: str,
    label_selector: str,
    ns: str,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> int:
    """How many pods matching `label_selector` in `ns` are scheduled on nodes of `zone`."""
    try:
        return count_in_zone(cluster_from(configuration), namespace=ns, selector=label_selector, zone=zone)
    except DrillError as exc:
        raise ActivityFailed(f"pods {label_selector} in {ns}: {exc.one_line()}") from None


def namespace_is_isolated(
    ns: str, policy_name: str, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> bool:
    """True while the deny-all NetworkPolicy `policy_name` exists in `ns`."""
    try:
        return is_isolated(cluster_from(configuration), namespace=ns, name=policy_name)
    except DrillError as exc:
        raise ActivityFailed(f"namespace {ns}: {exc.one_line()}") from None
