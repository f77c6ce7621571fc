"""The workflows hand each secret to the steps that need it, never to a whole job or to an action.

Read from the YAML: no workflow- or job-level `env:` holds a `secrets.` expression,
no `uses:` step (checkout, toolchains, caches, artifact uploads) gets one, and every
step that gets one runs a sentinel-drill or make command that needs that very secret
(docs/secrets.md). A reusable workflow is passed only the secrets it declares, never
`secrets: inherit`, and uses each of them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
SECRET_EXPRESSION = re.compile(r"\$\{\{[^}]*\bsecrets\.([A-Za-z0-9_]+)")

#: what a step's command must run to be handed each secret (the variable it is handed in)
THE_DRILL = re.compile(r'^make "\$MAKE_TARGET"$')  # the drill's pytest, then `make evidence` (signs the bundle)
EVIDENCE_UPLOAD = re.compile(r"sentinel-drill evidence upload ")  # the store, and the chain head it signs
NEEDED_BY: dict[str, tuple[re.Pattern[str], ...]] = {
    "REDIS_PASSWORD": (THE_DRILL,),
    "DR_REDIS_PASSWORD": (THE_DRILL,),
    "DRILL_CONFIG_KEY": (THE_DRILL,),
    "DRILL_EVIDENCE_SIGNING_KEY": (THE_DRILL, EVIDENCE_UPLOAD),
    "AWS_ACCESS_KEY_ID": (THE_DRILL, EVIDENCE_UPLOAD),
    "AWS_SECRET_ACCESS_KEY": (THE_DRILL, EVIDENCE_UPLOAD),
}
#: commands that install or build: never in a step that holds a secret
INSTALLS = re.compile(r"make setup|sandbox-bin|real-node-parts|pip install|npm |apt-get|go install|curl |wget ")


def _load(path: Path) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def _secrets_in(value: Any) -> set[str]:
    return set(SECRET_EXPRESSION.findall(yaml.safe_dump(value))) if value else set()


WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))


def _steps(name: str) -> list[tuple[str, dict[Any, Any]]]:
    """(job id, step) of every step of the workflow."""
    return [(job_id, step) for job_id, job in _load(WORKFLOWS / name)["jobs"].items() for step in job.get("steps", [])]


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_no_workflow_or_job_environment_holds_a_secret(path: Path) -> None:
    workflow = _load(path)
    assert _secrets_in(workflow.get("env")) == set(), "workflow-level env"
    for job_id, job in workflow["jobs"].items():
        assert _secrets_in(job.get("env")) == set(), f"job {job_id}: hand secrets to the step that needs them"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_no_action_gets_a_secret(path: Path) -> None:
    for job_id, step in _steps(path.name):
        if "uses" in step:
            assert _secrets_in({"with": step.get("with"), "env": step.get("env")}) == set(), (
                f"job {job_id}: {step['uses']} gets a secret")


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_a_step_holding_a_secret_runs_a_command_that_needs_it(path: Path) -> None:
    for job_id, step in _steps(path.name):
        run = str(step.get("run", "")).strip()
        for variable, value in (step.get("env") or {}).items():
            if not _secrets_in(value):
                continue
            where = f"job {job_id}, step {step.get('name')!r}, {variable}"
            assert variable in NEEDED_BY, f"{where}: a secret no command of ours is known to need"
            assert any(p.search(line.strip()) for p in NEEDED_BY[variable] for line in run.splitlines()), (
                f"{where}: the step's command does not need it")
            assert not INSTALLS.search(run), f"{where}: installs run without secrets"


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_a_reusable_workflow_gets_only_the_secrets_it_declares_and_uses_each(path: Path) -> None:
    for job_id, job in _load(path)["jobs"].items():
        if not str(job.get("uses", "")).startswith("./"):
            continue
        assert job.get("secrets") != "inherit", f"job {job_id}: pass each secret by name"
        called = _load(WORKFLOWS.parents[1] / job["uses"].removeprefix("./"))
        declared = set(called["on"]["workflow_call"].get("secrets") or {})
        assert set(job.get("secrets") or {}) <= declared, f"job {job_id}"
        used = set().union(*(_secrets_in(step.get("env")) for _, step in _steps(Path(job["uses"]).name)))
        assert declared <= used, f"{job['uses']} declares secrets no step uses: {sorted(declared - used)}"


def test_the_drill_step_and_the_upload_step_are_the_only_ones_holding_secrets() -> None:
    holders = {str(step.get("name")): sorted(v for v, e in (step.get("env") or {}).items() if _secrets_in(e))
               for _, step in _steps("drill-run.yml")}
    assert {name: names for name, names in holders.items() if names} == {
        "Run the drill": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DRILL_CONFIG_KEY",
                          "DRILL_EVIDENCE_SIGNING_KEY", "DR_REDIS_PASSWORD", "REDIS_PASSWORD"],
        "Store the bundle in the evidence store (object-locked)": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                                                   "DRILL_EVIDENCE_SIGNING_KEY"],
    }
