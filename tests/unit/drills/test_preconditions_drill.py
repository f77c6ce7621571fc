"""What every scenario checks first, on the FakeTarget: a healthy start, the backup pipeline."""

from __future__ import annotations

from harness.drills import pipeline, preconditions
from harness.evidence.record import Verdict
from tests.fakes.target import BRAIN, NAMESPACE
from tests.unit.drills.conftest import verdict_of


def test_a_target_that_is_not_healthy_before_the_fault_is_invalid(target, drill_for):
    target.fake.deployments[(NAMESPACE, BRAIN)]["spec"]["replicas"] = 99  # more than the nodes can ever serve...
    target.fake.nodes.clear()  # ...because no node is left
    drill = drill_for(target)
    verdict, reason = verdict_of(lambda: preconditions.require_healthy(drill, target, settle_s=0.3))
    assert verdict is Verdict.INVALID and "not healthy before the fault" in reason


def test_a_healthy_target_passes(target, drill_for):
    drill = drill_for(target)
    preconditions.require_healthy(drill, target, settle_s=1)
    assert drill.record.details["healthy_before"]["health_status"] == 200


def test_an_empty_store_fails_the_pipeline_preflight_before_any_fault(target, drill_for):
    drill = drill_for(target)
    verdict, reason = verdict_of(lambda: pipeline.require_pipeline_backup(drill, target))
    assert verdict is Verdict.FAIL and "PipelineBackupUnfit" in reason
    assert not [r for r in target.fake.requests if r[0] in ("DELETE", "POST", "PATCH")]
