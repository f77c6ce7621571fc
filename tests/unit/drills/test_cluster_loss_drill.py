"""Scenario 3's fault through the real cluster-loss experiment on the FakeTarget: the drill's own target is hit."""

from __future__ import annotations

from harness.drills import cluster_loss
from harness.evidence.record import Verdict
from tests.unit.drills.conftest import verdict_of


def test_the_loss_is_injected_on_the_drills_own_target_and_proven(target, drill_for):
    drill = drill_for(target)
    loss = cluster_loss.destroy_cluster(drill, target)
    cluster_loss.confirm_cluster_lost(drill, target, loss)
    assert target.calls[:2] == ["lose_primary", "finish_teardown"]  # the action, then the experiment's rollback
    assert drill.clock.has("fault_injected") and drill.clock.has("fault_confirmed")
    drill.finish()
    assert target.calls[-1] == "end_recovery"  # the recovery environment is released when the scenario ends


def test_a_loss_that_cannot_be_observed_is_invalid(target, drill_for):
    target.loss_observable = False
    drill = drill_for(target)
    loss = cluster_loss.destroy_cluster(drill, target)
    verdict, reason = verdict_of(lambda: cluster_loss.confirm_cluster_lost(drill, target, loss))
    assert verdict is Verdict.INVALID and "still there" in reason
