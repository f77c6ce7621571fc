"""Report building without Java: tool discovery, history carrying, the pinned version."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.errors import CheckFailed, ConfigError
from harness.evidence.report import ALLURE_VERSION, allure_binary, build_report, carry_history

REPO = Path(__file__).resolve().parents[2]


def test_the_pinned_allure_version_matches_mk_report() -> None:
    match = re.search(r"^ALLURE_VERSION\s*\?=\s*(\S+)", (REPO / "mk" / "report.mk").read_text(), re.MULTILINE)
    assert match and match.group(1) == ALLURE_VERSION


def test_missing_java_names_make_setup(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="java") as caught:
        allure_binary({"PATH": str(tmp_path)})
    assert "make setup" in (caught.value.fix or "")


def test_missing_allure_names_make_setup(tmp_path: Path) -> None:
    java = tmp_path / "java"
    java.write_text("#!/bin/sh\n")
    java.chmod(0o755)
    with pytest.raises(ConfigError, match=ALLURE_VERSION) as caught:
        allure_binary({"PATH": str(tmp_path), "SENTINEL_DRILL_CACHE": str(tmp_path / "cache")})
    assert "make setup" in (caught.value.fix or "")


def test_no_results_is_a_failed_check(tmp_path: Path) -> None:
    with pytest.raises(CheckFailed, match="no Allure results"):
        build_report(tmp_path / "results", tmp_path / "report", env={"PATH": ""})


def test_history_comes_from_the_last_report_else_the_kept_copy(tmp_path: Path) -> None:
    results, report, kept = tmp_path / "results", tmp_path / "report", tmp_path / "kept"
    results.mkdir()
    (kept).mkdir()
    (kept / "history-trend.json").write_text('["kept"]')
    carry_history(results, report, kept)
    assert (results / "history" / "history-trend.json").read_text() == '["kept"]'
    (report / "history").mkdir(parents=True)
    (report / "history" / "history-trend.json").write_text('["report"]')
    carry_history(results, report, kept)
    assert (results / "history" / "history-trend.json").read_text() == '["report"]'


def test_cli_report_without_java_exits_2_naming_make_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    results = tmp_path / "results"
    results.mkdir()
    (results / "0-result.json").write_text("{}")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["report", "--results", str(results), "--out", str(tmp_path / "report")]) == 2
    assert "make setup" in capsys.readouterr().err
