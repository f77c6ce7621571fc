"""pytest glue for the drills: fixtures, verdicts, the run's records and summary.

Loaded from the root conftest. Each Gherkin scenario gets a `DrillScenario`;
when it ends (pass or fail) its verdict is derived from the exception that
stopped it: TargetMissed → FAIL, FaultNotConfirmed → INVALID, any other check
→ FAIL, anything else → ERROR. The records land in
`reports/drill-results.json` and in a summary table at the end of the run.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.chaos.runner import interrupt_on_sigterm
from harness.config import Settings, load_settings
from harness.drills.scenario import NOT_RUN, DrillScenario
from harness.errors import CheckFailed, DrillError, FaultNotConfirmed, TargetMissed
from harness.evidence.allure_results import write_results_metadata
from harness.evidence.junit import render_junit
from harness.evidence.provenance import git_sha, iso, local_tool_versions, utc_now
from harness.evidence.record import ScenarioRecord, Verdict, write_records
from harness.measure.clock_sources import local_clocks, store_response_time
from harness.ownership import with_run_id
from harness.redaction import install_log_redaction, redact_text, redact_tree
from harness.target.base import Target

SCENARIO_KEY = pytest.StashKey[DrillScenario]()
ERROR_KEY = pytest.StashKey[BaseException]()
STEP_KEY = pytest.StashKey[str]()  # the step running now; removed when it returns
RECORDS_KEY = pytest.StashKey[list[ScenarioRecord]]()
NOT_RUN_KEY = pytest.StashKey[list[dict[str, str]]]()  # scenarios this target cannot run, with why
META_KEY = pytest.StashKey[dict[str, Any]]()

REPORTS_DIR = Path(os.environ.get("DRILL_REPORTS_DIR", "reports"))
DRILL_TAGS = ("scenario-1", "scenario-2", "scenario-3", "scenario-4", "monthly", "quarterly", "daily", "coverage",
              "smoke")


def classify(exc: BaseException | None) -> tuple[Verdict, str]:
    """The verdict a scenario earns from what stopped it (None = it ran to the end)."""
    if exc is None:
        return Verdict.PASS, ""
    message = exc.one_line() if isinstance(exc, DrillError) else str(exc)
    if isinstance(exc, FaultNotConfirmed):
        return Verdict.INVALID, message
    if isinstance(exc, (TargetMissed, CheckFailed, AssertionError)):
        return Verdict.FAIL, f"{exc.__class__.__name__}: {message}"
    return Verdict.ERROR, f"{exc.__class__.__name__}: {message}"


def pytest_configure(config: pytest.Config) -> None:
    install_log_redaction()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt_on_sigterm)
    for tag in DRILL_TAGS:
        config.addinivalue_line("markers", f"{tag}: drill selection tag")
    config.addinivalue_line("markers", "hard-zone-failure: needs a target that can stop a zone's machines")
    config.stash[RECORDS_KEY] = []
    config.stash[NOT_RUN_KEY] = []
    config.stash[META_KEY] = {"started_at": iso(utc_now())}


@pytest.fixture(scope="session")
def drill_settings(request: pytest.FixtureRequest) -> Settings:
    """Settings for the whole run (file < DRILL_* environment); the evidence names the run's contacts."""
    settings = with_run_id(load_settings())  # `drill` hands its run id down (DRILL_RUN_ID); else one for this session
    request.config.stash[META_KEY]["contacts"] = [c.model_dump() for c in settings.contacts]
    request.config.stash[META_KEY]["run_id"] = settings.run_id
    return settings


@pytest.fixture(scope="session")
def drill_target(request: pytest.FixtureRequest, drill_settings: Settings) -> Iterator[Any]:
    """The target every scenario runs against; the sandbox is started when none is configured."""
    from harness.target import open_target

    with open_target(drill_settings) as target:
        meta = request.config.stash[META_KEY]
        meta.update(describe_target(target))
        meta["clock_sources"] = {**local_clocks(), "store": _store_time(target)}
        yield target
        meta["clock_sources"]["store"] += _store_time(target)  # and once more at the end of the run


def _store_time(target: Target) -> list[dict[str, Any]]:
    """One reading of the store's clock against this machine's (none for a local store); never fails the run."""
    try:
        reading = store_response_time(target.store())
    except DrillError as exc:
        return [{"store": None, "store_time": None, "error": exc.one_line()}]
    return [reading] if reading else []


def describe_target(target: Target) -> dict[str, Any]:
    """Where the drill ran and the versions it ran against (for environment.properties and run.json)."""
    versions = dict(local_tool_versions())
    try:
        versions["redis"] = str(target.redis().info("server").get("redis_version"))
    except DrillError:
        versions["redis"] = "unreachable"
    try:
        versions["kubernetes"] = str(target.cluster().get("/version").get("gitVersion"))
    except DrillError:
        versions["kubernetes"] = "unreachable"
    return {"target": target.name, "context": target.settings.context, "namespace": target.namespace,
            "nodes": target.nodes_description(),
            "settings": target.settings.redacted(), "versions": versions, "git_sha": git_sha()}


@pytest.fixture
def drill(request: pytest.FixtureRequest, drill_settings: Settings) -> DrillScenario:
    """This scenario's clock, observers and record."""
    feature = getattr(request.node, "__scenario_feature__", None)
    scenario = request.node.name
    tags = tuple(m.name for m in request.node.iter_markers() if m.name in DRILL_TAGS)
    record = ScenarioRecord(name=scenario, feature=str(feature or request.node.nodeid), tags=tags)
    state = DrillScenario(drill_settings, record, REPORTS_DIR / "journals")
    request.node.stash[SCENARIO_KEY] = state
    request.addfinalizer(state.finish)  # runs even when an interrupt stops the session mid-scenario
    return state


