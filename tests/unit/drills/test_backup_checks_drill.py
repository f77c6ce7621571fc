"""The monthly and daily backup checks on the FakeTarget: a file store, a real source and scratch redis-server."""

from __future__ import annotations

from harness.backup.take import take_backup
from harness.drills import backup_checks, pipeline
from harness.evidence.record import Verdict
from tests.unit.drills.conftest import verdict_of


def test_the_pipelines_backup_is_fit_restores_into_scratch_and_matches_production(make_target, drill_for, source,
                                                                                  data):
    data.seed(source.client(), n=3)
    target = make_target(redis_url=source.url, redis_password=data.source_password, min_keys=10)
    take_backup(source.url, target.store(), password=data.source_password)  # the hourly job's run
    drill = drill_for(target)
    fit = pipeline.require_pipeline_backup(drill, target)
    restored = backup_checks.restore_into_scratch(drill, target, fit.id)
    backup_checks.require_count_matches_manifest(restored)
    backup_checks.require_near_production(drill, restored)
    assert restored.production_dbsize == source.client().dbsize()


def test_the_daily_check_fails_when_the_pipelines_newest_backup_is_older_than_the_rpo(make_target, drill_for, source,
                                                                                    data):
    data.seed(source.client(), n=1)
    target = make_target(redis_url=source.url, redis_password=data.source_password, rpo_seconds=0)
    take_backup(source.url, target.store(), password=data.source_password)
    drill = drill_for(target)
    entry = backup_checks.newest_pipeline_backup(target)
    verdict, reason = verdict_of(lambda: backup_checks.require_no_older_than_rpo(drill, entry))
    assert verdict is Verdict.FAIL and "older than the RPO" in reason
