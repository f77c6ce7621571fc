"""Where the experiments live and how a drill runs one against its target with clock hooks."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.chaos.binding import TARGET_KEY
from harness.chaos.runner import ActivityHook, ExperimentRun, run_experiment
from harness.drills.scenario import DrillScenario
from harness.safety import require_destructive

EXPERIMENTS_DIR = Path(__file__).resolve().parents[2] / "experiments"

BRAIN = "sentinel-brain"
BRAIN_SELECTOR = "app=sentinel-brain"


def experiment_path(name: str) -> Path:
    return EXPERIMENTS_DIR / f"{name}.json"


def run_for_drill(
    drill: DrillScenario,
    target: Any,
    name: str,
    *,
    configuration: Mapping[str, Any],
    on_start: Mapping[str, ActivityHook] | None = None,
    on_end: Mapping[str, ActivityHook] | None = None,
    hypothesis_after_method: bool = True,
) -> ExperimentRun:
    """Run experiment `name` against `target` (if safety allows a fault there); keep its journal."""
    require_destructive(target, f"inject the {name} fault")
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
    return run


def activity_output(run: ExperimentRun, activity: str) -> Any:
    """The output of the named method activity in the journal (None when it did not run)."""
    for entry in run.journal.get("run", []):
        if entry.get("activity", {}).get("name") == activity:
            return entry.get("output")
    return None
