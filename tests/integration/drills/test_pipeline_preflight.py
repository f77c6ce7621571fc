"""A stale or unlocked pipeline backup stops scenarios 3 and 4 before any fault and fails the daily check.

The sandbox's store holds one pipeline backup, taken by `sandbox up` for the
hourly CronJob's last run. With an RPO of 2 s and that backup older than 3 s,
the pipeline is "dead": however fresh a backup the drill could take itself,
nothing may be broken.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from harness.backup.catalog import list_backups, origin_of
from harness.backup.store import open_store
from harness.measure.availability import probe_once
from harness.sandbox import SandboxInfo

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]

STALE = r"PipelineBackupUnfit: refused before any fault: the newest pipeline backup \S+ .* older than the RPO target 2s"


@pytest.fixture(scope="module")
def stale_pipeline(drill_sandbox: SandboxInfo) -> dict[str, str]:
    """DRILL_RPO_SECONDS=2 once the sandbox's pipeline backup is more than 3 s old."""
    time.sleep(3.0)
    return {"DRILL_RPO_SECONDS": "2"}


def _backups(sandbox: SandboxInfo, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    store = open_store(sandbox.store_url)
    return [(e.id, origin_of(store, e)) for e in list_backups(store)]


def _events(scenario: dict[str, Any]) -> list[str]:
    return [e["name"] for e in (scenario.get("timeline") or {}).get("events", [])]


def _assert_untouched(sandbox: SandboxInfo, monkeypatch: pytest.MonkeyPatch, before: list[tuple[str, str]]) -> None:
    assert probe_once(sandbox.health_url, timeout=5.0).ok  # Brain + Gateway serve in the cluster, Redis answers
    assert _backups(sandbox, monkeypatch) == before  # no drill backup taken, no tampered copy planted


@pytest.mark.parametrize("selection", ["scenario-3", "scenario-4"])
def test_a_pipeline_backup_older_than_the_rpo_stops_the_scenario_before_any_fault(
        run_drill, drill_sandbox, stale_pipeline, monkeypatch, selection):
    before = _backups(drill_sandbox, monkeypatch)
    assert [origin for _, origin in before] == ["pipeline"]

    run = run_drill(selection, **stale_pipeline)

    assert run.code == 1, run.output[-3000:]
    scenario = run.scenario(selection)
    assert scenario["verdict"] == "FAIL"
    assert re.search(STALE, scenario["reason"]), scenario["reason"]
    assert "fault_injected" not in _events(scenario)
    assert "refused" in scenario["details"]["pipeline_backup"]
    _assert_untouched(drill_sandbox, monkeypatch, before)


def test_the_daily_check_fails_when_the_pipeline_backup_is_older_than_the_rpo(run_drill, stale_pipeline):
    # the daily check allows the RPO plus the hourly schedule's slack, as the verify CronJob does
    run = run_drill("daily", **stale_pipeline, DRILL_BACKUP_SCHEDULE_SLACK_SECONDS="0")

    assert run.code == 1, run.output[-3000:]
    scenario = run.scenario("daily")
    assert scenario["verdict"] == "FAIL"
    assert "PipelineBackupUnfit" in scenario["reason"]
    assert "older than the RPO 2s + schedule slack 0s" in scenario["reason"], scenario["reason"]
    age = next(m for m in scenario["measurements"] if m["name"] == "age of the newest pipeline backup")
    assert age["measured_s"] > 2 and not age["met"]


def test_an_unlocked_pipeline_backup_is_refused_where_the_store_must_lock(run_drill, drill_sandbox, monkeypatch):
    before = _backups(drill_sandbox, monkeypatch)

    run = run_drill("scenario-3", DRILL_STORE_RETENTION_DAYS="1")

    assert run.code == 1, run.output[-3000:]
    scenario = run.scenario("scenario-3")
    assert scenario["verdict"] == "FAIL"
    assert "is not object-locked (no retention) although store_retention_days is 1" in scenario["reason"]
    assert "fault_injected" not in _events(scenario)
    _assert_untouched(drill_sandbox, monkeypatch, before)


def test_the_monthly_backup_verification_judges_the_pipeline_backup_not_one_of_its_own(run_drill, drill_sandbox,
                                                                                        monkeypatch):
    before = _backups(drill_sandbox, monkeypatch)

    run = run_drill("monthly", "-k", "scratch")

    assert run.code == 0, run.output[-3000:]
    scenario = run.scenario("monthly")
    pipeline_id = before[-1][0]
    assert scenario["details"]["pipeline_backup"]["id"] == pipeline_id
    assert scenario["details"]["scratch_restore"] == {**scenario["details"]["scratch_restore"],
                                                      "backup_id": pipeline_id, "origin": "pipeline"}
    assert scenario["details"]["pipeline_backup"]["age_s"] < 3600
