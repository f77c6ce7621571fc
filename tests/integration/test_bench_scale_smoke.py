"""`make bench-scale`'s code path at toy size (6 kwok nodes, 30 Brain pods): every figure lands in the JSON.

No timing is asserted; the full size (300 nodes, 3,000 pods) is `make bench-scale`, outside `make test`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.sandbox import sandbox_down

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]
REPO = Path(__file__).resolve().parents[2]


def test_bench_scale_reports_recovery_requests_and_cpu_per_step(sandbox_bin_dir: Path, tmp_path: Path) -> None:
    state, out = tmp_path / "scale-sandbox", tmp_path / "bench"
    try:
        done = subprocess.run(
            [sys.executable, str(REPO / "bench" / "scale.py"), "--nodes-per-zone", "2", "--brain-replicas", "30",
             "--state-dir", str(state), "--out", str(out), "--timeout", "120"],
            check=False, cwd=REPO, capture_output=True, text=True, timeout=240,
            env={**os.environ, "DRILL_SANDBOX_NODES": "kwok"},
        )
    finally:
        sandbox_down(state)
    assert done.returncode == 0, done.stderr[-2000:]
    [report_file] = out.glob("scale-*.json")
    report = json.loads(report_file.read_text())
    steps = {s["step"]: s for s in report["steps"]}
    assert set(steps) == {"sandbox up", "pod kill", "zone drain"}
    assert steps["sandbox up"]["nodes"] == 6 and steps["sandbox up"]["brain_replicas"] == 30
    assert steps["sandbox up"]["sandbox_rss_mib"] > 0
    for name in ("pod kill", "zone drain"):
        step = steps[name]
        assert step["recovery_s"] > 0 and step["cpu_s"] >= 0
        assert step["requests_total"] == sum(step["requests"].values()) > 0
    assert steps["pod kill"]["killed"] == 15 and steps["pod kill"]["requests"]["delete"] == 15
    assert steps["zone drain"]["evicted"] > 0 and steps["zone drain"]["requests"]["create/eviction"] >= \
        steps["zone drain"]["evicted"]
    assert report_file.with_suffix(".md").read_text().startswith("| step |")
