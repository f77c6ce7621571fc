"""Scenario 1 through the real pod-kill experiment and activities, against the FakeTarget."""

from __future__ import annotations

import time

import pytest

from harness import polling
from harness.chaos import probes
from harness.drills import pod_failure, preconditions
from harness.evidence.record import Verdict
from tests.fakes.target import BRAIN, verdict_of

SELECTOR = f"app={BRAIN}"


class CoarseClock:
    """A fake clock for the recovery probes: each sleep moves time on by at least one second, instantly."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 1.0)


def _uids(cluster) -> set[str]:
    return {p["metadata"]["uid"] for p in cluster.pods("sentinel", SELECTOR)}


@pytest.mark.parametrize(("share", "killed"), [("half", 2), ("all", 4)])
def test_killed_pods_are_replaced_by_new_uids_the_fault_is_confirmed_and_the_rto_measured(
        target, primary, new_drill, share, killed):
    drill = new_drill(target)
    before = _uids(primary)
    drill.start_prober(target.health_url)

    outcome = pod_failure.terminate_brain_pods(drill, target, share=share)
    pod_failure.confirm_pods_replaced(drill, outcome)
    rto = drill.require(drill.rto())
    time.sleep(4 * target.settings.probe_interval_seconds)  # the fake recovers faster than one probe interval
    preconditions.check_availability(drill, preconditions.AT_LEAST_FLOOR)

    assert len(outcome.terminated) == killed == outcome.requested
    assert outcome.old_uids <= before and not outcome.old_uids & _uids(primary)
    assert len(_uids(primary) - before) == killed == len(outcome.replacements)
    assert len(_uids(primary)) == 4  # the rollback scaled Brain back to what it was
    assert [m for m, p in primary.mutations() if "/pods/" in p] == ["DELETE"] * killed
    assert drill.record.details["fault_proof"]["observed"] is True
    assert 0 <= rto.measured_s < target.settings.rto_seconds and rto.met
    assert [e.name for e in drill.clock.events] == ["fault_injected", "fault_confirmed", "brain_ready", "verified"]


def test_a_recovery_probe_that_never_sees_brain_available_fails_the_scenario(
        target, primary, new_drill, monkeypatch):
    primary.replacements_ready = False  # the replacements schedule but never become Ready
    coarse = CoarseClock()  # every wait goes through harness.polling: its clock is the one to fake
    monkeypatch.setattr(polling.SystemClock, "monotonic", lambda _self: coarse.monotonic())
    monkeypatch.setattr(polling.SystemClock, "sleep", lambda _self, seconds: coarse.sleep(seconds))
    monkeypatch.setattr(probes, "time", coarse)
    drill = new_drill(target)

    verdict, reason = verdict_of(lambda: pod_failure.terminate_brain_pods(drill, target, share="half"))

    assert verdict is Verdict.FAIL
    assert "brain-recovered" in reason
    assert not drill.clock.has("verified")
    assert drill.record.details["experiment:pod-kill"]["failed_activities"] == ["brain-recovered", "health-recovered"]


def test_a_kill_that_hit_nothing_is_not_a_confirmed_fault(target, new_drill):
    drill = new_drill(target)
    outcome = pod_failure.terminate_brain_pods(drill, target, share="half")
    nothing = pod_failure.PodKillOutcome(outcome.run, outcome.replicas, outcome.requested, (), frozenset(), (), "")

    verdict, reason = verdict_of(lambda: pod_failure.confirm_pods_replaced(new_drill(target), nothing))

    assert verdict is Verdict.INVALID
    assert "terminated 0 of 2 requested" in reason
