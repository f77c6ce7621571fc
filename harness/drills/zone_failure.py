"""Scenario 2: a zone fails; Brain is scaled to 10 in the healthy zones.

Clock events: fault_injected (the drain starts) → fault_confirmed (every node of
the zone cordoned, no Brain pod left on it) → brain_ready (all replicas Ready)
→ verified (health 200). RTO = verified − fault_injected, compared by the step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.chaos.runner import ExperimentRun
from harness.drills.experiments import (
    BRAIN,
    BRAIN_PODS_IN_FAILED_ZONE,
    BRAIN_RECOVERED,
    BRAIN_SELECTOR,
    DRAIN_ZONE,
    HEALTH_RECOVERED,
    activity_output,
    run_for_drill,
)
from harness.drills.scenario import DrillScenario
from harness.errors import ConfigError, DrillError, TargetMissed
from harness.measure.clock import FAULT_INJECTED, VERIFIED
from harness.platform.nodes import nodes_in_zone, unschedulable_nodes
from harness.platform.pods import count_in_zone, list_pods
from harness.platform.workloads import rollout_status
from harness.target.base import Target


@dataclass
class ZoneObservation:
    """What the drill saw of the zone while the experiment ran (filled by hooks)."""

    zone: str
    nodes: tuple[str, ...]
    cordoned_after_drain: tuple[str, ...] = ()
    brain_in_zone_after_drain: int = -1
    brain_in_zone_when_ready: int = -1
    ready_replicas: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ZoneDrainOutcome:
    run: ExperimentRun
    scale_to: int
    original_replicas: int
    seen: ZoneObservation
    cordoned_after_rollback: tuple[str, ...]


def drain_zone_and_scale(drill: DrillScenario, target: Target, *, zone: str, scale_to: int) -> ZoneDrainOutcome:
    """Run the zone-drain experiment: drain `zone`, scale Brain to `scale_to`, then roll back."""
    cluster = target.cluster()
    ns = target.namespace
    original = rollout_status(cluster, "Deployment", BRAIN, namespace=ns).desired
    seen = ZoneObservation(zone, nodes_in_zone(cluster, zone))

    def drained(_: str, __: Any) -> None:
        try:
            seen.cordoned_after_drain = unschedulable_nodes(cluster, zone)
            seen.brain_in_zone_after_drain = count_in_zone(cluster, namespace=ns, selector=BRAIN_SELECTOR, zone=zone)
        except DrillError as exc:
            seen.errors.append(exc.one_line())
        if seen.cordoned_after_drain == seen.nodes and seen.brain_in_zone_after_drain == 0:
            drill.clock.mark("fault_confirmed")

    def ready(_: str, __: Any) -> None:
        drill.clock.mark("brain_ready")
        try:
            seen.brain_in_zone_when_ready = count_in_zone(cluster, namespace=ns, selector=BRAIN_SELECTOR, zone=zone)
            seen.ready_replicas = len([p for p in list_pods(cluster, namespace=ns, selector=BRAIN_SELECTOR)
                                       if p.serving])
        except DrillError as exc:
            seen.errors.append(exc.one_line())

    run = run_for_drill(
        drill, target, "zone-drain",
        configuration={"zone": zone, "scale_to": scale_to,
                       "restore_replicas": original, "recovery_timeout_s": drill.give_up_s},
        on_start={DRAIN_ZONE: lambda *_: drill.clock.mark(FAULT_INJECTED)},
        on_end={DRAIN_ZONE: drained, BRAIN_RECOVERED: ready,
                HEALTH_RECOVERED: lambda *_: drill.clock.mark(VERIFIED)},
    )
    drain_output = activity_output(run, DRAIN_ZONE) or {}
    ours = set(drain_output.get("cordoned") or ())  # nodes cordoned before the drill are not ours to give back
    outcome = ZoneDrainOutcome(run, scale_to, original, seen,
                               tuple(n for n in unschedulable_nodes(cluster, zone) if n in ours))
    drill.note("zone_drain", {
        "zone": zone, "nodes": list(seen.nodes), "cordoned_after_drain": list(seen.cordoned_after_drain),
        "brain_in_zone_after_drain": seen.brain_in_zone_after_drain,
        "brain_in_zone_when_ready": seen.brain_in_zone_when_ready, "ready_replicas": seen.ready_replicas,
        "probe_brain_pods_in_failed_zone": activity_output(run, BRAIN_PODS_IN_FAILED_ZONE),
        "cordoned_after_rollback": list(outcome.cordoned_after_rollback), "errors": seen.errors,
    })
    return outcome


def _about(outcome: ZoneDrainOutcome, zone: str) -> ZoneObservation:
    """The observation of `zone`; a step naming another zone than the one drained is a feature error."""
    if outcome.seen.zone != zone:
        raise ConfigError(f"the step checks zone {zone!r} but the drill drained {outcome.seen.zone!r}",
                          fix="use the same zone in every step of the scenario")
    return outcome.seen


def confirm_zone_lost(drill: DrillScenario, outcome: ZoneDrainOutcome, zone: str) -> None:
    """Fault proof: every node of the zone was unschedulable and held no Brain pod after the drain."""
    seen = _about(outcome, zone)
    observed = bool(seen.nodes) and seen.cordoned_after_drain == seen.nodes and seen.brain_in_zone_after_drain == 0
    drill.confirm_fault(observed, (
        f"{len(seen.cordoned_after_drain)}/{len(seen.nodes)} nodes of {seen.zone} cordoned, "
        f"{seen.brain_in_zone_after_drain} Brain pod(s) left there"
        + (f"; errors: {'; '.join(seen.errors)}" if seen.errors else "")
    ), {"nodes": list(seen.nodes), "cordoned": list(seen.cordoned_after_drain)})


def require_replicas_ready(drill: DrillScenario, outcome: ZoneDrainOutcome, replicas: int) -> None:
    """All `replicas` served when the rollout completed, and that happened within the RTO."""
    if outcome.seen.ready_replicas < replicas:
        raise TargetMissed(f"{outcome.seen.ready_replicas} of {replicas} Brain replicas Ready after the scale-up",
                           fix="see the journal's brain-recovered probe and the scheduler's events")
    drill.require(drill.rto())


def require_none_in_zone(outcome: ZoneDrainOutcome, zone: str) -> None:
    count = _about(outcome, zone).brain_in_zone_when_ready
    if count != 0:
        raise TargetMissed(f"{count} Brain replica(s) ran in the failed zone {outcome.seen.zone}",
                           fix="the zone's nodes were schedulable; check the cordon")


def require_rolled_back(outcome: ZoneDrainOutcome, zone: str) -> None:
    """The rollbacks ran and no node of the zone is still cordoned."""
    _about(outcome, zone)
    statuses = outcome.run.rollback_statuses()
    if outcome.cordoned_after_rollback or any(s != "succeeded" for s in statuses):
        raise TargetMissed(f"rollback left {list(outcome.cordoned_after_rollback)} cordoned (rollbacks: {statuses})",
                           fix="uncordon the zone by hand: kubectl uncordon -l topology.kubernetes.io/zone=<zone>")
