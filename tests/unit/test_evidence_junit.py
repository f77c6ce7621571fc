"""reports/junit.xml: one case per scenario, a breach or INVALID reason as the failure, no secrets."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from harness.evidence.junit import render_junit
from harness.evidence.record import ScenarioRecord, Verdict
from harness.redaction import register_secret

BREACH = "TargetMissed: RTO measured 12.3s vs target 1s: BREACHED by 11.3s"
RTO_MISSED = {"name": "RTO", "target_s": 1.0, "measured_s": 12.3, "margin_s": -11.3, "met": False}
RPO_MET = {"name": "RPO", "target_s": 300.0, "measured_s": 40.0, "margin_s": 260.0, "met": True}


def _record(name: str, verdict: Verdict, reason: str = "", **fields: Any) -> ScenarioRecord:
    return ScenarioRecord(name=name, feature="features/scenario_3.feature", tags=("scenario-3",), verdict=verdict,
                          reason=reason, started_at="2025-01-01T00:00:00+00:00",
                          ended_at="2025-01-01T00:00:12.500000+00:00", **fields)


RECORDS = [
    _record("Brain survives a pod loss", Verdict.PASS, measurements=[RPO_MET]),
    _record("Whole cluster lost", Verdict.FAIL, BREACH, measurements=[RTO_MISSED, RPO_MET]),
    _record("Fault never landed", Verdict.INVALID, "FaultNotConfirmed: fault not observed: no pod was deleted"),
    _record("Harness broke", Verdict.ERROR, "RuntimeError: the probe thread died"),
]
META = {"target": "sandbox", "started_at": "2025-01-01T00:00:00+00:00",
        "not_run": [{"name": "Zone goes dark", "feature": "features/scenario_2.feature",
                     "reason": "the sandbox cannot stop a zone's machines"}]}


def _cases(xml: str) -> tuple[ET.Element, dict[str, ET.Element]]:
    suite = ET.fromstring(xml)
    return suite, {case.get("name", ""): case for case in suite.iter("testcase")}


def _properties(case: ET.Element) -> dict[str, str]:
    return {p.get("name", ""): p.get("value", "") for p in case.iter("property")}


def test_one_case_per_scenario_with_its_verdict_and_counts() -> None:
    suite, cases = _cases(render_junit(RECORDS, meta=META))

    assert suite.tag == "testsuite"
    assert suite.get("name") == "sentinel-drill sandbox — SANDBOX — not evidence of production recovery"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("5", "2", "1", "1")
    assert suite.get("timestamp") == META["started_at"]
    assert sorted(cases) == sorted([r.name for r in RECORDS] + ["Zone goes dark"])
    for record in RECORDS:
        case = cases[record.name]
        assert case.get("classname") == "features/scenario_3.feature"
        assert case.get("time") == "12.500"
        assert _properties(case)["verdict"] == record.verdict.value
        assert _properties(case)["target"] == "sandbox"
    assert list(cases["Brain survives a pod loss"].iter("failure")) == []
    assert list(cases["Brain survives a pod loss"].iter("error")) == []


def test_a_breached_rto_is_a_failure_whose_message_names_the_breach() -> None:
    _, cases = _cases(render_junit(RECORDS, meta=META))
    case = cases["Whole cluster lost"]

    failure = case.find("failure")
    assert failure is not None
    assert failure.get("type") == "FAIL"
    assert "RTO measured 12.3s vs target 1s: BREACHED by 11.3s" in failure.get("message", "")
    assert "RTO: measured 12.300s vs target 1s (BREACHED)" in (failure.text or "")
    assert "RPO" not in (failure.text or "")  # met targets are not listed as misses
    assert _properties(case)["RTO"] == "12.3s / 1.0s"


def test_invalid_is_a_failure_of_type_invalid_and_error_is_an_error() -> None:
    _, cases = _cases(render_junit(RECORDS, meta=META))

    invalid = cases["Fault never landed"].find("failure")
    assert invalid is not None and invalid.get("type") == "INVALID"
    assert "fault not observed" in invalid.get("message", "")
    error = cases["Harness broke"].find("error")
    assert error is not None and error.get("type") == "ERROR"
    assert cases["Harness broke"].find("failure") is None


def test_a_scenario_the_target_cannot_run_is_skipped_with_its_reason() -> None:
    _, cases = _cases(render_junit(RECORDS, meta=META))

    skipped = cases["Zone goes dark"].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "the sandbox cannot stop a zone's machines"
    assert cases["Zone goes dark"].get("classname") == "features/scenario_2.feature"


def test_a_multi_line_reason_is_one_line_in_the_message_and_whole_in_the_text() -> None:
    record = _record("Two lines", Verdict.FAIL, "CheckFailed: canary missing\n  key drill:canary:1 absent")
    _, cases = _cases(render_junit([record], meta=META))

    failure = cases["Two lines"].find("failure")
    assert failure is not None
    assert failure.get("message") == "CheckFailed: canary missing key drill:canary:1 absent"
    assert "canary missing\n  key drill:canary:1 absent" in (failure.text or "")


def test_a_registered_secret_appears_nowhere_in_the_xml() -> None:
    secret = "junit-s3cr3t-<&>-7781"
    register_secret(secret)
    record = _record(f"Scenario {secret}", Verdict.FAIL, f"CheckFailed: AUTH {secret} refused",
                     measurements=[RTO_MISSED], details={"password": secret})
    meta = {**META, "target": f"prod-{secret}",
            "not_run": [{"name": "n", "feature": "f", "reason": f"needs {secret}"}]}

    xml = render_junit([record], meta=meta)

    ET.fromstring(xml)  # still well-formed after redaction
    for form in (secret, "junit-s3cr3t-&lt;&amp;&gt;-7781"):
        assert form not in xml
    assert "***" in xml
