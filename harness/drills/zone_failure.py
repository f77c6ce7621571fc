"""Scenario 2: a zone fails; Brain is scaled to 10 in the healthy zones.

Two kinds of failure, and the evidence names the one that ran:
- **drain** (graceful, any cluster): the zone is cordoned and its pods evicted.
  fault_confirmed = every node cordoned and no Brain pod left on it.
- **hard** (a target that can stop machines: the sandbox's real nodes): every
  machine of the zone stops at once; nothing tells the cluster. fault_confirmed =
  the control plane marked every node NotReady *and* evicted the zone's Brain pods
  by taint; detection is inside the RTO, as in a real outage.
Then brain_ready (all replicas Ready) → verified (health 200). RTO = verified −
fault_injected, compared by the step.

Before either fault the drill asks which pods a loss of the zone would strand (a
volume only that zone can mount). Scaling Brain brings none of them back, so such
a drill fails at once and names them instead of waiting out the RTO.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.chaos.runner import ExperimentRun
from harness.drills.experiments import (
    BRAIN,
    BRAIN_EVICTED_FROM_ZONE,
    BRAIN_PODS_IN_FAILED_ZONE,
    BRAIN_RECOVERED,
    BRAIN_SELECTOR,
    DRAIN_ZONE,
    HEALTH_RECOVERED,
    STOP_ZONE,
    ZONE_NOT_READY,
    activity_output,
    run_for_drill,
)
from harness.drills.scenario import DrillScenario
from harness.errors import ConfigError, DrillError, TargetMissed
from harness.measure.clock import FAULT_INJECTED, VERIFIED
from harness.platform.nodes import nodes_in_zone, not_ready_nodes, unschedulable_nodes
from harness.platform.pods import count_in_zone, list_pods
from harness.platform.volumes import pods_pinned_to_zone
from harness.platform.workloads import rollout_status
from harness.target.base import Target


@dataclass
class ZoneObservation:
    """What the drill saw of the zone while the experiment ran (filled by hooks)."""

    zone: str
    nodes: tuple[str, ...]
    kind: str = "drain"  # "drain" | "hard"
    cordoned_after_drain: tuple[str, ...] = ()
    not_ready_after_stop: tuple[str, ...] = ()
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
    not_ready_after_rollback: tuple[str, ...] = ()


#: failure kind → the experiment that injects it
EXPERIMENTS = {"drain": "zone-drain", "hard": "zone-outage"}


def require_nothing_pinned(drill: DrillScenario, target: Target, zone: str) -> None:
    """Fail before the fault when losing `zone` would strand a pod with a volume only that zone can mount."""
    pinned = pods_pinned_to_zone(target.cluster(), namespace=target.namespace, zone=zone)
    drill.note("pinned_to_failed_zone", [p.to_json() for p in pinned])
    if pinned:
        names = ", ".join(f"{p.pod} (volume {p.volume}: {p.pinned_by})" for p in pinned)
        raise TargetMissed(f"losing {zone} strands {names}: no Brain scaling brings it back, so the runbook's "
                           "scenario 2 cannot recover this zone", fix="replicate that data across zones (or drill "
                           "another zone and record this one as a known single-zone dependency)")


def fail_zone_and_scale(drill: DrillScenario, target: Target, *, zone: str, scale_to: int,
                        kind: str = "drain") -> ZoneDrainOutcome:
    """Run the zone experiment of `kind` (drain | hard) on `zone`, scale Brain to `scale_to`, then roll back."""
    cluster = target.cluster()
    ns = target.namespace
    original = rollout_status(cluster, "Deployment", BRAIN, namespace=ns).desired
    seen = ZoneObservation(zone, nodes_in_zone(cluster, zone), kind=kind)
    drill.note("zone_failure_kind", kind)
    require_nothing_pinned(drill, target, zone)

    def stopped(_: str, __: Any) -> None:
        try:
            seen.not_ready_after_stop = not_ready_nodes(cluster, zone)
        except DrillError as exc:
            seen.errors.append(exc.one_line())

    def evicted(_: str, __: Any) -> None:
        try:
            seen.brain_in_zone_after_drain = count_in_zone(cluster, namespace=ns, selector=BRAIN_SELECTOR, zone=zone)
        except DrillError as exc:
            seen.errors.append(exc.one_line())
        if seen.not_ready_after_stop == seen.nodes and seen.brain_in_zone_after_drain == 0:
            drill.clock.mark("fault_confirmed")

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

    fault = {"drain": DRAIN_ZONE, "hard": STOP_ZONE}[kind]
    hooks = ({DRAIN_ZONE: drained} if kind == "drain" else {ZONE_NOT_READY: stopped, BRAIN_EVICTED_FROM_ZONE: evicted})
    run = run_for_drill(
        drill, target, EXPERIMENTS[kind],
        configuration={"zone": zone, "scale_to": scale_to,
                       "restore_replicas": original, "recovery_timeout_s": drill.give_up_s},
        on_start={fault: lambda *_: drill.clock.mark(FAULT_INJECTED)},
        on_end={**hooks, BRAIN_RECOVERED: ready, HEALTH_RECOVERED: lambda *_: drill.clock.mark(VERIFIED)},
    )
    drain_output = activity_output(run, DRAIN_ZONE) or {}
    ours = set(drain_output.get("cordoned") or ())  # nodes cordoned before the drill are not ours to give back
    outcome = ZoneDrainOutcome(run, scale_to, original, seen,
                               tuple(n for n in unschedulable_nodes(cluster, zone) if n in ours),
                               not_ready_nodes(cluster, zone) if kind == "hard" else ())
    drill.note("zone_drain", {
        "kind": kind, "zone": zone, "nodes": list(seen.nodes),
        "not_ready_after_stop": list(seen.not_ready_after_stop),
        "not_ready_after_rollback": list(outcome.not_ready_after_rollback),
        "cordoned_after_drain": list(seen.cordoned_after_drain),
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
    """Fault proof: every node of the zone was out (cordoned, or NotReady for a hard failure) and held no
    Brain pod afterwards."""
    seen = _about(outcome, zone)
    out = seen.cordoned_after_drain if seen.kind == "drain" else seen.not_ready_after_stop
    observed = bool(seen.nodes) and out == seen.nodes and seen.brain_in_zone_after_drain == 0
    drill.confirm_fault(observed, (
        f"{seen.kind}: {len(out)}/{len(seen.nodes)} nodes of {seen.zone} "
        f"{'cordoned' if seen.kind == 'drain' else 'NotReady'}, "
        f"{seen.brain_in_zone_after_drain} Brain pod(s) left there"
        + (f"; errors: {'; '.join(seen.errors)}" if seen.errors else "")
    ), {"kind": seen.kind, "nodes": list(seen.nodes), "cordoned": list(seen.cordoned_after_drain),
        "not_ready": list(seen.not_ready_after_stop)})


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
    """The rollbacks ran and no node of the zone is still cordoned (drain) or NotReady (hard)."""
    _about(outcome, zone)
    statuses = outcome.run.rollback_statuses()
    if outcome.cordoned_after_rollback or any(s != "succeeded" for s in statuses):
        raise TargetMissed(f"rollback left {list(outcome.cordoned_after_rollback)} cordoned (rollbacks: {statuses})",
                           fix="uncordon the zone by hand: kubectl uncordon -l topology.kubernetes.io/zone=<zone>")
    if outcome.not_ready_after_rollback:
        raise TargetMissed(f"rollback left {list(outcome.not_ready_after_rollback)} NotReady (rollbacks: {statuses})",
                           fix="run `sentinel-drill recover`, then check the zone's kubelets")
