"""Scenario 3 steps: lose the cluster, restore by the runbook, phase by phase."""

from __future__ import annotations

from pytest_bdd import given, then, when

from harness.backup.config_export import ConfigExport
from harness.drills import cluster_loss, configuration, recovery
from harness.drills.restore_point import RestorePoint, require_keyspace_restored
from harness.drills.scenario import DrillScenario
from harness.drills.smoke import SmokeSeed
from harness.restore.run import RestoreResult
from harness.target import LossReport
from harness.target.base import Target


@given("the newest pipeline export of the Secrets and ConfigMaps decrypts with the configured key",
       target_fixture="config_export")
def pipeline_export_readable(drill: DrillScenario, drill_target: Target) -> ConfigExport:
    return configuration.require_pipeline_export(drill, drill_target)


@when("the cluster-loss experiment destroys the cluster and the Redis data", target_fixture="loss")
def destroy(drill: DrillScenario, drill_target: Target) -> LossReport:
    return cluster_loss.destroy_cluster(drill, drill_target)


@then("the fault is confirmed: the old cluster's API and its Redis no longer answer")
def loss_confirmed(drill: DrillScenario, drill_target: Target, loss: LossReport) -> None:
    cluster_loss.confirm_cluster_lost(drill, drill_target, loss)


@when("SENTINEL is deployed to a new cluster")
def deploy_new_cluster(drill: DrillScenario, drill_target: Target) -> None:
    drill_target.provision_cluster()
    drill.note("deploy", drill_target.last_deploy)  # which deploy method, and what it applied
    drill.clock.mark("infra_ready")


@when("Redis is restored from that pipeline backup", target_fixture="data_restore")
def restore_redis(drill: DrillScenario, drill_target: Target, restore_point: RestorePoint) -> RestoreResult:
    restored = recovery.restore_redis(drill, drill_target, restore_point.backup_id)
    drill.clock.mark("data_restored")
    return restored


@when("the Secrets and ConfigMaps are restored from that export")
def restore_config(drill: DrillScenario, drill_target: Target, config_export: ConfigExport) -> None:
    configuration.restore_configuration(drill, drill_target, config_export)
    drill.clock.mark("secrets_restored")


@when("the newest day of audit logs is fetched from the archive and matches its manifest")
def restore_audit_logs(drill: DrillScenario, drill_target: Target) -> None:
    cluster_loss.fetch_audit_logs(drill, drill_target)
    drill.clock.mark("logs_restored")


@when("DNS is updated to the new load balancer")
def update_dns(drill: DrillScenario, drill_target: Target) -> None:
    recovery.update_dns(drill, drill_target)
    drill.clock.mark("dns_updated")


@then("the recovery is verified: the restored keys match the backup, every key prefix production held came back, "
      "and the canary is readable")
def recovery_verified(drill: DrillScenario, drill_target: Target, restore_point: RestorePoint,
                      data_restore: RestoreResult) -> None:
    recovery.require_restored_matches(drill, drill_target, restore_point.manifest, data_restore)
    require_keyspace_restored(drill, drill_target, restore_point)
    drill.clock.mark("verified")


@then("the RPO observed at the restored backup's canary boundary is within the target")
def rpo_within_target(drill: DrillScenario, drill_target: Target, restore_point: RestorePoint) -> None:
    rpo = cluster_loss.measure_rpo(drill, drill_target, restore_point)
    cluster_loss.require_rpo(drill, drill_target, rpo, restore_point)


@given("a session and rate-limited requests are written through the Gateway", target_fixture="smoke_seed")
def gateway_seeded(drill: DrillScenario, drill_target: Target) -> SmokeSeed | None:
    return cluster_loss.seed_gateway(drill, drill_target)


@then("the restored Gateway serves that session and the rate-limit counter kept its count")
def restored_gateway_serves(drill: DrillScenario, drill_target: Target, smoke_seed: SmokeSeed | None,
                            restore_point: RestorePoint) -> None:
    cluster_loss.check_restored_gateway(drill, drill_target, smoke_seed, restore_point)
