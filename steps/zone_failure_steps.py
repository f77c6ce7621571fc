"""Scenario 2 steps: a zone drains away, Brain scales up elsewhere."""

from __future__ import annotations

from pytest_bdd import parsers, then, when

from harness.drills import zone_failure
from harness.drills.scenario import DrillScenario
from harness.target.base import Target


@when(parsers.parse('the zone-drain experiment drains "{zone}" and scales Brain to {replicas:d} replicas'),
      target_fixture="zone_drain")
def drain_zone(drill: DrillScenario, drill_target: Target, zone: str, replicas: int) -> zone_failure.ZoneDrainOutcome:
    return zone_failure.drain_zone_and_scale(drill, drill_target, zone=zone, scale_to=replicas)


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
