"""Scenario 1: Brain pods die; Kubernetes replaces them; SENTINEL keeps (or regains) health.

Clock events: fault_injected (the terminate action starts) → fault_confirmed
(the terminated pods' UIDs are gone) → brain_ready (Deployment fully available)
→ verified (the health endpoint answers 200). RTO = verified − fault_injected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from harness.chaos.runner import ExperimentRun
from harness.drills.experiments import (
    BRAIN,
    BRAIN_RECOVERED,
    BRAIN_SELECTOR,
    HEALTH_RECOVERED,
    TERMINATE_BRAIN_PODS,
    activity_output,
    run_for_drill,
)
from harness.drills.scenario import DrillScenario
from harness.errors import DrillError
from harness.measure.clock import FAULT_INJECTED, VERIFIED
from harness.platform.pods import PodInfo, list_pods, wait_for_pods_gone
from harness.platform.workloads import rollout_status
from harness.target.base import Target

SHARES = ("half", "all")


@dataclass(frozen=True)
class PodKillOutcome:
    run: ExperimentRun
    replicas: int
    requested: int
    terminated: tuple[str, ...]
    old_uids: frozenset[str]
    replacements: tuple[PodInfo, ...]
    gone_error: str


def kill_count(share: str, replicas: int, kill_share: float) -> int:
    """How many pods a share means: 'all', or 'half' = the configured share, leaving at least one."""
    if share == "all":
        return replicas
    if share == "half":
        return max(1, min(replicas - 1, math.floor(replicas * kill_share)))
    raise DrillError(f"unknown share {share!r}", fix=f"use one of {', '.join(SHARES)} in the feature")


def terminate_brain_pods(drill: DrillScenario, target: Target, *, share: str) -> PodKillOutcome:
    """Run the pod-kill experiment for `share` of Brain's pods, marking the clock as it goes."""
    cluster = target.cluster()
    ns = target.namespace
    replicas = rollout_status(cluster, "Deployment", BRAIN, namespace=ns).desired
    before = {p.name: p.uid for p in list_pods(cluster, namespace=ns, selector=BRAIN_SELECTOR)}
    count = kill_count(share, replicas, drill.settings.kill_share)
    gone_error: list[str] = []

    def injected(_: str, __: Any) -> None:
        drill.clock.mark(FAULT_INJECTED)

    def terminated(_: str, run: Any) -> None:
        uids = frozenset(before[n] for n in (run or {}).get("output") or [] if n in before)
        if not uids:
            return
        try:
            wait_for_pods_gone(cluster, namespace=ns, selector=BRAIN_SELECTOR, uids=uids, timeout=60)
            drill.clock.mark("fault_confirmed")
        except DrillError as exc:
            gone_error.append(exc.one_line())

    run = run_for_drill(
        drill, target, "pod-kill",
        configuration={"kill_count": count, "recovery_timeout_s": drill.give_up_s,
                       "restore_replicas": replicas},
        on_start={TERMINATE_BRAIN_PODS: injected},
        on_end={TERMINATE_BRAIN_PODS: terminated,
                BRAIN_RECOVERED: lambda *_: drill.clock.mark("brain_ready"),
                HEALTH_RECOVERED: lambda *_: drill.clock.mark(VERIFIED)},
    )
    names = tuple(activity_output(run, TERMINATE_BRAIN_PODS) or ())
    old_uids = frozenset(before[n] for n in names if n in before)
    now = list_pods(cluster, namespace=ns, selector=BRAIN_SELECTOR)
    fresh = tuple(p for p in now if p.uid not in before.values() and p.serving)
    outcome = PodKillOutcome(run, replicas, count, names, old_uids, fresh, "; ".join(gone_error))
    drill.note("pod_kill", {"replicas": replicas, "requested": count, "terminated": list(names),
                            "replacements": [p.name for p in fresh]})
    return outcome


def confirm_pods_replaced(drill: DrillScenario, outcome: PodKillOutcome) -> None:
    """Fault proof: pods were terminated, their UIDs vanished, as many new-UID pods now serve."""
    old_still_serving = [p.name for p in outcome.replacements if p.uid in outcome.old_uids]
    observed = (
        bool(outcome.terminated)
        and drill.clock.has("fault_confirmed")
        and len(outcome.replacements) >= len(outcome.terminated)
        and not old_still_serving
    )
    drill.confirm_fault(observed, (
        f"terminated {len(outcome.terminated)} of {outcome.requested} requested Brain pods, "
        f"{len(outcome.replacements)} replacement(s) with new UIDs serving"
        + (f"; {outcome.gone_error}" if outcome.gone_error else "")
    ), {"terminated": list(outcome.terminated), "replacements": [p.uid for p in outcome.replacements]})
