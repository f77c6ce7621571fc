"""Scenario 2 steps: a zone drains away or stops hard, Brain scales up elsewhere."""

from __future__ import annotations

from pytest_bdd import given, parsers, then, when

from harness.drills import zone_failure
from harness.drills.scenario import DrillScenario
from harness.target.base import Target


@when(parsers.parse('the zone-drain experiment drains "{zone}" and scales Brain to {replicas:d} replicas'),
      target_fixture="zone_drain")
def drain_zone(drill: DrillScenario, drill_target: Target, zone: str, replicas: int) -> zone_failure.ZoneDrainOutcome:
    return zone_failure.fail_zone_and_scale(drill, drill_target, zone=zone, scale_to=replicas)


@then(parsers.parse('the fault is confirmed: every node of "{zone}" was unschedulable and held no Brain pod'))
def zone_lost(drill: DrillScenario, zone_drain: zone_failure.ZoneDrainOutcome, zone: str) -> None:
    zone_failure.confirm_zone_lost(drill, zone_drain, zone)


@then(parsers.parse("all {replicas:d} Brain replicas were Ready within the RTO"))
def replicas_ready(drill: DrillScenario, zone_drain: zone_failure.ZoneDrainOutcome, replicas: int) -> None:
    zone_failure.require_replicas_ready(drill, zone_drain, replicas)


@then(parsers.parse('no Brain replica ran in "{zone}"'))
def none_in_zone(drill: DrillScenario, zone_drain: zone_failure.ZoneDrainOutcome, zone: str) -> None:
    zone_failure.require_none_in_zone(zone_drain, zone)


@then(parsers.parse('the rollback uncordoned every node of "{zone}"'))
def rollback_uncordoned(zone_drain: zone_failure.ZoneDrainOutcome, zone: str) -> None:
    zone_failure.require_rolled_back(zone_drain, zone)


@given("the target can stop every machine of a zone")
def zone_can_stop(drill: DrillScenario, drill_target: Target) -> None:
    drill.not_run_if(drill_target.why_no_hard_zone_failure())


@when(parsers.parse('the zone-outage experiment stops every machine of "{zone}" and scales Brain to {replicas:d} '
                    'replicas'), target_fixture="zone_drain")
def stop_zone(drill: DrillScenario, drill_target: Target, zone: str, replicas: int) -> zone_failure.ZoneDrainOutcome:
    return zone_failure.fail_zone_and_scale(drill, drill_target, zone=zone, scale_to=replicas, kind="hard")


@then(parsers.parse('the fault is confirmed: every node of "{zone}" went NotReady and its Brain pods were evicted'))
def zone_stopped(drill: DrillScenario, zone_drain: zone_failure.ZoneDrainOutcome, zone: str) -> None:
    zone_failure.confirm_zone_lost(drill, zone_drain, zone)


@then(parsers.parse('the rollback restarted every node of "{zone}"'))
def rollback_restarted(zone_drain: zone_failure.ZoneDrainOutcome, zone: str) -> None:
    zone_failure.require_rolled_back(zone_drain, zone)
