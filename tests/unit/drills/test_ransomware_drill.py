"""Scenario 4's isolation through the real compromise experiment: held until the scenario ends, then lifted."""

from __future__ import annotations

from harness.drills import ransomware
from harness.ledger import UndoLedger
from tests.fakes.target import NAMESPACE


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
