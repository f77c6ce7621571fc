"""Scenario 3 through the real cluster-loss experiment against the FakeTarget (its primary is lost, the
target moves to the DR cluster), and the whole restore on a real FileStore and a real redis-server."""

from __future__ import annotations

import time

from harness.backup.manifest import PIPELINE
from harness.backup.take import take_backup
from harness.drills import cluster_loss, configuration, pipeline, preconditions, recovery
from harness.evidence.record import Verdict
from harness.platform.client import APPLY_PATCH
from tests.fakes.target import BRAIN, verdict_of


def test_the_loss_is_recorded_proven_and_torn_down_and_the_recovery_released_at_the_end(
        target, primary, dr, new_drill):
    drill = new_drill(target)

    loss = cluster_loss.destroy_cluster(drill, target)
    cluster_loss.confirm_cluster_lost(drill, target, loss)

    assert target.calls == ["lose_primary", "finish_teardown", "prove_loss"]
    assert loss.api_server == primary.server and primary.lost
    assert target.cluster() is dr  # the drill's own target moved: later steps act on the DR cluster
    assert drill.clock.has("fault_injected") and drill.clock.has("fault_confirmed")
    assert drill.record.details["fault_proof"]["observed"] is True
    drill.finish()
    assert target.calls[-1] == "end_recovery"


def test_a_loss_the_target_cannot_prove_is_invalid(target, dr, new_drill):
    dr.add_deployment(BRAIN, namespace="sentinel", replicas=2)  # the "empty" DR cluster already runs Brain
    drill = new_drill(target)
    loss = cluster_loss.destroy_cluster(drill, target)

    verdict, reason = verdict_of(lambda: cluster_loss.confirm_cluster_lost(drill, target, loss))

    assert verdict is Verdict.INVALID
    assert "DR cluster already runs sentinel-brain" in reason
    assert not drill.clock.has("fault_confirmed")


def test_the_whole_restore_passes_with_rto_and_rpo_measured(make_target, redis_server, primary, dr, new_drill, data):
    target = make_target(redis_server, config_secrets=("sentinel-redis",), config_maps=())
    data.seed(target.redis(), n=5)
    primary.request("PATCH", "/api/v1/namespaces/sentinel/secrets/sentinel-redis", content_type=APPLY_PATCH,
                    body={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sentinel-redis"},
                          "data": {"password": "c2VjcmV0"}})
    take_backup(target.redis_url, target.store(), password=target.redis_password(), origin=PIPELINE)
    assert configuration.take_config_backup(target).written  # the configuration pipeline's export
    time.sleep(1.1)  # point in time has 1 s resolution: the drill's backup must be the newer one
    drill = new_drill(target)

    pipeline.require_pipeline_backup(drill, target)
    preconditions.require_healthy(drill, target, settle_s=1.0)
    preconditions.start_canary(drill, target)
    backup = recovery.take_verified_backup(drill, target)
    export = configuration.require_pipeline_export(drill, target)
    loss = cluster_loss.destroy_cluster(drill, target)
    cluster_loss.confirm_cluster_lost(drill, target, loss)
    target.provision_cluster()
    drill.clock.mark("infra_ready")
    restored = recovery.restore_redis(drill, target, recovery.newest_verified_backup(target))
    drill.clock.mark("data_restored")
    configuration.restore_configuration(drill, target, export)
    drill.clock.mark("secrets_restored")
    recovery.wait_healthy(drill, target.health_url, deadline_s=5.0)
    drill.clock.mark("healthy")
    recovery.require_restored_matches(drill, target, backup, restored)
    drill.clock.mark("verified")
    rto = drill.require(drill.rto())
    cluster_loss.require_rpo(drill, cluster_loss.measure_rpo(drill, target, backup), backup)

    assert rto.met
    assert dr.get("/api/v1/namespaces/sentinel/secrets/sentinel-redis")["data"] == {"password": "c2VjcmV0"}
    assert drill.record.details["rpo"]["pipeline_backup_id"] != backup.backup.id
    assert [m for m, _ in primary.requests if m != "GET"] == ["PATCH"]  # only the test's own Secret: nothing after
    assert drill.record.details["redis_restore"]["backup_id"] == backup.backup.id
    assert drill.record.details["config_restored"]["export_id"] == export.export_id
    assert drill.record.details["config_export"]["drift_from_live"] == []


def test_the_canary_stops_at_the_fault_so_no_write_lands_after_the_data_was_lost(redis_target, new_drill):
    drill = new_drill(redis_target)
    writer = preconditions.start_canary(drill, redis_target)
    time.sleep(0.1)

    cluster_loss.destroy_cluster(drill, redis_target)

    assert writer.acknowledged and writer.last is not None
    assert writer.last.at <= drill.clock.event("fault_injected").at
    assert redis_target.redis().dbsize() == 0  # lose_primary flushed the data; nothing was written after
