"""The RTO/RPO trend page is drawn from the bundles' run.json, oldest run first, breaches marked, charts inline."""

from __future__ import annotations

import json
from pathlib import Path

from harness.evidence.charts import X_LABEL, Y_LABEL
from harness.evidence.label import SANDBOX_LABEL, evidence_label
from harness.evidence.trend import render_trend_html, trend_points, write_trend

PHASES = [{"name": "fault_confirmed", "seconds": 1.5}, {"name": "data_restored", "seconds": 7.5}]


def _bundle(root: Path, run_id: str, rto: float, target: float, *, on: str = "prod-eu") -> None:
    (root / run_id).mkdir(parents=True)
    (root / run_id / "run.json").write_text(json.dumps({
        "run_id": run_id, "ended_at": run_id, "label": evidence_label(on), "scenarios": [{
            "name": "restore-sentinel", "timeline": {"phases": PHASES}, "measurements": [
                {"name": "RTO", "measured_s": rto, "target_s": target, "met": rto <= target},
                {"name": "RPO", "measured_s": 60, "target_s": 3600, "met": True},
                {"name": "RPO (age of the newest verified backup)", "measured_s": 1, "target_s": 3600,
                 "met": True}]}]}))


def test_points_follow_the_runs_in_order_and_only_rto_rpo(tmp_path: Path):
    _bundle(tmp_path, "20261126T070000Z-prod", 9.0, 900)
    _bundle(tmp_path, "20261126T080000Z-prod", 12.5, 10)
    points = [p for p in trend_points(tmp_path) if p.measure == "RTO"]
    assert [(p.run_id[:15], p.case, p.measured_s, p.met, p.phases) for p in points] == [
        ("20261126T070000", "restore-sentinel", 9.0, True, (("fault_confirmed", 1.5), ("data_restored", 7.5))),
        ("20261126T080000", "restore-sentinel", 12.5, False, (("fault_confirmed", 1.5), ("data_restored", 7.5)))]
    assert "BREACHED" in render_trend_html(trend_points(tmp_path))
    assert [p.run_id[:15] for p in trend_points(tmp_path, up_to="20261126T070000Z-prod")] == ["20261126T070000"] * 2


def test_a_chain_of_three_draws_an_rto_and_an_rpo_chart_with_axes_and_target_lines(tmp_path: Path):
    for hour, rto in ((6, 8.0), (7, 9.0), (8, 12.5)):
        _bundle(tmp_path, f"20261126T0{hour}0000Z-prod", rto, 10)
    assert write_trend(tmp_path, tmp_path / "page" / "trend.html") == 3
    page = (tmp_path / "page" / "trend.html").read_text()
    assert page.count("<svg") == 2 and "<?xml" not in page
    assert page.count(f">{Y_LABEL}<") == 2 and page.count(f">{X_LABEL}<") == 2
    assert page.count('id="target"') == 2 and "target 10 s" in page and "target 3600 s" in page
    assert page.count('id="phase-data_restored"') == 3  # one bar per run, in the RTO chart only
    assert SANDBOX_LABEL not in page
    assert page.count("<tr><td>2026") == 6


def test_one_sandbox_run_in_the_chain_labels_the_page_title_and_its_charts(tmp_path: Path):
    _bundle(tmp_path, "20261126T060000Z-prod", 8.0, 10)
    _bundle(tmp_path, "20261126T070000Z-sandbox", 6.0, 10, on="sandbox")
    page = render_trend_html(trend_points(tmp_path))
    title = page.split("<title>")[1].split("</title>")[0]
    assert title == f"RTO and RPO over drills — {SANDBOX_LABEL}"
    assert page.count(f">{SANDBOX_LABEL}<") == 2  # inside each chart, not only in the headings


def test_no_bundle_no_page(tmp_path: Path):
    assert write_trend(tmp_path / "none", tmp_path / "out.html") == 0
    assert not (tmp_path / "out.html").exists()
