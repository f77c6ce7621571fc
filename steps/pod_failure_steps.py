"""Scenario 1 steps: Brain pods die and come back."""

from __future__ import annotations

from pytest_bdd import parsers, then, when

from harness.drills import pod_failure, preconditions
from harness.drills.scenario import DrillScenario
from harness.target.base import Target


@when(parsers.parse("the pod-kill experiment terminates {share} of the Brain pods with grace period 0"),
      target_fixture="pod_kill")
def kill_brain_pods(drill: DrillScenario, drill_target: Target, share: str) -> pod_failure.PodKillOutcome:
    return pod_failure.terminate_brain_pods(drill, drill_target, share=share)


@then("the fault is confirmed: every terminated pod was replaced by a pod with a new UID")
def pods_replaced(drill: DrillScenario, pod_kill: pod_failure.PodKillOutcome) -> None:
    pod_failure.confirm_pods_replaced(drill, pod_kill)


@then("Brain is fully available again within the RTO")
def brain_back_within_rto(drill: DrillScenario) -> None:
    drill.require(drill.rto())


@then("no acknowledged write was lost")
def no_write_lost(drill: DrillScenario, drill_target: Target) -> None:
    preconditions.require_no_acknowledged_write_lost(drill, drill_target)
