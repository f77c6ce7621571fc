"""The failed-drill notification: what the summary says, when it is sent, and that posting never raises."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from harness.config import load_settings
from harness.evidence.notify import (
    NotifyResult,
    build_summary,
    post_notification,
    should_notify,
    summarize_run,
)
from harness.evidence.record import ScenarioRecord, Verdict, write_records
from harness.evidence.tables import REPORTED_ONLY
from harness.redis_process import free_port

SETTINGS = load_settings(env={})


def _records() -> list[ScenarioRecord]:
    return [
        ScenarioRecord(name="Brain pods are killed", feature="pod_failure.feature", tags=("scenario-1",),
                       measurements=[{"name": "RTO", "target_s": 900, "measured_s": 41.2, "met": True}]),
        ScenarioRecord(name="Restore into a new cluster", feature="cluster_loss.feature", tags=("scenario-3",),
                       verdict=Verdict.FAIL, reason="RTO measured 1234.5s vs target 900s: BREACHED by 334.5s",
                       measurements=[
                           {"name": "RTO", "target_s": 900, "measured_s": 1234.5, "met": False},
                           {"name": "RPO", "target_s": 3600, "measured_s": 95.0, "met": True},
                           {"name": "worst backup gap", "target_s": 3600, "measured_s": 7200, "met": False,
                            "note": REPORTED_ONLY},
                       ]),
    ]


def _summary(records: list[ScenarioRecord] | None = None, **kwargs: object) -> dict[str, object]:
    return build_summary(_records() if records is None else records, meta={"target": "staging"},
                         selection="monthly", target="sandbox", contacts=SETTINGS.contacts,
                         report="reports/allure-report/index.html", **kwargs)  # type: ignore[arg-type]


def test_the_summary_names_verdicts_breaches_report_and_contacts():
    summary = _summary()

    assert summary["verdict"] == "FAIL" and summary["target"] == "staging"
    assert [(s["name"], s["verdict"]) for s in summary["scenarios"]] == [  # type: ignore[attr-defined]
        ("Brain pods are killed", "PASS"), ("Restore into a new cluster", "FAIL")]
    # only the enforced target that was missed; the reported-only gap is not a breach
    assert summary["breaches"] == [{"scenario": "Restore into a new cluster", "measure": "RTO",
                                    "measured": 1234.5, "target": 900.0, "unit": "s"}]
    assert summary["report"] == "reports/allure-report/index.html"
    assert summary["contacts"] == [
        {"role": "Backup Owner", "responsibility": "Backup procedures", "contact": "platform-team@"},
        {"role": "DR Coordinator", "responsibility": "DR drills, planning", "contact": "sre-lead@"}]
    json.dumps(summary)  # postable as it is


def test_the_text_is_one_readable_message_with_the_same_facts():
    text = str(_summary()["text"])

    assert text.splitlines()[0] == "DR drill monthly on target staging: FAIL"
    assert "• FAIL — Restore into a new cluster: RTO measured 1234.5s vs target 900s" in text
    assert "• PASS — Brain pods are killed" in text
    assert "breach: RTO (Restore into a new cluster) measured 1234.5s vs target 900.0s" in text
    assert "Report: reports/allure-report/index.html" in text
    assert "Backup Owner: platform-team@ · DR Coordinator: sre-lead@" in text


def test_configured_contacts_replace_the_runbook_defaults():
    settings = load_settings(env={"DRILL_CONTACTS": "[{role: DR Coordinator, contact: oncall@example.com}]"})
    summary = build_summary(_records(), meta={}, selection="daily", target="prod", contacts=settings.contacts,
                            report="r")
    assert summary["contacts"] == [{"role": "DR Coordinator", "responsibility": "", "contact": "oncall@example.com"}]
    assert summary["target"] == "prod"


def test_a_run_without_records_is_an_error_with_its_reason():
    summary = _summary([], reason="the drill was interrupted (Ctrl-C or SIGTERM)")
    assert summary["verdict"] == "ERROR" and summary["scenarios"] == []
    assert "the drill was interrupted" in str(summary["text"])


@pytest.mark.parametrize(("verdict", "post"), [("PASS", False), ("FAIL", True), ("INVALID", True), ("ERROR", True)])
def test_only_a_run_that_did_not_pass_is_posted(verdict: str, post: bool):
    assert should_notify(verdict) is post


def _write(tmp_path: Path, verdicts: list[Verdict]) -> Path:
    path = tmp_path / "drill-results.json"
    records = [ScenarioRecord(name=f"s{i}", feature="f", verdict=v) for i, v in enumerate(verdicts)]
    write_records(path, records, {"target": "sandbox"})
    return path


def _summarize(path: Path, *, since: float, exit_code: int = 1, interrupted: bool = False) -> dict | None:
    return summarize_run(path, since=since, exit_code=exit_code, interrupted=interrupted, selection="daily",
                         settings=SETTINGS, report="r")


def test_a_passing_run_posts_nothing(tmp_path: Path):
    path = _write(tmp_path, [Verdict.PASS, Verdict.PASS])
    assert _summarize(path, since=time.time() - 1, exit_code=0) is None


def test_a_failed_or_invalid_run_is_summarized(tmp_path: Path):
    path = _write(tmp_path, [Verdict.PASS, Verdict.INVALID])
    summary = _summarize(path, since=time.time() - 1)
    assert summary is not None and summary["verdict"] == "INVALID"


def test_records_of_an_earlier_run_are_not_reported_as_this_one(tmp_path: Path):
    path = _write(tmp_path, [Verdict.PASS])
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))

    summary = _summarize(path, since=time.time(), exit_code=3)

    assert summary is not None and summary["verdict"] == "ERROR" and summary["scenarios"] == []
    assert "before any scenario recorded a verdict" in summary["reason"]


def test_an_interrupted_run_is_an_error_even_when_its_records_passed(tmp_path: Path):
    path = _write(tmp_path, [Verdict.PASS])
    summary = _summarize(path, since=time.time() - 1, exit_code=130, interrupted=True)
    assert summary is not None and summary["verdict"] == "ERROR" and "interrupted" in summary["reason"]


def test_unreadable_records_are_an_error_not_a_crash(tmp_path: Path):
    path = tmp_path / "drill-results.json"
    path.write_text("{not json")
    summary = _summarize(path, since=time.time() - 1, exit_code=1)
    assert summary is not None and summary["verdict"] == "ERROR" and "cannot be read" in summary["reason"]


def test_a_refused_connection_is_a_result_not_an_exception():
    url = f"http://127.0.0.1:{free_port()}/hooks/T0/B0/refused-token"  # nothing listens there

    result = post_notification(url, {"text": "x"}, timeout=2)

    assert result == NotifyResult(False, None, result.reason)
    assert "cannot reach the webhook" in result.reason and "refused-token" not in result.reason
    assert "refused-token" not in result.describe(url)


def test_a_webhook_that_never_answers_times_out_as_a_result():
    with socket.socket() as listener:  # accepts connections (kernel backlog) and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
        started = time.monotonic()

        result = post_notification(url, {"text": "x"}, timeout=0.5)

    assert not result.delivered and result.status is None
    assert result.reason == "the webhook did not answer within 0.5s"
    assert time.monotonic() - started < 5


def test_a_non_http_url_is_not_posted(tmp_path: Path):
    result = post_notification(f"file://{tmp_path}/x", {"text": "x"})
    assert not result.delivered and "not an http(s) URL" in result.reason
