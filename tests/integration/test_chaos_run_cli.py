"""The experiments run unchanged under `chaos run` with the environment `sandbox env` gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


@pytest.mark.parametrize("name", ["pod-kill", "zone-drain", "compromise"])
def test_chaos_run_against_the_sandbox(name: str, sandbox, tmp_path: Path):
    env = {**os.environ, **sandbox.env(include_secrets=True)}
    journal = tmp_path / "journal.json"
    chaos = Path(sys.executable).with_name("chaos")
    proc = subprocess.run(
        [str(chaos), "--no-version-check", "--no-log-file", "run", "--rollback-strategy", "always",
         "--journal-path", str(journal), str(EXPERIMENTS / f"{name}.json")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )
    data = json.loads(journal.read_text())
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert (data["status"], data["deviated"]) == ("completed", False)
    assert all(r["status"] == "succeeded" for r in data["run"] + data["rollbacks"]), data["run"]
