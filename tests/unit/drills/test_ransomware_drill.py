"""Scenario 4's isolation through the real compromise experiment: held until the scenario ends, then lifted."""

from __future__ import annotations

from harness.drills import ransomware
from harness.evidence.record import Verdict
from harness.ledger import UndoLedger
from tests.fakes.target import NAMESPACE
from tests.unit.drills.conftest import verdict_of


def test_the_isolation_is_proven_kept_past_the_experiment_and_lifted_by_the_drill(target, drill_for):
    drill = drill_for(target)
    proof = ransomware.isolate_namespace(drill, target)
    ransomware.confirm_isolated(drill, proof)
    assert (NAMESPACE, ransomware.POLICY) in target.fake.policies, "still isolated after the experiment"
    assert proof["rolled_back"] == ["succeeded"] and "spec only" in proof["enforcement"]
    assert [e.kind for e in UndoLedger.in_dir(target.settings.state_dir).pending()] == ["delete_network_policy"]
    drill.finish()
    assert (NAMESPACE, ransomware.POLICY) not in target.fake.policies
    assert drill.record.details["isolation_lifted"]["was_present"] is True
    assert UndoLedger.in_dir(target.settings.state_dir).pending() == []


def test_where_the_cluster_enforces_policy_a_probe_pod_proves_the_isolation(make_target, drill_for):
    target = make_target(isolation_probe_image="busybox:1.36")
    drill = drill_for(target)
    proof = ransomware.isolate_namespace(drill, target)
    ransomware.confirm_isolated(drill, proof)
    assert proof["connection_attempt"]["connected"] is False and proof["enforcement"].startswith("proven")
    assert not [k for k in target.fake.pods if k[1].startswith("drill-isolation-probe")], "the probe pod is removed"
    drill.finish()


def test_a_probe_pod_that_still_connects_makes_the_isolation_unproven(make_target, drill_for):
    target = make_target(isolation_probe_image="busybox:1.36")
    target.fake.enforces_policies = False
    drill = drill_for(target)
    proof = ransomware.isolate_namespace(drill, target)
    verdict, reason = verdict_of(lambda: ransomware.confirm_isolated(drill, proof))
    assert verdict is Verdict.INVALID and "does not enforce it" in reason
    drill.finish()
    assert (NAMESPACE, ransomware.POLICY) not in target.fake.policies
