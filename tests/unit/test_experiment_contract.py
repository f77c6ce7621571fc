"""The drills and experiments/*.json agree on activity names, and the experiment's own verdict counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.chaos.runner import ExperimentRun, _ActivityHooks
from harness.drills.experiments import (
    ACTIVITIES,
    EXPERIMENTS_DIR,
    RollbackFailed,
    _check_hooks,
    activity_names,
    experiment_path,
    require_experiment_outcome,
)
from harness.drills.pytest_plugin import classify
from harness.errors import ConfigError, FaultNotConfirmed, TargetMissed
from harness.evidence.record import Verdict


@pytest.mark.parametrize("name", sorted(ACTIVITIES))
def test_every_hooked_activity_exists_in_its_experiment(name: str) -> None:
    fault, hooked = ACTIVITIES[name]
    names = activity_names(experiment_path(name))
    assert fault in hooked
    assert set(hooked) <= names, f"experiments/{name}.json lacks {set(hooked) - names}"


def test_every_experiment_file_is_known_to_the_drills() -> None:
    assert {p.stem for p in EXPERIMENTS_DIR.glob("*.json")} == set(ACTIVITIES)


def test_a_hook_on_a_missing_activity_is_refused() -> None:
    with pytest.raises(ConfigError, match="no activity named renamed-probe"):
        _check_hooks("pod-kill", {"renamed-probe": lambda *_: None})


def _run(*, status: str = "completed", deviated: bool = False, run: list[dict[str, Any]] | None = None,
         rollbacks: list[dict[str, Any]] | None = None, after: list[dict[str, Any]] | None = None) -> ExperimentRun:
    journal = {"status": status, "deviated": deviated, "run": run or [], "rollbacks": rollbacks or [],
               "steady_states": {"after": {"probes": after or []}}}
    return ExperimentRun("t", status, deviated, Path("j.json"), journal)


def _entry(name: str, status: str = "succeeded") -> dict[str, Any]:
    return {"activity": {"name": name}, "status": status}


def _verdict(run: ExperimentRun) -> Verdict:
    try:
        require_experiment_outcome("pod-kill", run)
    except Exception as exc:  # noqa: BLE001 - the verdict is what is tested
        return classify(exc)[0]
    return classify(None)[0]


def test_a_clean_run_passes() -> None:
    assert _verdict(_run(run=[_entry("terminate-brain-pods"), _entry("brain-recovered")])) is Verdict.PASS


def test_a_failed_fault_action_invalidates() -> None:
    run = _run(run=[_entry("terminate-brain-pods", "failed")])
    with pytest.raises(FaultNotConfirmed, match="terminate-brain-pods ended failed"):
        require_experiment_outcome("pod-kill", run)
    assert _verdict(run) is Verdict.INVALID


def test_a_fault_that_never_ran_invalidates() -> None:
    assert _verdict(_run(status="failed")) is Verdict.INVALID


def test_a_failed_probe_after_the_fault_fails() -> None:
    run = _run(run=[_entry("terminate-brain-pods"), _entry("brain-recovered", "failed")])
    with pytest.raises(TargetMissed, match="brain-recovered failed"):
        require_experiment_outcome("pod-kill", run)


def test_a_deviated_hypothesis_fails_naming_the_probe() -> None:
    run = _run(deviated=True, run=[_entry("terminate-brain-pods")],
               after=[{"activity": {"name": "health-endpoint-answers-200"}, "tolerance_met": False}])
    with pytest.raises(TargetMissed, match="health-endpoint-answers-200"):
        require_experiment_outcome("pod-kill", run)


def test_a_failed_rollback_is_an_error() -> None:
    run = _run(run=[_entry("terminate-brain-pods")], rollbacks=[_entry("scale-brain-back", "failed")])
    with pytest.raises(RollbackFailed):
        require_experiment_outcome("pod-kill", run)
    assert _verdict(run) is Verdict.ERROR


def test_end_hooks_fire_only_for_activities_that_succeeded() -> None:
    marked: list[str] = []
    hooks = _ActivityHooks({}, {"brain-recovered": lambda name, _: marked.append(name)})
    hooks.activity_completed({"name": "brain-recovered"}, {"status": "failed"})
    assert marked == []
    hooks.activity_completed({"name": "brain-recovered"}, {"status": "succeeded"})
    assert marked == ["brain-recovered"]
