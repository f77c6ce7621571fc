"""Each drill's real steps record raw observations from which `verify --recompute` derives the same figures.

The flows are the drill modules' own (FakeTarget, a real FileStore, a real
redis-server, a real health endpoint, the prober and canary threads); the
record each leaves becomes a bundle, and the bundle recomputes with no
difference. A breach recomputes to the same FAIL.
"""

from __future__ import annotations

import time
from pathlib import Path

from harness.backup.manifest import PIPELINE
from harness.backup.take import take_backup
from harness.drills import (
    backup_checks,
    cluster_loss,
    pipeline,
    pod_failure,
    preconditions,
    recovery,
    restore_point,
    rpo,
)
from harness.drills.pytest_plugin import classify
from harness.drills.scenario import DrillScenario
from harness.evidence.bundle import build_bundle
from harness.evidence.record import Verdict
from harness.evidence.verify import verify_bundle
from harness.measure import observations as obs


def _recomputed(drill: DrillScenario, tmp_path: Path, error: BaseException | None = None) -> str:
    """Finish the scenario as the plugin does, bundle its record, and verify --recompute it."""
    drill.record.verdict, drill.record.reason = classify(error)
    drill.finish()
    bundle = build_bundle([drill.record], out_root=tmp_path / "evidence", env={},
                          meta={"run_id": "run-1", "target": drill.settings.target, "git_sha": "0" * 40,
                                "operator": "sre", "host": "ci", "settings": drill.settings.redacted()})
    report = verify_bundle(bundle, env={}, recompute=True)
    assert report.ok, report.problems
    return report.recomputed


def test_scenario_1_recomputes_rto_phases_availability_and_canary(redis_target, new_drill, tmp_path):
    drill = new_drill(redis_target)
    preconditions.require_healthy(drill, redis_target, settle_s=1.0)
    preconditions.start_canary(drill, redis_target)
    drill.start_prober(redis_target.health_url)
    outcome = pod_failure.terminate_brain_pods(drill, redis_target, share="all")
    pod_failure.confirm_pods_replaced(drill, outcome)
    drill.require(drill.rto())
    time.sleep(4 * redis_target.settings.probe_interval_seconds)
    preconditions.check_availability(drill, preconditions.OUTAGE_REPORTED)
    preconditions.require_no_acknowledged_write_lost(drill, redis_target)

    summary = _recomputed(drill, tmp_path)

    assert summary.endswith("0 difference(s); derived verdicts: PASS")
    streams = drill.record.observations
    assert {obs.CLOCK, obs.PROBES, obs.CANARY, obs.FAULTS, obs.CHECKS, obs.TARGETS} <= set(streams)
    kinds = {line["kind"] for line in streams[obs.CANARY]}
    assert kinds == {"write", "newest_present", "read_back"}


def _scenario_3(drill: DrillScenario, target, point: restore_point.RestorePoint) -> None:
    """Scenario 3 from the fault on, restoring `point` (the pipeline's backup), as the steps run it."""
    loss = cluster_loss.destroy_cluster(drill, target)
    cluster_loss.confirm_cluster_lost(drill, target, loss)
    target.provision_cluster()
    drill.clock.mark("infra_ready")
    restored = recovery.restore_redis(drill, target, point.backup_id)
    drill.clock.mark("data_restored")
    recovery.wait_healthy(drill, target.health_url, deadline_s=5.0)
    drill.clock.mark("healthy")
    recovery.require_restored_matches(drill, target, point.manifest, restored)
    drill.clock.mark("verified")
    drill.require(drill.rto())
    cluster_loss.require_rpo(drill, target, cluster_loss.measure_rpo(drill, target, point), point)


