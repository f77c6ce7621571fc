"""The pipeline preflight, the monthly/daily backup checks, the recovery helpers, the preconditions and the
experiment runner's guard, on the FakeTarget with a real FileStore and a real redis-server."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from harness.backup import layout
from harness.backup.manifest import PIPELINE
from harness.backup.take import take_backup
from harness.drills import backup_checks, experiments, pipeline, pod_failure, preconditions, recovery
from harness.errors import ConfigError, PipelineBackupUnfit, RestoreRefused, SafetyRefused
from harness.evidence.record import Verdict
from harness.measure.canary import canary_key
from harness.safety import CONFIRM_ENV
from tests.fakes.cluster import FakeCluster
from tests.fakes.target import BRAIN, verdict_of


def _pipeline_backup(target) -> str:
    return take_backup(target.redis_url, target.store(), password=target.redis_password(), origin=PIPELINE).id


def _stale_pipeline_backup(target, *, hours: float) -> str:
    """A pipeline backup `hours` old, as a dead hourly job leaves it (only its manifest is ever read)."""
    fresh = _pipeline_backup(target)
    store = target.store()
    manifest = json.loads(store.get_bytes(layout.manifest_key(fresh)))
    old_id = layout.new_backup_id(datetime.now(UTC) - timedelta(hours=hours))
    manifest.update(id=old_id, point_in_time=(datetime.now(UTC) - timedelta(hours=hours)).isoformat())
    store.put_bytes(layout.rdb_key(old_id), store.get_bytes(layout.rdb_key(fresh)))
    store.put_bytes(layout.manifest_key(old_id), json.dumps(manifest).encode())
    for key in (layout.rdb_key(fresh), layout.manifest_key(fresh)):
        (store.root / key).unlink()
    return old_id


# --- pipeline preflight and backup checks ------------------------------------------------------------

def test_a_fresh_pipeline_backup_passes_the_preflight_and_restores_into_scratch(redis_target, new_drill, data):
    data.seed(redis_target.redis(), n=5)
    backup_id = _pipeline_backup(redis_target)
    drill = new_drill(redis_target)

    found = pipeline.require_pipeline_backup(drill, redis_target)
    scratch = backup_checks.restore_into_scratch(drill, redis_target, found.id)
    backup_checks.require_count_matches_manifest(scratch)
    backup_checks.require_near_production(drill, scratch)

    assert found.id == backup_id and found.verification.startswith("verified by the drill")
    assert scratch.keys_in_file == scratch.production_dbsize == 38


def test_the_daily_check_passes_a_fresh_pipeline_backup(redis_target, new_drill, data):
    data.seed(redis_target.redis(), n=5)
    _pipeline_backup(redis_target)
    drill = new_drill(redis_target)

    entry = backup_checks.newest_pipeline_backup(redis_target)
    backup_checks.require_no_older_than_rpo(drill, entry)
    report = backup_checks.verify_entry(drill, redis_target, entry)
    recovery.require_verified(report)
    backup_checks.require_min_keys(drill, report)


def test_a_stale_pipeline_backup_is_refused_before_any_fault_and_fails_the_daily_check(
        redis_target, primary, new_drill, data):
    data.seed(redis_target.redis(), n=5)
    stale = _stale_pipeline_backup(redis_target, hours=3)
    drill = new_drill(redis_target)

    verdict, reason = verdict_of(lambda: pipeline.require_pipeline_backup(drill, redis_target))
    daily, daily_reason = verdict_of(lambda: backup_checks.require_no_older_than_rpo(
        drill, backup_checks.newest_pipeline_backup(redis_target)))

    assert verdict is daily is Verdict.FAIL
    assert f"refused before any fault: the newest pipeline backup {stale}" in reason
    assert "older than the RPO target 3600s" in reason and stale in daily_reason
    assert "older than the RPO 3600s + schedule slack 300s" in daily_reason and "s old" in daily_reason
    assert primary.mutations() == [] and redis_target.calls == []  # nothing was touched


def test_the_drills_own_backup_never_stands_in_for_the_pipelines(redis_target, new_drill, data):
    data.seed(redis_target.redis(), n=5)
    drill = new_drill(redis_target)
    recovery.take_verified_backup(drill, redis_target)

    with pytest.raises(PipelineBackupUnfit, match="a drill's own backups do not count"):
        pipeline.require_pipeline_backup(drill, redis_target)


# --- recovery helpers --------------------------------------------------------------------------------

def test_an_unverified_backup_is_never_restored(redis_target, new_drill, data):
    data.seed(redis_target.redis(), n=5)
    backup_id = _pipeline_backup(redis_target)  # no verification record yet
    drill = new_drill(redis_target)

    with pytest.raises(RestoreRefused, match=f"backup {backup_id} has never been verified"):
        recovery.restore_redis(drill, redis_target, backup_id)
    with pytest.raises(RestoreRefused, match="no verified backup"):
        recovery.newest_verified_backup(redis_target)


def test_wait_healthy_returns_once_brain_is_available_and_misses_the_deadline_otherwise(target, primary, new_drill):
    drill = new_drill(target)
    assert recovery.wait_healthy(drill, target.health_url, deadline_s=2.0) < 2.0

    primary.lost = True
    verdict, reason = verdict_of(lambda: recovery.wait_healthy(drill, target.health_url, deadline_s=0.2))
    assert verdict is Verdict.FAIL and "503" in reason


# --- preconditions -----------------------------------------------------------------------------------

def test_an_unhealthy_start_is_invalid_not_failed(target, primary, new_drill):
    primary.replacements_ready = False
    pod = primary.pods("sentinel", f"app={BRAIN}")[0]["metadata"]["name"]
    primary.request("DELETE", f"/api/v1/namespaces/sentinel/pods/{pod}")  # its replacement never becomes Ready
    drill = new_drill(target)

    verdict, reason = verdict_of(lambda: preconditions.require_healthy(drill, target, settle_s=0.3))

    assert verdict is Verdict.INVALID
    assert "target not healthy before the fault" in reason and "503" in reason
    assert drill.record.details["healthy_before"]["health_status"] == 503


def test_a_healthy_start_passes_and_no_acknowledged_canary_is_lost(redis_target, new_drill):
    drill = new_drill(redis_target)
    preconditions.require_healthy(drill, redis_target, settle_s=1.0)
    writer = preconditions.start_canary(drill, redis_target)
    while len(writer.acknowledged) < 3:
        time.sleep(0.02)
    preconditions.require_no_acknowledged_write_lost(drill, redis_target)

    redis_target.redis().delete(canary_key(writer.acknowledged[1].seq))
    verdict, reason = verdict_of(lambda: preconditions.require_no_acknowledged_write_lost(drill, redis_target))
    assert verdict is Verdict.FAIL and "1 missing in between" in reason


# --- the experiment runner and the guard -------------------------------------------------------------

def test_a_fault_without_confirmation_is_refused_before_anything_is_touched(target, primary, new_drill, confirmed):
    confirmed.delenv(CONFIRM_ENV)

    with pytest.raises(SafetyRefused, match="without confirmation"):
        pod_failure.terminate_brain_pods(new_drill(target), target, share="half")
    assert primary.mutations() == []


def test_a_kubeconfig_that_reaches_another_cluster_is_refused(target, primary, new_drill):
    impostor = FakeCluster(name="primary")  # same name and server, but a different kube-system UID
    impostor.add_deployment(BRAIN, namespace="sentinel", replicas=4)
    target.current = impostor

    with pytest.raises(SafetyRefused, match="not the pinned"):
        pod_failure.terminate_brain_pods(new_drill(target), target, share="half")
    assert impostor.mutations() == [] and primary.mutations() == []


def test_a_hook_on_an_activity_the_experiment_lacks_is_a_config_error(target, new_drill):
    with pytest.raises(ConfigError, match="experiment pod-kill has no activity named no-such-activity"):
        experiments.run_for_drill(new_drill(target), target, "pod-kill", configuration={},
                                  on_end={"no-such-activity": lambda *_: None})
