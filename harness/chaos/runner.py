"""Run a chaostoolkit experiment through chaoslib's Python API and keep its journal.

Rollbacks always run (strategy `always`): a drill must never leave a zone
cordoned or a namespace isolated because a probe failed. A `deviated` run still
ends with status `completed`, so `ExperimentRun.hypothesis_held` looks at both.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaoslib.exceptions import ChaosException, InvalidActivity, InvalidExperiment, InvalidSource
from chaoslib.experiment import ensure_experiment_is_valid
from chaoslib.experiment import run_experiment as chaoslib_run
from chaoslib.loader import load_experiment as chaoslib_load
from chaoslib.run import RunEventHandler
from chaoslib.types import Strategy

from harness.errors import ConfigError, DrillError
from harness.redaction import redact_text

log = logging.getLogger(__name__)

#: chaoslib settings for every run: rollbacks always, no remote calls
CHAOS_SETTINGS: dict[str, Any] = {"runtime": {"rollbacks": {"strategy": "always"}}}


@dataclass(frozen=True)
class ExperimentRun:
    """The outcome of one experiment run and where its journal is."""

    title: str
    status: str
    deviated: bool
    journal_path: Path
    journal: dict[str, Any]

    @property
    def hypothesis_held(self) -> bool:
        return self.status == "completed" and not self.deviated

    def failed_activities(self) -> list[str]:
        """Method activities that failed: chaoslib carries on after them and still says `completed`."""
        return [str(r.get("activity", {}).get("name")) for r in self.journal.get("run", [])
                if r.get("status") != "succeeded"]

    def rollback_statuses(self) -> list[str]:
        return [r.get("status", "?") for r in self.journal.get("rollbacks", [])]

    def describe(self) -> str:
        state = "hypothesis held" if self.hypothesis_held else (
            "hypothesis DEVIATED" if self.deviated else f"status {self.status}")
        return f"experiment {self.title!r}: {state}; journal {self.journal_path}"


#: called with the activity's name and, at its end, its journal entry
ActivityHook = Callable[[str, dict[str, Any] | None], object]


class _ActivityHooks(RunEventHandler):  # type: ignore[misc]
    """Forwards activity start/end to the drill so it can mark its clock and gather fault proof.

    chaoslib swallows handler exceptions, so hooks record; they never decide.
    """

    def __init__(self, on_start: Mapping[str, ActivityHook], on_end: Mapping[str, ActivityHook]) -> None:
        self.on_start = on_start
        self.on_end = on_end

    def start_activity(self, activity: dict[str, Any]) -> None:
        hook = self.on_start.get(activity.get("name", ""))
        if hook:
            hook(activity["name"], None)

    def activity_completed(self, activity: dict[str, Any], run: dict[str, Any]) -> None:
        """End hooks mark recovery events: only an activity that succeeded may mark one."""
        hook = self.on_end.get(activity.get("name", ""))
        if hook and (run or {}).get("status") == "succeeded":
            hook(activity["name"], run)


def interrupt_on_sigterm(signum: int, _frame: object) -> None:
    """SIGTERM (CI cancellation, a Job deleted) becomes the same interrupt as Ctrl-C: rollbacks and cleanups run."""
    raise KeyboardInterrupt(f"signal {signum}")


class _SigtermInterrupts(RunEventHandler):  # type: ignore[misc]
    """Undo chaoslib's own SIGTERM handler for the run.

    chaoslib turns SIGTERM into an InterruptExecution raised inside the running
    activity, which its activity runner records as a *failed activity* and then
    carries on with the method. Raising KeyboardInterrupt instead stops the
    method, and chaoslib still runs the rollbacks (strategy `always`) and marks
    the journal `interrupted`. chaoslib restores its saved handler (ours) after the run.
    """

    def started(self, experiment: dict[str, Any], journal: dict[str, Any]) -> None:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, interrupt_on_sigterm)


def load_experiment(path: str | Path) -> dict[str, Any]:
    """Parse and validate an experiment file; ConfigError names the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"experiment file {path} does not exist", fix="check the path under experiments/")
    try:
        experiment: dict[str, Any] = chaoslib_load(str(path), verify_tls=False)
        ensure_experiment_is_valid(experiment)
    except (InvalidExperiment, InvalidActivity, InvalidSource, json.JSONDecodeError) as exc:
        raise ConfigError(f"experiment {path} is invalid: {exc}", fix="run `chaos validate` on it and fix it") from None
    return experiment


def run_experiment(
    path: str | Path,
    *,
    configuration: Mapping[str, Any],
    journal_dir: Path,
    on_start: Mapping[str, ActivityHook] | None = None,
    on_end: Mapping[str, ActivityHook] | None = None,
    hypothesis_after_method: bool = True,
) -> ExperimentRun:
    """Run the experiment with `configuration` overriding its declared values; save the journal.

    `on_start`/`on_end` map activity names to hooks. Without
    `hypothesis_after_method` the steady state is checked before the method
    only: for a fault whose recovery the drill itself performs (cluster loss).
    """
    experiment = load_experiment(path)
    journal_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    journal_path = journal_dir / f"{Path(path).stem}-{stamp}.journal.json"
    try:
        journal = chaoslib_run(
            experiment,
            settings=CHAOS_SETTINGS,
            experiment_vars=(dict(configuration), {}),
            strategy=Strategy.DEFAULT if hypothesis_after_method else Strategy.BEFORE_METHOD,
            event_handlers=[_SigtermInterrupts(), _ActivityHooks(on_start or {}, on_end or {})],
        )
    except ChaosException as exc:
        raise DrillError(
            f"experiment {path} could not run: {exc}",
            fix="check the experiment's configuration values and the target",
        ) from None
    journal_path.write_text(redact_text(json.dumps(journal, indent=2, default=str)))
    run = ExperimentRun(
        title=str(journal.get("experiment", {}).get("title", Path(path).stem)),
        status=str(journal.get("status")),
        deviated=bool(journal.get("deviated")),
        journal_path=journal_path,
        journal=journal,
    )
    log.info(run.describe())
    return run
