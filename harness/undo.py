"""Carry out what the undo ledger says, for a rollback or for `sentinel-drill recover` after a crash.

Each undo kind is idempotent (uncordoning a schedulable node, deleting an
absent policy, scaling to the count it already has are no-ops), and runs only
against the cluster the entry was written for: the API server it reaches must
be the one recorded, or the undo is refused rather than applied elsewhere.
"""

from __future__ import annotations

from typing import Any

from harness.errors import SafetyRefused
from harness.ledger import UndoEntry, UndoLedger
from harness.platform import nodes, workloads
from harness.platform.client import Cluster, connect
from harness.platform.network import unisolate_namespace
from harness.safety import normalise_api_server
from harness.target.base import Target


def cluster_ref(cluster: Cluster) -> dict[str, str | None]:
    """Where an undo must run: kubeconfig path, context, API server (no secret)."""
    return {"kubeconfig": cluster.kubeconfig, "context": cluster.context, "api_server": cluster.server}


def ledger_for(target: Target) -> UndoLedger:
    return UndoLedger.in_dir(target.settings.state_dir)


def _cluster_for(entry: UndoEntry) -> Cluster:
    ref = entry.cluster
    cluster = connect(ref.get("kubeconfig"), ref.get("context"))
    recorded = ref.get("api_server")
    if recorded and normalise_api_server(cluster.server) != normalise_api_server(recorded):
        raise SafetyRefused(
            f"undo {entry.kind} was written for {recorded}, but the kubeconfig now reaches {cluster.server}",
            fix="point the kubeconfig/context back at that cluster, or undo by hand (see the ledger entry)")
    return cluster


def apply_undo(entry: UndoEntry, cluster: Cluster | None = None) -> str:
    """Undo one entry; return what was done, in words."""
    p: dict[str, Any] = entry.params
    if entry.kind == "thaw_zone":  # a sandbox's stopped zone: its machines are this host's cgroups
        from harness.sandbox.nodes import freeze, is_frozen

        thawed = [c for c in p["cgroups"] if is_frozen(c)]
        for cgroup in thawed:
            freeze(cgroup, False)
        return f"zone {p['zone']}: {'restarted ' + ', '.join(thawed) if thawed else 'already running'}"
    cluster = cluster or _cluster_for(entry)
    if entry.kind == "uncordon_nodes":
        changed = nodes.uncordon_nodes(cluster, tuple(p["nodes"]))
        return f"uncordoned {', '.join(changed) or 'nothing (already schedulable)'}"
    if entry.kind == "delete_network_policy":
        lifted = unisolate_namespace(cluster, namespace=p["namespace"], name=p["name"])
        return f"network policy {p['namespace']}/{p['name']} {'deleted' if lifted.changed else 'already gone'}"
    if entry.kind == "scale_deployment":
        result = workloads.scale(cluster, "Deployment", p["name"], int(p["replicas"]), namespace=p["namespace"])
        return f"deployment {p['namespace']}/{p['name']} scaled {result.previous} → {result.replicas}"
    raise SafetyRefused(f"unknown undo kind {entry.kind!r} in the ledger", fix="undo it by hand")
