"""Is a Service actually backed? Ready endpoints from its EndpointSlices.

EndpointSlices (not the legacy Endpoints object) are what kube-proxy and
ingress controllers route by, so "has ready endpoints" here means what
traffic would see.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.platform.client import Cluster, Obj, namespaced
from harness.polling import wait_until

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True)
class ServiceEndpoints:
    namespace: str
    service: str
    ready: tuple[str, ...]  # addresses of ready, non-terminating endpoints
    not_ready: tuple[str, ...]

    @property
    def serving(self) -> bool:
        return bool(self.ready)


def endpoints_from_slices(namespace: str, service: str, slices: list[Obj]) -> ServiceEndpoints:
    """Split the endpoints of `service`'s slices into ready and not-ready addresses.

    Per the EndpointSlice API, an unset `ready` condition means ready.
    """
    ready: list[str] = []
    not_ready: list[str] = []
    for sl in slices:
        if (sl.get("metadata", {}).get("labels") or {}).get(SERVICE_NAME_LABEL) != service:
            continue
        for ep in sl.get("endpoints") or []:
            cond = ep.get("conditions") or {}
            ok = cond.get("ready") is not False and not cond.get("terminating")
            (ready if ok else not_ready).extend(ep.get("addresses") or [])
    return ServiceEndpoints(namespace, service, tuple(sorted(ready)), tuple(sorted(not_ready)))


def service_endpoints(
    cluster: Cluster, *, namespace: str, service: str, timeout: float | tuple[float, float] | None = None
) -> ServiceEndpoints:
    """Ready and not-ready endpoint addresses of one Service right now."""
    slices = cluster.request(
        "GET", namespaced("discovery.k8s.io/v1", "endpointslices", namespace),
        query={"labelSelector": f"{SERVICE_NAME_LABEL}={service}"}, timeout=timeout,
        what=f"endpointslices of service {namespace}/{service}",
    ).get("items") or []
    return endpoints_from_slices(namespace, service, slices)


def wait_for_endpoints(
    cluster: Cluster, *, namespace: str, service: str, min_ready: int = 1, timeout: float = 60.0
) -> ServiceEndpoints:
    """Wait until `service` has at least `min_ready` ready endpoints."""
    last: list[ServiceEndpoints] = []

    def check() -> ServiceEndpoints | None:
        eps = service_endpoints(cluster, namespace=namespace, service=service)
        last[:] = [eps]
        return eps if len(eps.ready) >= min_ready else None

    return wait_until(
        check, timeout=timeout, interval=0.1, what=f"{min_ready} ready endpoint(s) for service {namespace}/{service}",
        describe=lambda: f"{len(last[0].ready)} ready, {len(last[0].not_ready)} not ready" if last else "no answer",
    )
