"""Monthly backup verification and the daily check, both on the backup pipeline's newest backup."""

from __future__ import annotations

from pytest_bdd import given, then, when

from harness.backup.catalog import BackupEntry
from harness.backup.verify import VerificationReport
from harness.drills import backup_checks
from harness.drills.pipeline import PipelineBackup
from harness.drills.recovery import require_verified
from harness.drills.scenario import DrillScenario
from harness.target.base import Target


@when("the newest pipeline backup is restored into a scratch Redis", target_fixture="scratch_restore")
def restore_into_scratch(drill: DrillScenario, drill_target: Target,
                         pipeline_backup: PipelineBackup) -> backup_checks.ScratchRestore:
    return backup_checks.restore_into_scratch(drill, drill_target, pipeline_backup.id)


@then("its key count equals the backup manifest")
def count_equals_manifest(scratch_restore: backup_checks.ScratchRestore) -> None:
    backup_checks.require_count_matches_manifest(scratch_restore)


@then("its key count is within the tolerance of production's DBSIZE")
def count_near_production(drill: DrillScenario, scratch_restore: backup_checks.ScratchRestore) -> None:
    backup_checks.require_near_production(drill, scratch_restore)


@given("the newest pipeline backup in the store", target_fixture="newest_entry")
def newest(drill_target: Target) -> BackupEntry:
    return backup_checks.newest_pipeline_backup(drill_target)


@then("it is no older than the RPO plus the backup schedule's slack")
def no_older_than_rpo(drill: DrillScenario, newest_entry: BackupEntry) -> None:
    backup_checks.require_no_older_than_rpo(drill, newest_entry)


@when("it is verified at every level", target_fixture="verification")
def verify_newest(drill: DrillScenario, drill_target: Target, newest_entry: BackupEntry) -> VerificationReport:
    return backup_checks.verify_entry(drill, drill_target, newest_entry)


@then("every verification level passes")
def all_levels_pass(verification: VerificationReport) -> None:
    require_verified(verification)


@then("it holds at least the minimum number of keys")
def enough_keys(drill: DrillScenario, verification: VerificationReport) -> None:
    backup_checks.require_min_keys(drill, verification)
