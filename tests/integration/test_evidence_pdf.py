"""The auditor's PDF opens (pdftoppm renders every page) and its text holds each verdict and measured RTO.

Real parts: reportlab writes the PDF, poppler-utils reads it back. `make setup`
installs poppler-utils, so in CI these tests never skip.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from harness.cli import main
from harness.evidence import integrity
from harness.evidence.bundle import build_bundle
from harness.evidence.label import SANDBOX_LABEL
from harness.evidence.pdf import build_pdf
from harness.evidence.record import ScenarioRecord, Verdict, write_records
from harness.evidence.verify import verify_bundle
from tests.evidence_records import T0, recovery_timeline

pytestmark = pytest.mark.skipif(shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None,
                                reason="poppler-utils (pdftoppm, pdftotext) is not installed: run `make setup`")


def _results(tmp_path: Path, *, target: str, rto: float) -> Path:
    passed = ScenarioRecord(
        name="Restore SENTINEL into a new cluster from backups", feature="Scenario 3 — complete cluster loss",
        tags=("scenario-3", "quarterly"), started_at=T0.isoformat(), ended_at=(T0 + timedelta(minutes=1)).isoformat(),
        measurements=[{"name": "RTO", "target_s": 900, "measured_s": rto, "margin_s": 900 - rto, "met": True},
                      {"name": "RPO", "target_s": 3600, "measured_s": 95.0, "margin_s": 3505.0, "met": True}],
        timeline=recovery_timeline())
    breached = ScenarioRecord(
        name="Brain pods are killed", feature="Scenario 1 — pod failure", tags=("scenario-1",),
        verdict=Verdict.FAIL, reason="RTO measured 12.3s vs target 1s: BREACHED by 11.3s",
        measurements=[{"name": "RTO", "target_s": 1, "measured_s": 12.3, "margin_s": -11.3, "met": False}])
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "drill-results.json"
    write_records(path, [passed, breached], {"target": target, "namespace": "sentinel", "git_sha": "0" * 40,
                                             "operator": "tester", "host": "ci"})
    return path


def _chain(tmp_path: Path, *, target: str) -> Path:
    """Three bundles of one chain; return the newest."""
    bundle = tmp_path
    for day, rto in ((1, 39.0), (2, 40.5), (3, 41.2)):
        bundle = build_bundle(_results(tmp_path / f"r{day}", target=target, rto=rto),
                              out_root=tmp_path / "evidence", meta={"run_id": f"2026010{day}T050000Z-{target}"},
                              env={})
    return bundle


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.MULTILINE).group(1))  # type: ignore[union-attr]


def _rendered_pages(pdf: Path, out: Path) -> list[Path]:
    out.mkdir()
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(out / "page")], check=True, capture_output=True)
    return sorted(out.glob("page*.png"))


def _text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout


def test_the_pdf_renders_every_page_and_holds_each_verdict_and_measured_rto(tmp_path: Path):
    bundle = _chain(tmp_path, target="prod-eu")
    pdf = build_pdf(bundle, tmp_path / "out" / "run.pdf")
    pages = _rendered_pages(pdf, tmp_path / "png")
    assert len(pages) == _pages(pdf) >= 2 and all(p.stat().st_size > 1000 for p in pages)
    text = _text(pdf)
    assert re.search(r"Restore SENTINEL.*PASS", text) and re.search(r"Brain pods are killed.*FAIL", text)
    assert "41.200" in text and "12.300" in text and "BREACHED" in text
    assert "Overall verdict: FAIL" in text and SANDBOX_LABEL not in text and "NOT EVIDENCE" not in text.upper()
    assert "3 run(s)" in text and "links to 20260102T050000Z-prod-eu (intact)" in text
    assert verify_bundle(bundle, env={}).ok  # the PDF went elsewhere: the bundle is unchanged


def test_a_sandbox_bundle_says_so_in_the_title_and_on_every_verdict_line(tmp_path: Path):
    pdf = build_pdf(_chain(tmp_path, target="sandbox"), tmp_path / "sandbox.pdf")
    assert len(_rendered_pages(pdf, tmp_path / "png")) == _pages(pdf)
    text = " ".join(_text(pdf).split())  # the title wraps; compare with the line breaks folded
    assert f"DR drill evidence — run 20260103T050000Z-sandbox — {SANDBOX_LABEL}" in text
    assert f"Overall verdict: FAIL — {SANDBOX_LABEL}" in text
    assert f"Verdict: PASS — {SANDBOX_LABEL}" in text and f"Verdict: FAIL — {SANDBOX_LABEL}" in text


def test_evidence_pdf_command_writes_beside_the_chain_and_refuses_a_path_inside_the_bundle(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    bundle = _chain(tmp_path, target="prod-eu")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["evidence", "pdf", str(bundle)]) == 0
    default = tmp_path / "evidence-pdf" / f"{bundle.name}.pdf"  # beside the chain's directory, not the cwd's
    assert default.is_file() and f"pdf: {default}" in capsys.readouterr().out
    assert main(["evidence", "pdf", str(bundle), "--out", str(bundle / "report.pdf")]) == 2
    assert "inside the bundle" in capsys.readouterr().err
    assert not (bundle / "report.pdf").exists() and (bundle / integrity.SUMS).is_file()


def test_evidence_bundle_writes_the_pdf_of_the_new_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]):
    results = _results(tmp_path / "r", target="prod-eu", rto=41.2)
    monkeypatch.chdir(tmp_path)
    assert main(["evidence", "bundle", "--results", str(results), "--out", "evidence", "--run-id", "run-9"]) == 0
    out = capsys.readouterr().out
    assert "bundle: evidence/run-9" in out and "pdf: evidence-pdf/run-9.pdf" in out
    assert "41.200" in _text(tmp_path / "evidence-pdf" / "run-9.pdf")
