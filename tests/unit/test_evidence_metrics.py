"""metrics.prom is valid Prometheus text format, and the scrubber catches every spelling of a secret."""

from __future__ import annotations

import re

import pytest

from harness.errors import SafetyRefused
from harness.evidence.metrics import render_metrics
from harness.evidence.tables import target_rows, targets_csv, timeline_text
from harness.redaction import Redactor, registered_secrets

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"'
_SAMPLE = re.compile(rf"^({_NAME})(\{{{_LABEL}(?:,{_LABEL})*\}})? (-?[0-9.eE+\-]+|NaN|[+-]Inf)( -?[0-9]+)?$")
_HELP = re.compile(rf"^# HELP ({_NAME}) (.+)$")
_TYPE = re.compile(rf"^# TYPE ({_NAME}) (counter|gauge|histogram|summary|untyped)$")


def parse_exposition(text: str) -> dict[str, list[tuple[str, float]]]:
    """A strict reader of the text format: HELP/TYPE before samples, families contiguous, no duplicates."""
    assert text.endswith("\n"), "the format ends with a newline"
    families: dict[str, list[tuple[str, float]]] = {}
    typed: set[str] = set()
    helped: set[str] = set()
    current: str | None = None
    series: set[str] = set()
    for line in text.splitlines():
        if m := _HELP.match(line):
            assert m.group(1) not in helped, f"second HELP for {m.group(1)}"
            helped.add(m.group(1))
        elif m := _TYPE.match(line):
            name = m.group(1)
            assert name not in typed and name not in families, f"TYPE for {name} after its samples or twice"
            typed.add(name)
            current = name
        elif m := _SAMPLE.match(line):
            name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
            assert name == current, f"sample {name} outside its family block"
            assert name + labels not in series, f"duplicate series {name}{labels}"
            series.add(name + labels)
            families.setdefault(name, []).append((labels, value))
        else:
            raise AssertionError(f"not a valid exposition line: {line!r}")
    assert typed == set(families) == helped
    return families


RUN = {
    "target": "sandbox",
    "ended_at": "2026-01-01T05:01:00Z",
    "scenarios": [
        {"key": "scenario-3", "case": "restore", "verdict": "PASS",
         "measurements": [{"name": "RTO", "target_s": 900, "measured_s": 41.2},
                          {"name": "RPO", "target_s": 3600, "measured_s": 95}],
         "timeline": {"phases": [{"name": "data_restored", "seconds": 20.0}, {"name": "verified", "seconds": 21.2}]},
         "availability": {"availability": 0.93, "longest_outage_s": 39.8}, "canary": {"lost_count": 3}},
        {"key": "monthly", "case": "backup-verification", "verdict": "FAIL", "measurements": []},
        {"key": "monthly", "case": 'failover "quoted"\\name', "verdict": "INVALID", "measurements": []},
    ],
}


def test_metrics_are_valid_exposition_format() -> None:
    families = parse_exposition(render_metrics(RUN))
    assert families["sentinel_drill_rto_seconds"] == [
        ('{target="sandbox",scenario="scenario-3",case="restore"}', 41.2)]
    assert families["sentinel_drill_rpo_target_seconds"][0][1] == 3600
    assert families["sentinel_drill_run_timestamp_seconds"][0][1] == 1767243660.0
    verdicts = {labels: v for labels, v in families["sentinel_drill_verdict"]}
    assert verdicts['{target="sandbox",scenario="monthly",case="backup-verification",verdict="FAIL"}'] == 1
    assert sum(verdicts.values()) == 3, "exactly one verdict per scenario is 1"
    assert len(families["sentinel_drill_phase_seconds"]) == 2


def test_a_run_without_scenarios_still_renders_valid_metrics() -> None:
    families = parse_exposition(render_metrics({"target": "x", "ended_at": "2026-01-01T00:00:00Z", "scenarios": []}))
    assert list(families) == ["sentinel_drill_run_timestamp_seconds"]
    assert render_metrics({"scenarios": []}) == ""


def test_targets_table_lists_missing_rto_and_rpo_as_not_measured() -> None:
    rows = target_rows([{"name": "availability", "target_s": 0.99, "measured_s": 0.95}])
    assert [(r.name, r.verdict) for r in rows] == [("RTO", "not measured"), ("RPO", "not measured"),
                                                    ("availability", "met")]
    assert targets_csv(rows).splitlines()[0] == "measure,target_s,measured_s,margin_s,verdict"


def test_timeline_text_without_events_says_so() -> None:
    assert "no recovery timeline" in timeline_text(None)


def test_scrubber_replaces_raw_json_and_url_forms() -> None:
    scrubber = Redactor(('p@ss"word/1',))
    text = 'raw p@ss"word/1 json "p@ss\\"word/1" url redis://:p%40ss%22word%2F1@h'
    clean, count = scrubber.scrub_text(text)
    assert count == 3 and not scrubber.leaks(clean) and clean.count("***") == 3


def test_scrubber_refuses_a_binary_holding_a_secret_and_passes_other_binaries() -> None:
    scrubber = Redactor(("secret-value",))
    with pytest.raises(SafetyRefused, match="blob"):
        scrubber.scrub_bytes(b"\xff\x00secret-value", name="blob")
    assert scrubber.scrub_bytes(b"\xff\x00other", name="blob") == (b"\xff\x00other", 0)


def test_scrubber_from_env_ignores_empty_and_too_short_values() -> None:
    scrubber = Redactor.from_env(["abc", "long-enough"], env={"REDIS_PASSWORD": "", "DRILL_EVIDENCE_SIGNING_KEY": "k3y-value"})
    learned = registered_secrets()  # values other tests rotated stay redacted for the whole process
    assert tuple(s for s in scrubber.secrets if s not in learned) == ("k3y-value", "long-enough")
