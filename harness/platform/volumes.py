"""Which pods a zone's loss strands: their PersistentVolume can only be mounted in that zone.

Scaling Brain does not bring back a pod whose data lives on a zonal disk (a
StatefulSet's Redis on a local or zonal volume): it stays Pending until the zone
returns. Scenario 2 asks this before its fault, so a drill of the zone that holds
the data says so at once instead of waiting out the RTO.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.platform.client import Cluster, Obj, ObjectNotFound, cluster_scoped, namespaced
from harness.platform.pods import ZONE_LABEL, node_zones

HOSTNAME_LABEL = "kubernetes.io/hostname"


@dataclass(frozen=True)
class PinnedPod:
    """A pod whose volume only nodes of one zone can mount."""

    pod: str
    claim: str
    volume: str
    pinned_by: str  # the PV's node affinity, in words

    def to_json(self) -> dict[str, str]:
        return {"pod": self.pod, "claim": self.claim, "volume": self.volume, "pinned_by": self.pinned_by}


def _allowed_zones(pv: Obj, zones: dict[str, str | None]) -> tuple[set[str] | None, str]:
    """The zones a PV's required node affinity allows (None = any), and that affinity in words."""
    terms = (((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms") or []
    if not terms:
        return None, "no node affinity"
    allowed: set[str] = set()
    words = []
    for term in terms:  # terms are ORed; expressions inside one term are ANDed
        term_zones: set[str] | None = None
        for expr in term.get("matchExpressions") or []:
            if expr.get("operator") != "In":
                continue
            values = list(expr.get("values") or [])
            if expr.get("key") == ZONE_LABEL:
                found = set(values)
            elif expr.get("key") == HOSTNAME_LABEL:
                found = {z for node, z in zones.items() if node in values and z}
            else:
                continue
            words.append(f"{expr['key']} in {values}")
            term_zones = found if term_zones is None else term_zones & found
        if term_zones is None:
            return None, "a node-affinity term that allows any zone"
        allowed |= term_zones
    return allowed, "; ".join(words)


def pods_pinned_to_zone(cluster: Cluster, *, namespace: str, zone: str) -> list[PinnedPod]:
    """Pods of `namespace` with a volume that only `zone` can mount (so losing the zone loses them)."""
    pods = cluster.list_items(namespaced("v1", "pods", namespace))
    zones = node_zones(cluster)
    pinned: list[PinnedPod] = []
    for pod in pods:
        for volume in (pod.get("spec") or {}).get("volumes") or []:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if not claim:
                continue
            pv = _bound_volume(cluster, namespace, claim)
            if pv is None:
                continue
            allowed, words = _allowed_zones(pv, zones)
            if allowed is not None and allowed <= {zone}:
                pinned.append(PinnedPod(pod["metadata"]["name"], claim, pv["metadata"]["name"], words))
    return pinned


def _bound_volume(cluster: Cluster, namespace: str, claim: str) -> Any:
    try:
        pvc = cluster.get(namespaced("v1", "persistentvolumeclaims", namespace, claim))
        name = (pvc.get("spec") or {}).get("volumeName")
        return cluster.get(cluster_scoped("v1", "persistentvolumes", name)) if name else None
    except ObjectNotFound:
        return None
