"""The runner: journal kept, hooks called in order, rollbacks always run, deviation reported."""

from __future__ import annotations

import json
from pathlib import Path

from harness.chaos.runner import run_experiment


def _experiment(tmp_path: Path, *, steady: str) -> Path:
    marker = tmp_path / "rolled-back"
    path = tmp_path / "exp.json"
    path.write_text(json.dumps({
        "version": "1.0.0",
        "title": "runner test",
        "description": "a harmless experiment",
        "configuration": {"steady_file": steady},
        "steady-state-hypothesis": {"title": "file exists", "probes": [{
            "type": "probe", "name": "file-exists", "tolerance": True,
            "provider": {"type": "python", "module": "os.path", "func": "exists",
                         "arguments": {"path": "${steady_file}"}}}]},
        "method": [{"type": "action", "name": "fault", "provider": {
            "type": "python", "module": "os", "func": "getcwd"}}],
        "rollbacks": [{"type": "action", "name": "undo", "provider": {
            "type": "python", "module": "os.path", "func": "exists",
            "arguments": {"path": str(marker)}}}],
    }))
    return path


def test_a_held_hypothesis_keeps_the_journal_and_calls_the_hooks(tmp_path: Path):
    steady = tmp_path / "steady"
    steady.touch()
    calls: list[tuple[str, str]] = []
    run = run_experiment(
        _experiment(tmp_path, steady=str(steady)), configuration={}, journal_dir=tmp_path / "journals",
        on_start={"fault": lambda name, _: calls.append(("start", name))},
        on_end={"fault": lambda name, entry: calls.append(("end", str((entry or {}).get("status"))))},
    )
    assert run.hypothesis_held
    assert calls == [("start", "fault"), ("end", "succeeded")]
    assert json.loads(run.journal_path.read_text())["status"] == "completed"
    assert run.rollback_statuses() == ["succeeded"]


def test_a_deviated_run_is_not_held_and_its_rollbacks_still_run(tmp_path: Path):
    steady = tmp_path / "steady"
    steady.touch()
    path = _experiment(tmp_path, steady=str(steady))
    data = json.loads(path.read_text())
    data["method"][0]["provider"] = {"type": "python", "module": "os", "func": "remove",
                                     "arguments": {"path": str(steady)}}
    path.write_text(json.dumps(data))

    run = run_experiment(path, configuration={}, journal_dir=tmp_path / "journals")

    assert not run.hypothesis_held and run.deviated
    assert run.rollback_statuses() == ["succeeded"]


def test_configuration_overrides_the_declared_values(tmp_path: Path):
    run = run_experiment(_experiment(tmp_path, steady="/definitely/missing"),
                         configuration={"steady_file": str(tmp_path)}, journal_dir=tmp_path / "j")
    assert run.status == "completed"
