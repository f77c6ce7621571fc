"""The RTO/RPO trend page is drawn from the bundles' run.json, oldest run first, breaches marked."""

from __future__ import annotations

import json
from pathlib import Path

from harness.evidence.trend import render_trend_html, trend_points, write_trend


def _bundle(root: Path, run_id: str, rto: float, target: float) -> None:
    (root / run_id).mkdir(parents=True)
    (root / run_id / "run.json").write_text(json.dumps({"run_id": run_id, "ended_at": run_id, "scenarios": [{
        "case": "restore-sentinel", "measurements": [
            {"name": "RTO", "measured_s": rto, "target_s": target, "met": rto <= target},
            {"name": "RPO (age of the newest verified backup)", "measured_s": 1, "target_s": 3600, "met": True}]}]}))


def test_points_follow_the_runs_in_order_and_only_rto_rpo(tmp_path: Path):
    _bundle(tmp_path, "20261126T070000Z-sandbox", 9.0, 900)
    _bundle(tmp_path, "20261126T080000Z-sandbox", 12.5, 10)
    points = trend_points(tmp_path)
    assert [(p.run_id[:15], p.measure, p.measured_s, p.met) for p in points] == [
        ("20261126T070000", "RTO", 9.0, True), ("20261126T080000", "RTO", 12.5, False)]
    page = render_trend_html(points)
    assert page.count("<circle") == 2 and "BREACHED" in page


def test_no_bundle_no_page(tmp_path: Path):
    assert write_trend(tmp_path / "none", tmp_path / "out.html") == 0
    assert not (tmp_path / "out.html").exists()
