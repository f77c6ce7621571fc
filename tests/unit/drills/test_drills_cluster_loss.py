"""Scenario 3 through the real cluster-loss experiment against the FakeTarget (its primary is lost, the
target moves to the DR cluster), and the whole restore on a real FileStore and a real redis-server."""

from __future__ import annotations

import time

import pytest

from harness.backup.manifest import PIPELINE
from harness.backup.take import take_backup
from harness.drills import cluster_loss, configuration, pipeline, preconditions, recovery, restore_point, rpo
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


def test_the_whole_restore_passes_from_the_pipelines_backup_with_the_rpo_observed_at_its_canary_boundary(
        make_target, redis_server, primary, dr, new_drill, data):
    target = make_target(redis_server, config_secrets=("sentinel-redis",), config_maps=())
    data.seed(target.redis(), n=5)
    primary.request("PATCH", "/api/v1/namespaces/sentinel/secrets/sentinel-redis", content_type=APPLY_PATCH,
                    body={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sentinel-redis"},
                          "data": {"password": "c2VjcmV0"}})
    hourly = take_backup(target.redis_url, target.store(), password=target.redis_password(), origin=PIPELINE)
    assert configuration.take_config_backup(target).written  # the configuration pipeline's export
    drill = new_drill(target)

    pipeline.require_pipeline_backup(drill, target)
    preconditions.require_healthy(drill, target, settle_s=1.0)
    writer = preconditions.start_canary(drill, target)
    time.sleep(1.0)  # canary writes the backup will hold ...
    point = restore_point.pipeline_restore_point(drill, target)
    own = recovery.take_verified_backup(drill, target)  # a drill's own backup, newer still: never restored
    time.sleep(1.0)  # ... and writes after it
    export = configuration.require_pipeline_export(drill, target)
    loss = cluster_loss.destroy_cluster(drill, target)
    cluster_loss.confirm_cluster_lost(drill, target, loss)
    target.provision_cluster()
    drill.clock.mark("infra_ready")
    restored = recovery.restore_redis(drill, target, point.backup_id)
    drill.clock.mark("data_restored")
    configuration.restore_configuration(drill, target, export)
    drill.clock.mark("secrets_restored")
    recovery.wait_healthy(drill, target.health_url, deadline_s=5.0)
    drill.clock.mark("healthy")
    recovery.require_restored_matches(drill, target, point.manifest, restored)
    restore_point.require_keyspace_restored(drill, target, point)
    drill.clock.mark("verified")
    rto = drill.require(drill.rto())
    observed = cluster_loss.measure_rpo(drill, target, point)
    rpo_m = cluster_loss.require_rpo(drill, target, observed, point)

    assert rto.met and rpo_m.met
    assert "run_pipeline_backup" in target.calls and point.backup_id not in (hourly.id, own.backup.id)
    details = drill.record.details
    assert details["redis_restore"]["backup_id"] == point.backup_id  # the pipeline's, asked for before the fault
    assert details["restore_point"]["origin"] == "pipeline" and details["restore_point"]["requested"] is True
    boundary = details["canary_boundary"]
    assert (boundary["backup_id"], boundary["origin"]) == (point.backup_id, "pipeline")
    assert boundary["backup_canary_high_water"] == point.manifest.canary_high_water
    assert boundary["present_before_boundary"] >= 2 and boundary["absent_after_boundary"] >= 2
    assert boundary["missing_before_boundary"] == [] and boundary["present_after_boundary"] == []
    assert boundary["last_acknowledged"]["seq"] == writer.acknowledged[-1].seq
    assert details["rpo"]["how"] == rpo.OBSERVED and details["rpo"]["backup_id"] == point.backup_id
    assert rpo_m.measured_s == pytest.approx(boundary["loss_window_s"], abs=0.001)
    assert 1.0 <= rpo_m.measured_s < 10
    assert dr.get("/api/v1/namespaces/sentinel/secrets/sentinel-redis")["data"] == {"password": "c2VjcmV0"}
    assert [m for m, _ in primary.requests if m != "GET"] == ["PATCH"]  # only the test's own Secret: nothing after
    assert drill.record.details["config_restored"]["export_id"] == export.export_id
    assert drill.record.details["config_export"]["drift_from_live"] == []


def test_a_pipeline_backup_missing_a_key_prefix_fails_the_restore_naming_the_backup_and_what_it_lacks(
        make_target, redis_server, redis_factory, new_drill, data):
    target = make_target(redis_server)
    data.seed(target.redis(), n=20)
    elsewhere = redis_factory(password=redis_server.password)  # what a misconfigured backup CronJob backs up
    data.seed(elsewhere.client(), n=20)
    elsewhere.client().delete(*[f"session:{i}" for i in range(20)])
    target.pipeline_source = (elsewhere.url, elsewhere.password)
    drill = new_drill(target)
    preconditions.start_canary(drill, target)

    point = restore_point.pipeline_restore_point(drill, target)  # it verifies: its manifest agrees with its file
    loss = cluster_loss.destroy_cluster(drill, target)
    cluster_loss.confirm_cluster_lost(drill, target, loss)
    target.provision_cluster()
    restored = recovery.restore_redis(drill, target, point.backup_id)
    recovery.require_restored_matches(drill, target, point.manifest, restored)
    verdict, reason = verdict_of(lambda: restore_point.require_keyspace_restored(drill, target, point))

    assert verdict is Verdict.FAIL
    assert f"restored backup {point.backup_id} (pipeline," in reason
    assert "lacks what production held when it was taken: session: 0 of 20 key(s)" in reason
    assert drill.record.details["restored_keyspace"]["short"] == ["session: 0 of 20 key(s)"]


def test_the_pipelines_newest_backup_as_it_is_when_the_drill_may_not_ask_for_one(
        make_target, redis_server, new_drill, data):
    target = make_target(redis_server, request_pipeline_backup=False)
    data.seed(target.redis(), n=5)
    hourly = take_backup(target.redis_url, target.store(), password=target.redis_password(), origin=PIPELINE)
    drill = new_drill(target)
    preconditions.start_canary(drill, target)
    time.sleep(0.6)

    point = restore_point.pipeline_restore_point(drill, target)
    cluster_loss.destroy_cluster(drill, target)
    target.provision_cluster()
    recovery.restore_redis(drill, target, point.backup_id)
    observed = cluster_loss.measure_rpo(drill, target, point)
    cluster_loss.require_rpo(drill, target, observed, point)

    assert point.backup_id == hourly.id and "run_pipeline_backup" not in target.calls
    details = drill.record.details
    assert details["restore_point"]["requested"] is False
    assert details["canary_boundary"]["predates_canary"] is True and details["canary_boundary"]["loss_window_s"] is None
    assert details["rpo"]["how"] == rpo.COMPUTED
    fault_at = drill.clock.event("fault_injected").at
    assert observed.rpo_s == pytest.approx((fault_at - hourly.manifest.point_in_time).total_seconds())
    measured = next(m for m in drill.record.measurements if m["name"] == "RPO")
    assert measured["note"] == rpo.COMPUTED


def test_the_canary_stops_at_the_fault_so_no_write_lands_after_the_data_was_lost(redis_target, new_drill):
    drill = new_drill(redis_target)
    writer = preconditions.start_canary(drill, redis_target)
    time.sleep(0.1)

    cluster_loss.destroy_cluster(drill, redis_target)

    assert writer.acknowledged and writer.last is not None
    assert writer.last.at <= drill.clock.event("fault_injected").at
    assert redis_target.redis().dbsize() == 0  # lose_primary flushed the data; nothing was written after