def pytest_bdd_before_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    """Every scenario gets its DrillScenario, so even one that fails in a Given step has a verdict."""
    request.node.__scenario_feature__ = feature.rel_filename  # type: ignore[attr-defined]
    request.getfixturevalue("drill")


def pytest_bdd_before_step(request: pytest.FixtureRequest, step: Any, **_: Any) -> None:
    request.node.stash[STEP_KEY] = f"{step.keyword} {step.name}"


def _forget_step(request: pytest.FixtureRequest) -> None:
    if STEP_KEY in request.node.stash:
        del request.node.stash[STEP_KEY]


def pytest_bdd_after_step(request: pytest.FixtureRequest, **_: Any) -> None:
    _forget_step(request)


def pytest_bdd_step_error(request: pytest.FixtureRequest, exception: BaseException, **_: Any) -> None:
    request.node.stash[ERROR_KEY] = exception
    _forget_step(request)


class Interrupted(Exception):
    """A step that never returned nor raised an Exception: Ctrl-C or SIGTERM stopped the scenario in it.

    pytest-bdd reports the scenario's end from a `finally` and its step-error hook
    sees only Exceptions, so without this a half-run scenario would read as PASS.
    """


def pytest_bdd_after_scenario(request: pytest.FixtureRequest, feature: Any, scenario: Any) -> None:
    """Stop the observers, set the verdict and hand the record to the evidence."""
    state = request.node.stash.get(SCENARIO_KEY, None)
    if state is None:
        return
    state.finish()
    state.record.name = scenario.name
    state.record.feature = feature.rel_filename
    if NOT_RUN in state.record.details:  # skipped by a step: the target cannot inject this fault
        request.config.stash[NOT_RUN_KEY].append({"name": scenario.name, "feature": feature.rel_filename,
                                                  "reason": str(state.record.details[NOT_RUN])})
        return  # Allure shows it skipped, with the reason
    error = request.node.stash.get(ERROR_KEY, None)
    unfinished = request.node.stash.get(STEP_KEY, None)
    if error is None and unfinished is not None:
        error = Interrupted(f"stopped in step {unfinished!r} (Ctrl-C or SIGTERM); the steps after it did not run")
    state.record.verdict, state.record.reason = classify(error)
    request.config.stash[RECORDS_KEY].append(state.record)
    _attach_to_allure(request, state)


def _attach_to_allure(request: pytest.FixtureRequest, state: DrillScenario) -> None:
    if not request.config.pluginmanager.hasplugin("allure_pytest_bdd"):
        return
    from harness.evidence import allure_results

    allure_results.attach_scenario(
        state.record, journals=state.journals, config=state.settings.redacted()
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write the run's records and the Allure environment/categories (at the end: --clean-alluredir safe)."""
    records = session.config.stash.get(RECORDS_KEY, [])
    if not records and not session.config.stash.get(NOT_RUN_KEY, []):
        return
    started: dict[str, Any] = session.config.stash[META_KEY]
    meta = {**started, "ended_at": iso(utc_now()), "exitstatus": int(exitstatus),
            "not_run": session.config.stash.get(NOT_RUN_KEY, []),
            "selection": session.config.getoption("markexpr", "") or "all"}
    write_records(REPORTS_DIR / "drill-results.json", records, meta)
    (REPORTS_DIR / "junit.xml").write_text(render_junit(records, meta=meta), encoding="utf-8")
    results = session.config.getoption("allure_report_dir", None)
    if results and Path(results).is_dir():
        redact_tree(Path(results))  # allure-pytest-bdd writes failure messages and traces from the exceptions
    if results and "settings" in meta:
        write_results_metadata(Path(results), settings_redacted=meta["settings"], versions=meta["versions"],
                               git_sha=meta["git_sha"], target=meta["target"], context=meta["context"],
                               namespace=meta["namespace"])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failure's text (what pytest prints, what CI logs keep) is redacted like every other output."""
    report: pytest.TestReport = yield
    if report.longrepr is not None:
        text = str(report.longrepr)
        clean = redact_text(text)
        if clean != text:
            report.longrepr = clean
    return report


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    records = config.stash.get(RECORDS_KEY, [])
    if not records and not config.stash.get(NOT_RUN_KEY, []):  # a selection this target cannot run at all
        return
    tr = terminalreporter
    tr.section("drill verdicts")
    nodes = config.stash.get(META_KEY, {}).get("nodes")
    if nodes:
        tr.write_line(f"ran on: {nodes}")
    for r in records:
        tr.write_line(f"{r.verdict.value:8} {r.name}  [{r.feature}]")
        for m in r.measurements:
            verdict = "met" if m["met"] else "BREACHED"
            tr.write_line(
                f"           {m['name']:<14} measured {m['measured_s']:>9.3f}s  target {m['target_s']:>7.0f}s  "
                f"margin {m['margin_s']:>9.3f}s  {verdict}"
            )
        for phase in (r.timeline or {}).get("phases", []):
            tr.write_line(f"           phase {phase['name']:<22} {phase['seconds']:>8.3f}s")
        if r.reason:
            tr.write_line(f"           reason: {r.reason}")
    for skipped in config.stash.get(NOT_RUN_KEY, []):
        tr.write_line(f"NOT RUN  {skipped['name']}  [{skipped['feature']}]")
        tr.write_line(f"           reason: {skipped['reason']}")
    tr.write_line(f"records: {REPORTS_DIR / 'drill-results.json'}")
    tr.write_line(json.dumps({r.name: r.verdict.value for r in records}))
