"""Our chaostoolkit actions: what chaostoolkit-kubernetes cannot do, over harness.platform and the Target seam.

Each destructive action sits next to its rollback (`drain_zone` ↔
`uncordon_zone`, `lose_cluster` ↔ `finish_cluster_teardown`). chaostoolkit-
kubernetes 0.39's `drain_nodes` crashes on pods without volumes and gives up on
the first PodDisruptionBudget refusal, so the drain here retries 429s until its
deadline, as `kubectl drain` does. Every action acts on the drill's own target
(handed over in configuration, see `harness.chaos.binding`); under plain
`chaos run` the configured target is opened for the activity. Each one first
passes `harness.safety.require_destructive` (a rollback with `undo=True`:
identity only), so `chaos run` is guarded exactly like the drill.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from chaoslib.exceptions import ActivityFailed

from harness.chaos.binding import target_from
from harness.errors import DrillError
from harness.platform import nodes
from harness.polling import wait_until
from harness.safety import require_destructive
from harness.undo import cluster_ref, ledger_for

__all__ = ["drain_zone", "finish_cluster_teardown", "lose_cluster", "restart_zone", "stop_zone", "uncordon_zone"]


def drain_zone(
    zone: str,
    timeout_s: float = 300.0,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Cordon every node of `zone` and evict its pods, honouring PodDisruptionBudgets; return what moved.

    The nodes it is about to cordon (only those still schedulable) go into the
    undo ledger first, so a killed run can be recovered and nodes cordoned
    before the drill stay cordoned.
    """
    try:
        with target_from(configuration, activity="drain_zone") as target:
            require_destructive(target, f"drain zone {zone}")
            cluster = target.cluster()
            ledger = ledger_for(target)

            def write_undo(names: tuple[str, ...]) -> None:
                if names:
                    ledger.before("uncordon_nodes", action=f"drain zone {zone}", cluster=cluster_ref(cluster),
                                  zone=zone, nodes=list(names))

            result = nodes.drain_zone(cluster, zone, timeout=float(timeout_s), before_cordon=write_undo)
    except DrillError as exc:
        raise ActivityFailed(f"drain_zone {zone}: {exc.one_line()}") from None
    return {"zone": zone, "nodes": list(result.nodes), "cordoned": list(result.cordoned),
            "evicted": list(result.evicted), "pdb_refusals": result.budget_refusals,
            "seconds": round(result.seconds, 3)}


def uncordon_zone(
    zone: str, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> list[str]:
    """Rollback of drain_zone: make schedulable again exactly the nodes the drain cordoned (from the ledger)."""
    try:
        with target_from(configuration, activity="uncordon_zone") as target:
            require_destructive(target, f"uncordon zone {zone}", undo=True)
            cluster = target.cluster()
            ledger = ledger_for(target)
            uncordoned: list[str] = []
            for entry in ledger.find("uncordon_nodes", zone=zone):
                if entry.cluster.get("api_server") not in (None, cluster.server):
                    continue  # another cluster's drain: `recover` handles it there
                uncordoned += nodes.uncordon_nodes(cluster, tuple(entry.params["nodes"]))
                ledger.done(entry.id)
            return uncordoned
    except DrillError as exc:
        raise ActivityFailed(f"uncordon_zone {zone}: {exc.one_line()}") from None


def stop_zone(
    zone: str, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A hard zone failure: stop the zone's machines (kubelets and containers at once), no cordon, no drain.

    The control plane finds out as it would in a real outage: heartbeats stop, the
    nodes go NotReady after the grace period, and their pods are evicted by taint.
    The restart goes into the undo ledger first, so `recover` can give the zone back.
    """
    try:
        with target_from(configuration, activity="stop_zone") as target:
            require_destructive(target, f"stop every machine of zone {zone}")
            why = target.why_no_hard_zone_failure()
            if why:
                raise ActivityFailed(f"stop_zone {zone}: {why}; run scenario 2 with zone_failure: drain")
            cluster = target.cluster()
            ledger_for(target).before("thaw_zone", action=f"stop zone {zone}", cluster=cluster_ref(cluster),
                                      zone=zone, cgroups=target.zone_cgroups(zone))
            stopped = target.stop_zone(zone)
    except DrillError as exc:
        raise ActivityFailed(f"stop_zone {zone}: {exc.one_line()}") from None
    return {"zone": zone, "nodes": stopped}


def restart_zone(
    zone: str, configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> list[str]:
    """Rollback of stop_zone: the zone's machines run again; their kubelets report back and clean up."""
    try:
        with target_from(configuration, activity="restart_zone") as target:
            require_destructive(target, f"restart zone {zone}", undo=True)
            restarted = target.restart_zone(zone)
            ledger_for(target).settle("thaw_zone", how="restarted by the rollback", zone=zone)
            cluster = target.cluster()
            wait_until(lambda: not nodes.not_ready_nodes(cluster, zone) or None, timeout=120.0, interval=0.5,
                       what=f"the nodes of {zone} Ready again",
                       describe=lambda: f"NotReady: {', '.join(nodes.not_ready_nodes(cluster, zone))}")
            return restarted
    except DrillError as exc:
        raise ActivityFailed(f"restart_zone {zone}: {exc.one_line()}") from None


def lose_cluster(configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None) -> dict[str, Any]:
    """Destroy the target's cluster and Redis data (sandbox, or an allowed + confirmed target).

    Returns what was destroyed (cluster, API server, Redis URL, details).
    """
    try:
        with target_from(configuration, activity="lose_cluster") as target:
            require_destructive(target, "lose the cluster and its Redis data")
            return asdict(target.lose_primary())
    except DrillError as exc:
        raise ActivityFailed(f"lose_cluster: {exc.one_line()}") from None


def finish_cluster_teardown(
    configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> bool:
    """Rollback of lose_cluster: make sure nothing of the lost cluster lingers half-alive."""
    try:
        with target_from(configuration, activity="finish_cluster_teardown") as target:
            require_destructive(target, "finish the cluster teardown", undo=True)
            target.finish_teardown()
            return True
    except DrillError as exc:
        raise ActivityFailed(f"finish_cluster_teardown: {exc.one_line()}") from None
