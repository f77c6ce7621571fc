"""Backup coverage steps: one row each, checked by harness.drills.coverage_checks."""

from __future__ import annotations

from pytest_bdd import then, when

from harness.coverage import CoverageRow
from harness.drills.coverage_checks import check_row, require_row
from harness.drills.scenario import DrillScenario
from harness.target.base import Target


@when("the pipeline's Redis backups of the coverage window are checked", target_fixture="coverage_row")
def redis_checked(drill: DrillScenario, drill_target: Target) -> CoverageRow:
    return check_row(drill, drill_target, "Redis")


@when("the newest pipeline configuration export is checked against the live namespace", target_fixture="coverage_row")
def config_checked(drill: DrillScenario, drill_target: Target) -> CoverageRow:
    return check_row(drill, drill_target, "Configuration")


@when("the log bucket's lifecycle rules and daily archives are checked", target_fixture="coverage_row")
def logs_checked(drill: DrillScenario, drill_target: Target) -> CoverageRow:
    return check_row(drill, drill_target, "Logs")


@when("Prometheus's configuration is checked", target_fixture="coverage_row")
def prometheus_checked(drill: DrillScenario, drill_target: Target) -> CoverageRow:
    return check_row(drill, drill_target, "Prometheus")


@then("the newest is no older than the RPO, no gap exceeds it and every backup has its manifest")
@then("it decrypts with the configured key and no object has drifted")
@then("the lifecycle matches the retention table and no day of any log type is missing")
@then("it names a remote_write endpoint, and whether that endpoint answers is reported")
def row_passes(coverage_row: CoverageRow) -> None:
    require_row(coverage_row)
