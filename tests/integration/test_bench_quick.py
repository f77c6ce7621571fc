"""`make bench --quick` as a smoke test: the JSON holds every figure, its floor and ratio (no timing assertions)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

FIGURES = {"backup", "verify", "verify: levels only (after the download)", "file restore", "network restore",
           "network restore: DUMP/RESTORE stream only"}
TARGETS = {"backup ≤ 1.3 × floor", "verify ≤ 1.3 × floor (download + load)",
           "file restore ≤ 1.15 × floor (download + load)",
           "network restore stream ≥ 150 k keys/s", "harness peak RSS ≤ 256 MiB", "RTO resolution ≤ 0.5 s"}


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def test_quick_bench_reports_every_figure_beside_its_floor(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--runs", "2", "--outage", "1.07",
                           "--out", str(tmp_path)], check=False, capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    [json_path] = tmp_path.glob("*.json")
    doc = json.loads(json_path.read_text())
    assert json_path.with_suffix(".md").read_text() in proc.stdout  # the table printed is the one written

    assert doc["dataset"]["keys"] >= 20_000 and doc["dataset"]["rdb_bytes"] > 1_000_000
    assert {"cores", "python", "redis"} <= set(doc["machine"])
    figures = {f["name"]: f for f in doc["figures"]}
    assert set(figures) == FIGURES
    for name, fig in figures.items():
        assert len(fig["runs"]) == 2 and len(fig["floor"]["runs"]) == 2, name
        for value in (fig["median"], fig["min"], fig["max"], fig["floor"]["median"], fig["ratio"],
                      fig["peak_rss_mib"], fig["rss_start_mib"]):
            assert _positive(value), (name, fig)
        assert fig["min"] <= fig["median"] <= fig["max"], name
        assert fig["floor"]["name"], name
    for name in ("network restore", "network restore: DUMP/RESTORE stream only"):
        assert all(_positive(figures[name][k]) for k in ("keys_per_s", "mb_per_s", "floor_keys_per_s")), name
    assert set(figures["backup"]["phases"]) == {"save", "fetch", "describe", "upload"}
    assert _positive(figures["file restore"]["load_floor"]["median"])
    assert doc["rto"]["outage_s"] == 1.07 and _positive(doc["rto"]["measured_s"]["median"])

    targets = {t["name"]: t for t in doc["targets"]}
    assert set(targets) == TARGETS
    assert all(isinstance(t["met"], bool) and _positive(t["limit"]) for t in targets.values())
    assert doc["all_targets_met"] == all(t["met"] for t in targets.values())
