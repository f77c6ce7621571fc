"""Scenario 2 through the real zone-drain experiment (our drain/uncordon, guarded scale) against the FakeTarget."""

from __future__ import annotations

import pytest

from harness.drills import zone_failure
from harness.drills.experiments import DRAIN_ZONE, activity_output
from harness.errors import ConfigError
from harness.evidence.record import Verdict
from harness.ledger import UndoLedger
from tests.fakes.cluster import ZONE_LABEL
from tests.fakes.target import BRAIN, verdict_of

ZONE_A = ("primary-zone-a-0", "primary-zone-a-1")


def test_the_zone_is_cordoned_and_emptied_brain_scales_elsewhere_and_the_rollback_uncordons(
        target, primary, new_drill):
    drill = new_drill(target)
    in_zone_a = sorted(f"sentinel/{p['metadata']['name']}" for p in primary.pods("sentinel", f"app={BRAIN}")
                       if primary.zone_of(p["spec"]["nodeName"]) == "zone-a")
    assert in_zone_a

    outcome = zone_failure.fail_zone_and_scale(drill, target, zone="zone-a", scale_to=10)
    zone_failure.confirm_zone_lost(drill, outcome, "zone-a")
    zone_failure.require_replicas_ready(drill, outcome, 10)
    zone_failure.require_none_in_zone(outcome, "zone-a")
    zone_failure.require_rolled_back(outcome, "zone-a")

    assert outcome.seen.nodes == outcome.seen.cordoned_after_drain == ZONE_A
    assert outcome.seen.brain_in_zone_after_drain == outcome.seen.brain_in_zone_when_ready == 0
    assert outcome.seen.ready_replicas == 10
    assert sorted(activity_output(outcome.run, DRAIN_ZONE)["evicted"]) == in_zone_a
    assert not [p for m, p in primary.mutations() if m == "DELETE" and "/pods/" in p]  # evicted, never deleted
    assert primary.cordoned() == [] and outcome.cordoned_after_rollback == ()
    assert len(primary.pods("sentinel", f"app={BRAIN}")) == 4  # scaled back by the rollback
    assert drill.record.details["zone_drain"]["probe_brain_pods_in_failed_zone"] == 0


def test_nodes_of_other_zones_are_never_cordoned(target, primary, new_drill):
    drill = new_drill(target)
    seen: list[str] = []
    original = primary.send

    def watching(method: str, path: str, **kw):  # record every node the drill PATCHes while it runs
        if method == "PATCH" and path.startswith("/api/v1/nodes/"):
            seen.append(path.rsplit("/", 1)[1])
        return original(method, path, **kw)

    primary.send = watching  # type: ignore[method-assign]
    zone_failure.fail_zone_and_scale(drill, target, zone="zone-a", scale_to=6)

    assert sorted(set(seen)) == list(ZONE_A)
    assert {primary.objects[("nodes", "", n)]["metadata"]["labels"][ZONE_LABEL] for n in seen} == {"zone-a"}


@pytest.mark.parametrize("check", [
    lambda drill, outcome: zone_failure.confirm_zone_lost(drill, outcome, "zone-b"),
    lambda drill, outcome: zone_failure.require_none_in_zone(outcome, "zone-b"),
    lambda drill, outcome: zone_failure.require_rolled_back(outcome, "zone-b"),
])
def test_a_step_naming_another_zone_than_the_drained_one_is_refused(target, new_drill, check):
    drill = new_drill(target)
    outcome = zone_failure.fail_zone_and_scale(drill, target, zone="zone-a", scale_to=6)

    with pytest.raises(ConfigError, match="checks zone 'zone-b' but the drill drained 'zone-a'"):
        check(drill, outcome)
    assert verdict_of(lambda: check(drill, outcome))[0] is Verdict.ERROR


def test_a_zone_without_nodes_fails_the_drain_and_the_fault_is_not_confirmed(target, primary, new_drill):
    drill = new_drill(target)

    verdict, reason = verdict_of(lambda: zone_failure.fail_zone_and_scale(drill, target, zone="zone-x", scale_to=6))

    assert verdict is Verdict.ERROR  # the drill cannot even observe the zone: nodes_in_zone finds none
    assert "no nodes labelled topology.kubernetes.io/zone=zone-x" in reason
    assert primary.mutations() == []


def test_a_node_cordoned_before_the_drill_stays_cordoned_and_the_ledger_is_settled(target, primary, new_drill):
    primary.request("PATCH", f"/api/v1/nodes/{ZONE_A[0]}", body={"spec": {"unschedulable": True}},
                    content_type="application/merge-patch+json")
    drill = new_drill(target)
    outcome = zone_failure.fail_zone_and_scale(drill, target, zone="zone-a", scale_to=10)
    zone_failure.confirm_zone_lost(drill, outcome, "zone-a")
    zone_failure.require_rolled_back(outcome, "zone-a")
    assert primary.cordoned() == [ZONE_A[0]]
    assert activity_output(outcome.run, DRAIN_ZONE)["cordoned"] == [ZONE_A[1]]
    assert UndoLedger.in_dir(target.settings.state_dir).pending() == []

