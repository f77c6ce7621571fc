"""Steps every scenario shares: the pipeline preflight, a healthy target, the observers, the backup to restore, RTO."""

from __future__ import annotations

from pytest_bdd import given, parsers, then

from harness.drills import pipeline, preconditions
from harness.drills.recovery import wait_healthy
from harness.drills.restore_point import RestorePoint, pipeline_restore_point
from harness.drills.scenario import DrillScenario
from harness.target.base import Target


@given("the newest pipeline backup is no older than the RPO, verified and locked where the store locks",
       target_fixture="pipeline_backup")
def pipeline_backup_fit(drill: DrillScenario, drill_target: Target) -> pipeline.PipelineBackup:
    return pipeline.require_pipeline_backup(drill, drill_target)


@given("the target is healthy")
def target_is_healthy(drill: DrillScenario, drill_target: Target) -> None:
    preconditions.require_healthy(drill, drill_target)


@given("the canary writer is writing to Redis")
def canary_writing(drill: DrillScenario, drill_target: Target) -> None:
    preconditions.start_canary(drill, drill_target)


@given("the availability prober is watching the health endpoint")
def prober_watching(drill: DrillScenario, drill_target: Target) -> None:
    drill.start_prober(drill_target.health_url)


@given("the backup pipeline has written the backup a disaster would leave, and it verifies",
       target_fixture="restore_point")
def restore_point(drill: DrillScenario, drill_target: Target) -> RestorePoint:
    return pipeline_restore_point(drill, drill_target)


@then("the health endpoint answers healthy")
def health_answers(drill: DrillScenario, drill_target: Target) -> None:
    wait_healthy(drill, drill_target.health_url, deadline_s=drill.give_up_s)
    drill.clock.mark("healthy")


@then("the RTO is within the target, with every phase reported")
def rto_within_target(drill: DrillScenario) -> None:
    drill.require(drill.rto())


@then(parsers.parse("availability during the experiment is {expectation}"))
def availability(drill: DrillScenario, expectation: str) -> None:
    preconditions.check_availability(drill, expectation)