def test_scenario_3_recomputes_the_rpo_at_the_canary_boundary_of_the_pipeline_backup_it_restored(
        make_target, redis_server, new_drill, data, tmp_path):
    target = make_target(redis_server)
    data.seed(target.redis(), n=5)
    take_backup(target.redis_url, target.store(), password=target.redis_password(), origin=PIPELINE)
    drill = new_drill(target)
    pipeline.require_pipeline_backup(drill, target)
    preconditions.start_canary(drill, target)
    time.sleep(0.6)  # canary writes the backup will hold ...
    point = restore_point.pipeline_restore_point(drill, target)
    time.sleep(0.6)  # ... and writes after it: the loss the RPO observes
    _scenario_3(drill, target, point)

    summary = _recomputed(drill, tmp_path)

    assert summary.endswith("0 difference(s); derived verdicts: PASS")
    restored = [line for line in drill.record.observations[obs.BACKUPS] if line["role"] == obs.RESTORED_BACKUP]
    assert [(r["id"], r["origin"], r["canary_high_water"]) for r in restored] == [
        (point.backup_id, "pipeline", point.manifest.canary_high_water)]
    assert drill.record.details["rpo"]["how"] == rpo.OBSERVED
    assert drill.record.details["canary_boundary"]["absent_after_boundary"] > 0


def _scenario_3_from_the_newest_backup_as_it_is(make_target, redis_server, new_drill, data) -> DrillScenario:
    """Scenario 3 restoring the pipeline's hourly backup, taken before the canary started (the RPO is computed)."""
    target = make_target(redis_server, request_pipeline_backup=False)
    data.seed(target.redis(), n=5)
    take_backup(target.redis_url, target.store(), password=target.redis_password(), origin=PIPELINE)
    drill = new_drill(target)
    preconditions.start_canary(drill, target)
    time.sleep(0.6)
    _scenario_3(drill, target, restore_point.pipeline_restore_point(drill, target))
    return drill


def test_scenario_3_from_a_backup_older_than_the_canary_recomputes_the_computed_rpo(
        make_target, redis_server, new_drill, data, tmp_path):
    drill = _scenario_3_from_the_newest_backup_as_it_is(make_target, redis_server, new_drill, data)

    summary = _recomputed(drill, tmp_path)

    assert summary.endswith("0 difference(s); derived verdicts: PASS")
    assert drill.record.details["rpo"]["how"] == rpo.COMPUTED


def test_a_stated_rpo_the_restored_backup_does_not_give_is_named_by_the_recomputation(
        make_target, redis_server, new_drill, data, tmp_path):
    """The stated RPO follows from the restored backup's point in time; moving it in the record is a difference."""
    drill = _scenario_3_from_the_newest_backup_as_it_is(make_target, redis_server, new_drill, data)
    drill.record.verdict, drill.record.reason = classify(None)
    drill.finish()
    stated = next(m for m in drill.record.measurements if m["name"] == "RPO")
    stated["measured_s"] = round(stated["measured_s"] - 0.5, 3)
    bundle = build_bundle([drill.record], out_root=tmp_path / "evidence", env={},
                          meta={"run_id": "run-1", "target": drill.settings.target, "git_sha": "0" * 40,
                                "operator": "sre", "host": "ci", "settings": drill.settings.redacted()})

    report = verify_bundle(bundle, env={}, recompute=True)

    assert any(p.startswith(f"recompute: {drill.record.name}: RPO (s): stated ") for p in report.problems)


def test_the_monthly_backup_verification_recomputes_the_age_and_the_scratch_restore(
        redis_target, new_drill, data, tmp_path):
    data.seed(redis_target.redis(), n=5)
    take_backup(redis_target.redis_url, redis_target.store(), password=redis_target.redis_password(),
                origin=PIPELINE)
    drill = new_drill(redis_target)
    found = pipeline.require_pipeline_backup(drill, redis_target)
    scratch = backup_checks.restore_into_scratch(drill, redis_target, found.id)
    backup_checks.require_count_matches_manifest(scratch)
    backup_checks.require_near_production(drill, scratch)

    assert _recomputed(drill, tmp_path).endswith("0 difference(s); derived verdicts: PASS")


def test_a_breached_rto_recomputes_to_the_same_fail(make_target, new_drill, tmp_path):
    target = make_target(rto_seconds=0.001)
    drill = new_drill(target)
    drill.start_prober(target.health_url)
    outcome = pod_failure.terminate_brain_pods(drill, target, share="half")
    pod_failure.confirm_pods_replaced(drill, outcome)
    try:
        drill.require(drill.rto())
    except Exception as exc:  # noqa: BLE001 - what the plugin would classify
        error: BaseException | None = exc
    else:
        error = None

    summary = _recomputed(drill, tmp_path, error)

    assert drill.record.verdict is Verdict.FAIL
    assert summary.endswith("0 difference(s); derived verdicts: FAIL")
