"""Scenario 2 through the real zone-drain experiment on the FakeTarget."""

from __future__ import annotations

import pytest

from harness.drills import zone_failure
from harness.errors import ConfigError
from harness.ledger import UndoLedger
from tests.fakes.target import BRAIN, NAMESPACE


def test_the_zone_is_drained_brain_scales_elsewhere_and_the_rollback_gives_the_zone_back(target, drill_for):
    drill = drill_for(target)
    outcome = zone_failure.drain_zone_and_scale(drill, target, zone="zone-a", scale_to=10)
    zone_failure.confirm_zone_lost(drill, outcome, "zone-a")
    zone_failure.require_replicas_ready(drill, outcome, 10)
    zone_failure.require_none_in_zone(outcome, "zone-a")
    zone_failure.require_rolled_back(outcome, "zone-a")
    assert target.fake.cordoned("zone-a") == []
    assert target.fake.deployments[(NAMESPACE, BRAIN)]["spec"]["replicas"] == 4  # scaled back
    assert UndoLedger.in_dir(target.settings.state_dir).pending() == []


def test_a_node_cordoned_before_the_drill_stays_cordoned(target, drill_for):
    target.fake.nodes["zone-a-node-1"]["spec"]["unschedulable"] = True
    drill = drill_for(target)
    outcome = zone_failure.drain_zone_and_scale(drill, target, zone="zone-a", scale_to=10)
    zone_failure.confirm_zone_lost(drill, outcome, "zone-a")
    zone_failure.require_rolled_back(outcome, "zone-a")
    assert target.fake.cordoned("zone-a") == ["zone-a-node-1"]


def test_a_step_naming_another_zone_is_refused(target, drill_for):
    drill = drill_for(target)
    outcome = zone_failure.drain_zone_and_scale(drill, target, zone="zone-a", scale_to=10)
    with pytest.raises(ConfigError, match="checks zone 'zone-b' but the drill drained 'zone-a'"):
        zone_failure.require_none_in_zone(outcome, "zone-b")
