"""`make` and the scripts agree on where the caches are: SENTINEL_DRILL_CACHE moves them all.

mk/report.mk used to overwrite the variable with ~/.cache/sentinel-drill, so a
run with the caches elsewhere built Allure in one place and looked for it in another.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from harness.sandbox.state import REPO_ROOT


def _make_database(env: dict[str, str]) -> str:
    out = subprocess.run(["make", "-p", "-n", "-s", "help"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                         timeout=60, check=False)
    return out.stdout


def test_sentinel_drill_cache_moves_every_cache_make_uses(tmp_path: Path) -> None:
    moved = _make_database({**os.environ, "SENTINEL_DRILL_CACHE": str(tmp_path)})
    assert f"SENTINEL_DRILL_CACHE := {tmp_path}\n" in moved
    assert f"ALLURE_HOME := {tmp_path}/npm/" in moved
    default = _make_database({k: v for k, v in os.environ.items() if k != "SENTINEL_DRILL_CACHE"})
    assert f"ALLURE_HOME := {Path.home()}/.cache/sentinel-drill/npm/" in default
