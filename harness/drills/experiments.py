"""Where the experiments live, the activity names the drills hook into, and how a drill runs one.

The names below are the contract between the drills and `experiments/*.json`:
`tests/unit/test_experiment_contract.py` checks each against its file, and
`run_for_drill` refuses a hook on an activity the experiment does not have, so
a renamed activity fails loudly instead of silently never marking the clock.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from harness.chaos.binding import TARGET_KEY
from harness.chaos.runner import ActivityHook, ExperimentRun, run_experiment
from harness.drills.scenario import DrillScenario
from harness.errors import ConfigError, DrillError, FaultNotConfirmed, TargetMissed
from harness.safety import require_destructive
from harness.target.base import Target

EXPERIMENTS_DIR = Path(__file__).resolve().parents[2] / "experiments"

BRAIN = "sentinel-brain"
BRAIN_SELECTOR = "app=sentinel-brain"

# activity names, per experiment file
TERMINATE_BRAIN_PODS: Final = "terminate-brain-pods"
BRAIN_RECOVERED: Final = "brain-recovered"
HEALTH_RECOVERED: Final = "health-recovered"
DRAIN_ZONE: Final = "drain-zone"
BRAIN_PODS_IN_FAILED_ZONE: Final = "brain-pods-in-failed-zone"
STOP_ZONE: Final = "stop-zone"
ZONE_NOT_READY: Final = "zone-nodes-not-ready"
BRAIN_EVICTED_FROM_ZONE: Final = "brain-evicted-from-zone"
LOSE_CLUSTER: Final = "lose-cluster"
ISOLATE_NAMESPACE: Final = "isolate-namespace"

#: experiment → (the fault action, every activity a drill hooks into or reads)
ACTIVITIES: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "pod-kill": (TERMINATE_BRAIN_PODS, (TERMINATE_BRAIN_PODS, BRAIN_RECOVERED, HEALTH_RECOVERED)),
    "zone-drain": (DRAIN_ZONE, (DRAIN_ZONE, BRAIN_RECOVERED, HEALTH_RECOVERED, BRAIN_PODS_IN_FAILED_ZONE)),
    "zone-outage": (STOP_ZONE, (STOP_ZONE, ZONE_NOT_READY, BRAIN_EVICTED_FROM_ZONE, BRAIN_RECOVERED,
                                HEALTH_RECOVERED, BRAIN_PODS_IN_FAILED_ZONE)),
    "cluster-loss": (LOSE_CLUSTER, (LOSE_CLUSTER,)),
    "compromise": (ISOLATE_NAMESPACE, (ISOLATE_NAMESPACE,)),
}


class RollbackFailed(DrillError):
    """An experiment's rollback did not succeed: the target may be left broken (ERROR, run `recover`)."""


def experiment_path(name: str) -> Path:
    return EXPERIMENTS_DIR / f"{name}.json"


def activity_names(path: Path) -> set[str]:
    """Every activity name in an experiment file: hypothesis probes, method and rollbacks."""
    experiment = json.loads(path.read_text())
    entries = [*experiment.get("steady-state-hypothesis", {}).get("probes", []),
               *experiment.get("method", []), *experiment.get("rollbacks", [])]
    return {str(e.get("name")) for e in entries}


def _check_hooks(name: str, hooks: Mapping[str, ActivityHook]) -> None:
    unknown = sorted(set(hooks) - activity_names(experiment_path(name)))
    if unknown:
        raise ConfigError(f"experiment {name} has no activity named {', '.join(unknown)}",
                          fix=f"rename the hook or the activity in experiments/{name}.json")


def run_for_drill(
    drill: DrillScenario,
    target: Target,
    name: str,
    *,
    configuration: Mapping[str, Any],
    on_start: Mapping[str, ActivityHook] | None = None,
    on_end: Mapping[str, ActivityHook] | None = None,
    hypothesis_after_method: bool = True,
) -> ExperimentRun:
    """Run experiment `name` against the drill's own `target` (if safety allows); keep its journal.

    The experiment's own verdict counts: see `require_experiment_outcome`.
    """
    require_destructive(target, f"inject the {name} fault")
    _check_hooks(name, {**(on_start or {}), **(on_end or {})})
    run = run_experiment(
        experiment_path(name),
        configuration={"namespace": target.namespace, "health_url": target.health_url, **configuration,
                       TARGET_KEY: target},
        journal_dir=drill.journal_dir,
        on_start=on_start,
        on_end=on_end,
        hypothesis_after_method=hypothesis_after_method,
    )
    drill.journals.append(run.journal_path)
    drill.note(f"experiment:{name}", {"status": run.status, "deviated": run.deviated,
                                      "failed_activities": run.failed_activities(),
                                      "rollbacks": run.rollback_statuses(), "journal": str(run.journal_path)})
    if run.status == "interrupted":
        # chaoslib swallowed the interrupt after running the rollbacks; the drill must stop too
        raise KeyboardInterrupt(f"experiment {name} interrupted")
    require_experiment_outcome(name, run)
    return run


def require_experiment_outcome(name: str, run: ExperimentRun) -> None:
    """chaoslib says `completed` after a failed activity or a deviated hypothesis; the drill does not.

    The fault action failed or never ran → INVALID (nothing was proven); a
    rollback failed → ERROR (the target may be left broken); any other failed
    activity or a deviated hypothesis → FAIL.
    """
    fault = ACTIVITIES[name][0] if name in ACTIVITIES else None
    ran = {str(r.get("activity", {}).get("name")): str(r.get("status")) for r in run.journal.get("run", [])}
    if fault is not None and ran.get(fault) != "succeeded":
        raise FaultNotConfirmed(
            f"{run.describe()}: the fault action {fault} "
            + (f"ended {ran[fault]}" if fault in ran else f"never ran (status {run.status})"),
            fix="see the journal: the fault was not injected, so nothing was proven")
    failed_rollbacks = [str(r.get("activity", {}).get("name")) for r in run.journal.get("rollbacks", [])
                        if r.get("status") != "succeeded"]
    if failed_rollbacks:
        raise RollbackFailed(f"{run.describe()}: rollback {', '.join(failed_rollbacks)} failed",
                             fix="run `sentinel-drill recover` and check the target by hand")
    failed = run.failed_activities()
    if failed:
        raise TargetMissed(f"{run.describe()}: activity {', '.join(failed)} failed",
                           fix="see the journal entry of that activity")
    if run.deviated or run.status != "completed":
        after = (run.journal.get("steady_states") or {}).get("after") or {}
        broken = [str(p.get("activity", {}).get("name")) for p in after.get("probes", [])
                  if not p.get("tolerance_met", True)]
        raise TargetMissed(f"{run.describe()}: steady state not met after the fault"
                           + (f" ({', '.join(broken)})" if broken else ""),
                           fix="the system did not return to its steady state; see the journal")


def activity_output(run: ExperimentRun, activity: str) -> Any:
    """The output of the named method activity in the journal (None when it did not run)."""
    for entry in run.journal.get("run", []):
        if entry.get("activity", {}).get("name") == activity:
            return entry.get("output")
    return None
