"""Scenario 4 steps: isolate, scan, deploy clean, restore, rotate, audit."""

from __future__ import annotations

from typing import Any

from pytest_bdd import given, then, when

from harness.backup.verify import VerificationReport
from harness.drills import assessment, configuration, ransomware, recovery
from harness.drills.restore_point import RestorePoint
from harness.drills.scenario import DrillScenario
from harness.target.base import Target


@given("the newest backup in the store has been tampered with", target_fixture="quarantine")
def tampered(drill: DrillScenario, drill_target: Target, restore_point: RestorePoint) -> ransomware.Quarantine:
    return ransomware.plant_tampered_backup(drill, drill_target, restore_point.backup_id)


@when("the compromise experiment isolates the namespace", target_fixture="isolation")
def isolate(drill: DrillScenario, drill_target: Target) -> dict[str, Any]:
    return ransomware.isolate_namespace(drill, drill_target)


@then("the fault is confirmed: a deny-all policy isolated every pod of the namespace")
def isolated(drill: DrillScenario, isolation: dict[str, Any]) -> None:
    ransomware.confirm_isolated(drill, isolation)


@when("the compromise is assessed: objects and images changed since the last configuration export, "
      "Redis keys against the newest verified backup", target_fixture="assessment")
def assess(drill: DrillScenario, drill_target: Target) -> assessment.Assessment:
    return assessment.assess_compromise(drill, drill_target)


@when("every backup in the store is scanned", target_fixture="scan")
def scan(drill: DrillScenario, quarantine: ransomware.Quarantine) -> ransomware.ScanResult:
    return ransomware.scan_backups(drill, quarantine)


@then("the tampered backup is rejected and the newest backup that verifies is chosen", target_fixture="chosen")
def choose(scan: ransomware.ScanResult, quarantine: ransomware.Quarantine) -> VerificationReport:
    return ransomware.require_tampered_rejected(scan, quarantine)


@when("SENTINEL is deployed clean into a fresh namespace, from images with their known-good digests",
      target_fixture="old_namespace")
def deploy_clean(drill: DrillScenario, drill_target: Target) -> str:
    return ransomware.deploy_clean(drill, drill_target)


@when("Redis is restored from the chosen backup")
def restore_chosen(drill: DrillScenario, drill_target: Target, chosen: VerificationReport,
                   quarantine: ransomware.Quarantine) -> None:
    recovery.restore_redis(drill, drill_target, chosen.backup_id, store=quarantine.store)
    drill.clock.mark("data_restored")


@when("every secret is rotated, the Redis password included", target_fixture="passwords")
def rotate(drill: DrillScenario, drill_target: Target, old_namespace: str) -> ransomware.RotatedPasswords:
    return ransomware.rotate_every_secret(drill, drill_target, old_namespace=old_namespace)


@then("the old Redis password is rejected with WRONGPASS and the new one works")
def old_password_rejected(drill: DrillScenario, drill_target: Target, passwords: ransomware.RotatedPasswords) -> None:
    ransomware.require_password_rotated(drill, drill_target, passwords)


@then("the audit timeline is attached")
def audit(drill: DrillScenario) -> None:
    ransomware.audit_timeline(drill)


@when("the configuration backup exports the rotated Secrets")
def config_backed_up(drill: DrillScenario, drill_target: Target) -> None:
    configuration.back_up_rotated_configuration(drill, drill_target)
    drill.clock.mark("config_backed_up")
