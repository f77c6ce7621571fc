"""What every scenario checks around its fault: a healthy start, canaries, availability."""

from __future__ import annotations

from typing import Any

from harness.drills.experiments import BRAIN
from harness.drills.scenario import DrillScenario
from harness.errors import DrillError, PreconditionFailed, TargetMissed
from harness.measure.availability import probe_once
from harness.measure.canary import CanaryWriter
from harness.measure.clock import Measurement
from harness.platform.pods import deployment_serving
from harness.polling import poll
from harness.target.base import Target

AT_LEAST_FLOOR = "at least the floor"
OUTAGE_REPORTED = "measured and the outage reported"


def require_healthy(drill: DrillScenario, target: Target, *, settle_s: float = 60.0) -> None:
    """The drill starts from a healthy target (waiting up to `settle_s` for it), or it proves nothing (INVALID)."""
    seen: dict[str, Any] = {}

    def steady() -> bool | None:
        seen["sample"] = probe_once(target.health_url, timeout=2.0)
        try:
            ok, seen["brain"] = deployment_serving(target.cluster(), BRAIN, namespace=target.namespace)
        except DrillError as exc:
            ok, seen["brain"] = False, exc.one_line()
        return True if seen["sample"].ok and ok else None

    healthy = poll(steady, timeout=settle_s, interval=0.5)
    sample, brain = seen["sample"], seen["brain"]
    drill.note("healthy_before", {"health_status": sample.status, "brain": brain})
    if not healthy:
        raise PreconditionFailed(
            f"target not healthy before the fault (waited {settle_s:.0f}s): health {sample.status} "
            f"{sample.reason[:120]}; {brain}",
            fix="bring the target back to steady state before drilling",
        )


def start_canary(drill: DrillScenario, target: Target) -> CanaryWriter:
    writer = drill.start_canary(CanaryWriter(target.redis()))
    return writer


def check_availability(drill: DrillScenario, expectation: str) -> None:
    """'at least the floor' → availability ≥ floor; 'measured and the outage reported' → outage ≤ RTO."""
    report = drill.availability(since_event="fault_injected", until_event=None)
    if expectation == AT_LEAST_FLOOR:
        drill.require_at_least("availability", drill.settings.availability_floor, report.availability,
                               detail=f"{report.outages} outage(s), longest {report.longest_outage_s:.2f}s")
    elif expectation == OUTAGE_REPORTED:
        drill.require(Measurement("longest outage", drill.settings.rto_seconds, report.longest_outage_s))
    else:
        raise DrillError(f"unknown availability expectation {expectation!r}",
                         fix=f"use '{AT_LEAST_FLOOR}' or '{OUTAGE_REPORTED}' in the feature")


def require_no_acknowledged_write_lost(drill: DrillScenario, target: Target) -> None:
    """Every canary Redis acknowledged is still there, none missing in between."""
    assert drill.canary is not None, "the canary writer never ran"
    drill.canary.stop()
    report = drill.read_canaries(target.redis())
    drill.declare_requirement("acknowledged writes", "min", 1)
    drill.declare_requirement("acknowledged writes lost", "max", 0)
    if not drill.canary.acknowledged:
        raise TargetMissed("no canary write was acknowledged during the drill", fix="check Redis and the writer")
    if report.lost_count or report.holes:
        raise TargetMissed(f"{report.lost_count} acknowledged write(s) lost, {len(report.holes)} missing in between",
                           fix="writes acknowledged by Redis must survive a pod failure")
