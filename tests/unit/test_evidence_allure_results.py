"""Allure helpers: attachments and labels (through a fake Allure plugin), metadata files, categories."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import allure_commons
import pytest

from harness.evidence.allure_results import (
    CATEGORIES,
    RUNBOOK_SECTIONS,
    attach_scenario,
    environment_properties,
    runbook_link,
    write_results_metadata,
)
from harness.evidence.naming import github_anchor
from harness.evidence.record import ScenarioRecord
from harness.redaction import Redactor

SECRET = "planted-redis-password"
RUNBOOK = Path(__file__).resolve().parents[3] / "shared" / "reference" / "sentinel-backup-and-dr.md"


class FakeAllure:
    """Records what allure.attach / allure.dynamic hand to the active Allure plugin."""

    def __init__(self) -> None:
        self.attachments: dict[str, tuple[str, Any]] = {}
        self.labels: list[tuple[str, str]] = []
        self.links: list[tuple[str, str | None]] = []
        self.parameters: dict[str, tuple[Any, bool | None]] = {}

    @allure_commons.hookimpl
    def attach_data(self, body: Any, name: str, attachment_type: Any, extension: Any) -> None:
        self.attachments[name] = (body, attachment_type)

    @allure_commons.hookimpl
    def add_label(self, label_type: str, labels: tuple[Any, ...]) -> None:
        self.labels += [(str(label_type), getattr(v, "value", v)) for v in labels]

    @allure_commons.hookimpl
    def add_link(self, url: str, link_type: str, name: str | None) -> None:
        self.links.append((url, name))

    @allure_commons.hookimpl
    def add_parameter(self, name: str, value: Any, excluded: bool | None, mode: Any) -> None:
        self.parameters[name] = (value, excluded)


@pytest.fixture
def fake_allure() -> Iterator[FakeAllure]:
    fake = FakeAllure()
    allure_commons.plugin_manager.register(fake, name="fake-allure")
    try:
        yield fake
    finally:
        allure_commons.plugin_manager.unregister(name="fake-allure")


def _record(tags: tuple[str, ...] = ("scenario-3",)) -> ScenarioRecord:
    return ScenarioRecord(
        name="Restore SENTINEL into a new cluster", feature="Scenario 3", tags=tags,
        measurements=[{"name": "RTO", "target_s": 900, "measured_s": 41.2, "margin_s": 858.8, "met": True},
                      {"name": "RPO", "target_s": 3600, "measured_s": 95.0, "margin_s": 3505.0, "met": True}],
        timeline={"resolution_s": 0.2,
                  "events": [{"name": "fault_injected", "at": "2026-01-01T05:00:00+00:00", "monotonic": 10.0},
                             {"name": "verified", "at": "2026-01-01T05:00:41+00:00", "monotonic": 51.2}],
                  "phases": [{"name": "verified", "seconds": 41.2}]},
        verification={"backup_id": "b1", "ok": True},
    )


def test_attach_scenario_attaches_every_piece_of_evidence(fake_allure: FakeAllure, tmp_path: Path) -> None:
    journal = tmp_path / "cluster-loss.journal.json"
    journal.write_text(json.dumps({"status": "completed", "secret": SECRET}))
    attach_scenario(_record(), journals=[journal, tmp_path / "never-written.json"],
                    config={"target": "sandbox", "note": SECRET}, scrubber=Redactor((SECRET,)))
    names = set(fake_allure.attachments)
    assert names == {
        "chaostoolkit journal: cluster-loss.journal.json", "chaostoolkit journal missing: never-written.json",
        "recovery timeline", "recovery timeline (JSON)", "RTO/RPO vs targets", "backup verification report",
        "scenario record", "effective configuration (redacted)",
    }
    for body, _ in fake_allure.attachments.values():
        assert SECRET not in body
    table = fake_allure.attachments["RTO/RPO vs targets"][0]
    assert "41.200" in table and "900.000" in table and "met" in table
    assert "since start s" in fake_allure.attachments["recovery timeline"][0]


def test_attach_scenario_labels_severity_controls_runbook_and_parameters(fake_allure: FakeAllure) -> None:
    record = _record(("scenario-3", "quarterly"))
    attach_scenario(record, journals=[], config={}, runbook_url="https://wiki.example/dr")
    assert ("severity", "critical") in fake_allure.labels
    for control in record.controls:
        assert ("tag", control) in fake_allure.labels and ("control", control) in fake_allure.labels
    assert fake_allure.links == [("https://wiki.example/dr#scenario-3-complete-cluster-loss",
                                  "Runbook: Scenario 3: Complete Cluster Loss")]
    assert fake_allure.parameters["measured RTO (s)"] == (41.2, True)
    assert fake_allure.parameters["measured RPO (s)"] == (95.0, True)
    assert all(excluded for _, excluded in fake_allure.parameters.values()), "history ids must not change per run"


def test_scenarios_1_and_2_are_normal_severity(fake_allure: FakeAllure) -> None:
    attach_scenario(_record(("scenario-1",)), journals=[], config={})
    assert ("severity", "normal") in fake_allure.labels


@pytest.mark.skipif(not RUNBOOK.is_file(), reason=f"the runbook is not at {RUNBOOK}")
def test_every_runbook_link_points_at_a_heading_of_the_runbook() -> None:
    anchors = {github_anchor(line.lstrip("#")) for line in RUNBOOK.read_text().splitlines() if line.startswith("#")}
    for key in RUNBOOK_SECTIONS:
        link = runbook_link(key)
        assert link and link[0].split("#", 1)[1] in anchors, key


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("harness.errors.TargetMissed: RTO measured 12.3s vs target 1s: BREACHED by 11.3s", {"RTO breach"}),
        ("TargetMissed: RPO measured 4000.0s vs target 3600s: BREACHED by 400.0s\ncanary 41", {"RPO breach"}),
        ("harness.errors.TargetMissed: availability 0.950 below the floor 0.990", {"Other target missed"}),
        ("harness.errors.VerificationFailed: backup 20260101 failed check checksum: sha256 differs",
         {"Backup invalid"}),
        ("FaultNotConfirmed: INVALID — 3 pods kept their UIDs", {"Fault not confirmed (INVALID)"}),
        ("harness.errors.RestoreRefused: backup b1 is not verified", {"Restore refused"}),
        (("harness.errors.PipelineBackupUnfit: refused before any fault: the newest pipeline backup b1 is 3.1s old, "
         "older than the RPO target 2s"), {"Backup stale"}),
        ("KeyError: 'redis'\nTraceback ...", {"Harness error"}),
    ],
)
def test_categories_sort_the_drills_failure_messages(message: str, expected: set[str]) -> None:
    matched = {c["name"] for c in CATEGORIES if re.fullmatch(c["messageRegex"], message)}
    assert matched == expected


def test_write_results_metadata_writes_the_three_files(tmp_path: Path) -> None:
    written = write_results_metadata(
        tmp_path / "results",
        settings_redacted={"rto_seconds": 900, "rpo_seconds": 3600, "redis_url": f"redis://:{SECRET}@h:6379/0",
                           "store_url": "s3://sentinel-backups/"},
        versions={"redis": "7.0.15", "kubernetes": "v1.36.3", "harness": "0.1.0"},
        git_sha="abc123", target="sandbox", context="kwok-sandbox", namespace="sentinel",
        env={"REDIS_PASSWORD": SECRET, "GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "42", "GITHUB_RUN_NUMBER": "7",
             "GITHUB_REPOSITORY": "org/sentinel-drill", "GITHUB_WORKFLOW": "quarterly-restore"},
    )
    props = written.environment.read_text()
    assert "target=sandbox" in props and "kubernetes.context=kwok-sandbox" in props
    assert "redis.version=7.0.15" in props and "kubernetes.version=v1.36.3" in props and "git.sha=abc123" in props
    assert SECRET not in props
    executor = json.loads(written.executor.read_text())
    assert executor["buildOrder"] == 7 and executor["buildUrl"].endswith("/org/sentinel-drill/actions/runs/42")
    names = [c["name"] for c in json.loads(written.categories.read_text())]
    assert {"RTO breach", "RPO breach", "Backup invalid", "Fault not confirmed (INVALID)", "Harness error"} <= set(names)


def test_environment_properties_escape_like_java() -> None:
    text = environment_properties({"a key": "x=y", "multi": "one\ntwo", "unicode": "Zürich", "empty": ""})
    assert text == "a\\ key=x=y\nmulti=one\\ntwo\nunicode=Z\\u00fcrich\n"
