"""Scenario 1 through the real pod-kill experiment on the FakeTarget."""

from __future__ import annotations

from harness.drills import pod_failure
from harness.evidence.record import Verdict
from tests.fakes.target import BRAIN, NAMESPACE
from tests.unit.drills.conftest import verdict_of


def test_half_of_brain_is_replaced_by_new_uids_and_the_rto_is_measured(target, drill_for):
    drill = drill_for(target)
    before = {p["metadata"]["uid"] for p in target.fake.pods.values()}
    outcome = pod_failure.terminate_brain_pods(drill, target, share="half")
    pod_failure.confirm_pods_replaced(drill, outcome)
    assert len(outcome.terminated) == 2 and outcome.old_uids <= before
    assert all(p.uid not in before for p in outcome.replacements)
    assert drill.rto().met and [e.name for e in drill.clock.events][:2] == ["fault_injected", "fault_confirmed"]
    assert ("DELETE", f"/api/v1/namespaces/{NAMESPACE}/pods/{outcome.terminated[0]}") in target.fake.requests


def test_all_of_brain(target, drill_for):
    drill = drill_for(target)
    outcome = pod_failure.terminate_brain_pods(drill, target, share="all")
    pod_failure.confirm_pods_replaced(drill, outcome)
    assert len(outcome.terminated) == 4 and target.fake.serving(NAMESPACE, BRAIN)


def test_a_selector_that_matches_nothing_is_invalid_and_deletes_nothing(make_target, drill_for):
    target = make_target(brain_labels={"app": "something-else"})
    drill = drill_for(target)
    verdict, reason = verdict_of(lambda: pod_failure.terminate_brain_pods(drill, target, share="half"))
    assert verdict is Verdict.INVALID and "terminate-brain-pods" in reason
    assert not [r for r in target.fake.requests if r[0] == "DELETE"]


def test_without_confirmation_the_guard_refuses_before_any_request(target, drill_for, monkeypatch):
    monkeypatch.delenv("DRILL_CONFIRM_DESTRUCTIVE")
    drill = drill_for(target)
    verdict, reason = verdict_of(lambda: pod_failure.terminate_brain_pods(drill, target, share="half"))
    assert verdict is Verdict.ERROR and "without confirmation" in reason
    assert not [r for r in target.fake.requests if r[0] in ("DELETE", "POST", "PATCH")]
