"""`evidence verify --recompute`: figures and verdicts derived again from the bundle's raw observations.

The scenario here is recorded by the real DrillScenario, clock, prober and
canary code on a faked clock: a Brain pod failure whose Deployment recovers
within the RTO while the health endpoint stays down for 40 s, beyond the 30 s
RTO the longest outage is held to. The honest bundle says FAIL and recomputes
clean; a bundle doctored to say PASS, re-signed with the same key, verifies
but does not recompute.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from harness.cli import main
from harness.config import load_settings
from harness.drills import preconditions
from harness.drills.pytest_plugin import classify
from harness.drills.scenario import DrillScenario
from harness.evidence import integrity
from harness.evidence.bundle import build_bundle, seal
from harness.evidence.metrics import render_metrics
from harness.evidence.record import ScenarioRecord
from harness.evidence.summary import render_summary
from harness.evidence.verify import verify_bundle
from harness.measure import observations as obs
from harness.measure.availability import AvailabilityProber, Sample
from harness.measure.clock import RecoveryClock
from harness.signing import generate_keypair, load_private_key
from tests.evidence_records import T0

KEY = generate_keypair()
NAME = "Brain loses all of its pods"
INTERVAL = 0.2


def _scenario(tmp_path: Path, *, outage_s: float) -> ScenarioRecord:
    """Scenario 1 ("all" outline): fault at 100 s, Brain Ready at 105 s, verified at 106 s; health down `outage_s`."""
    now = [90.0]
    settings = load_settings(env={"DRILL_RTO_SECONDS": "30", "DRILL_PROBE_INTERVAL_SECONDS": str(INTERVAL)})
    clock = RecoveryClock(monotonic=lambda: now[0], utcnow=lambda: T0 + timedelta(seconds=now[0]))
    record = ScenarioRecord(NAME, "features/pod_failure.feature", tags=("scenario-1", "monthly"))
    drill = DrillScenario(settings, record, tmp_path / "journals", clock=clock)
    prober = AvailabilityProber("http://127.0.0.1:9/health", interval_s=INTERVAL,
                                observe=drill.observations.sink(obs.PROBES))
    drill.prober = prober
    events = {100.0: "fault_injected", 101.0: "fault_confirmed", 105.0: "brain_ready", 106.0: "verified"}
    error: BaseException | None = None
    for tick in range(int((max(100 + outage_s + 5, 160) - 90) / INTERVAL) + 1):
        now[0] = 90.0 + tick * INTERVAL
        for at, name in events.items():
            if abs(now[0] - at) < INTERVAL / 2:
                clock.mark(name)
                if name == "fault_confirmed":
                    drill.confirm_fault(True, "4 Brain pods terminated, 4 replaced", {"terminated": 4})
        ok = not (100.0 <= now[0] < 100.0 + outage_s)
        prober.record(Sample(now[0], ok, 200 if ok else 503, at=T0 + timedelta(seconds=now[0]), latency_s=0.004))
    try:
        drill.require(drill.rto())
        preconditions.check_availability(drill, preconditions.OUTAGE_REPORTED)
    except Exception as exc:  # noqa: BLE001 - the verdict is what the plugin would give
        error = exc
    drill.record.verdict, drill.record.reason = classify(error)
    drill.finish()
    return drill.record


def _bundle(tmp_path: Path, record: ScenarioRecord) -> Path:
    return build_bundle([record], out_root=tmp_path / "evidence", env={}, signing_key=load_private_key(KEY.private_pem),
                        meta={"run_id": "run-1", "target": "staging", "git_sha": "0" * 40, "operator": "sre",
                              "host": "ci", "settings": {"rto_seconds": 30.0, "rpo_seconds": 3600.0}})


def _doctor(bundle: Path, change: dict[str, object]) -> None:
    """What an insider holding the evidence key could do: edit the stated results, re-render, re-seal, re-sign."""
    run = json.loads((bundle / integrity.RUN_JSON).read_text())
    scenario = run["scenarios"][0]
    scenario.update(change)
    run["verdict"] = scenario["verdict"]
    (bundle / integrity.RUN_JSON).write_text(json.dumps(run, indent=2, sort_keys=True) + "\n")
    (bundle / "summary.md").write_text(render_summary(run))
    (bundle / "metrics.prom").write_text(render_metrics(run))
    seal(bundle, load_private_key(KEY.private_pem))


def test_every_observation_stream_of_the_scenario_is_in_the_bundle_as_json_lines(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, _scenario(tmp_path, outage_s=40.0))
    folder = bundle / json.loads((bundle / integrity.RUN_JSON).read_text())["scenarios"][0]["dir"] / "observations"
    streams = {p.stem: [json.loads(line) for line in p.read_text().splitlines()] for p in folder.glob("*.jsonl")}

    assert set(streams) == {obs.TARGETS, obs.CLOCK, obs.PROBES, obs.FAULTS, obs.CHECKS}
    assert [e["event"] for e in streams[obs.CLOCK]] == ["fault_injected", "fault_confirmed", "brain_ready", "verified"]
    assert len(streams[obs.PROBES]) == 351 and streams[obs.PROBES][0]["latency_s"] == 0.004
    assert {"monotonic", "at", "ok", "status", "latency_s"} <= set(streams[obs.PROBES][0])
    assert streams[obs.FAULTS][0]["observed"] is True
    sums = integrity.parse_sums((bundle / integrity.SUMS).read_text())[0]
    assert all(f"{folder.relative_to(bundle)}/{name}.jsonl" in sums for name in streams)


def test_an_honest_bundle_recomputes_with_no_difference(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, _scenario(tmp_path, outage_s=40.0))

    report = verify_bundle(bundle, trusted_keys=[KEY.public], recompute=True)

    assert report.ok, report.problems
    assert report.recomputed.startswith("1 scenario(s) recomputed from raw observations")
    assert report.recomputed.endswith("0 difference(s); derived verdicts: FAIL")


def test_a_pass_doctored_over_an_outage_beyond_the_target_is_named_even_when_re_signed(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, _scenario(tmp_path, outage_s=40.0))
    run = json.loads((bundle / integrity.RUN_JSON).read_text())
    stated = run["scenarios"][0]
    assert stated["verdict"] == "FAIL" and "longest outage measured 40.0s vs target 30s" in stated["reason"]
    outage = next(m for m in stated["measurements"] if m["name"] == "longest outage")
    _doctor(bundle, {"verdict": "PASS", "reason": "",
                     "measurements": [m if m is not outage else {**m, "measured_s": 1.2, "margin_s": 28.8, "met": True}
                                      for m in stated["measurements"]],
                     "availability": {**stated["availability"], "longest_outage_s": 1.2, "availability": 0.99}})

    plain = verify_bundle(bundle, trusted_keys=[KEY.public])
    recomputed = verify_bundle(bundle, trusted_keys=[KEY.public], recompute=True)

    assert plain.ok and plain.signature.startswith("valid (DSSE envelope")  # the same key signed the edit
    assert f"recompute: {NAME}: longest outage (s): stated 1.200, derived 40.000" in recomputed.problems
    assert f"recompute: {NAME}: longest outage met: stated true, derived false" in recomputed.problems
    assert f"recompute: {NAME}: availability: longest outage (s): stated 1.200, derived 40.000" in recomputed.problems
    assert f"recompute: {NAME}: verdict: stated PASS, derived FAIL" in recomputed.problems


def test_raw_probe_samples_showing_an_outage_under_a_pass_are_named(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, _scenario(tmp_path, outage_s=2.0))
    assert json.loads((bundle / integrity.RUN_JSON).read_text())["verdict"] == "PASS"
    probes = next(bundle.rglob(f"{obs.PROBES}.jsonl"))
    lines = [json.loads(line) for line in probes.read_text().splitlines()]
    doctored = [{**line, "ok": False, "status": 503} if 100.0 <= line["monotonic"] < 145.0 else line for line in lines]
    probes.write_text("".join(json.dumps(line, sort_keys=True) + "\n" for line in doctored))
    seal(bundle, load_private_key(KEY.private_pem))

    report = verify_bundle(bundle, trusted_keys=[KEY.public], recompute=True)

    assert f"recompute: {NAME}: longest outage (s): stated 2.000, derived 45.000" in report.problems
    assert f"recompute: {NAME}: verdict: stated PASS, derived FAIL" in report.problems


def test_deleting_the_raw_observations_is_named(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, _scenario(tmp_path, outage_s=2.0))
    for path in bundle.rglob("*.jsonl"):
        path.unlink()
    seal(bundle, load_private_key(KEY.private_pem))

    report = verify_bundle(bundle, trusted_keys=[KEY.public], recompute=True)

    assert report.problems[-1].startswith(f"recompute: {NAME}: no raw observations in scenarios/01-")


def test_a_target_edited_in_the_observations_is_named(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, _scenario(tmp_path, outage_s=40.0))
    targets = next(bundle.rglob(f"{obs.TARGETS}.jsonl"))
    targets.write_text(targets.read_text().replace('"value": 30.0', '"value": 60.0'))
    seal(bundle, load_private_key(KEY.private_pem))

    problems = verify_bundle(bundle, trusted_keys=[KEY.public], recompute=True).problems

    assert f"recompute: {NAME}: target rto_seconds (run config vs observations): stated 30.000, derived 60.000" \
        in problems
    assert f"recompute: {NAME}: RTO target (s): stated 30.000, derived 60.000" in problems


def test_the_cli_names_every_difference_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = _bundle(tmp_path, _scenario(tmp_path, outage_s=40.0))
    assert main(["evidence", "verify", "--recompute", str(bundle), "--public-key", KEY.public]) == 0
    assert "recomputed: 1 scenario(s) recomputed from raw observations" in capsys.readouterr().out
    _doctor(bundle, {"verdict": "PASS", "reason": ""})

    assert main(["evidence", "verify", str(bundle), "--public-key", KEY.public]) == 0
    capsys.readouterr()
    assert main(["evidence", "verify", "--recompute", str(bundle), "--public-key", KEY.public]) == 1
    err = capsys.readouterr().err
    assert f"problem: recompute: {NAME}: verdict: stated PASS, derived FAIL" in err


def test_a_bundle_made_before_raw_observations_is_said_to_be_not_recomputed(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, _scenario(tmp_path, outage_s=2.0))
    run = json.loads((bundle / integrity.RUN_JSON).read_text())
    del run["raw_observations"]
    (bundle / integrity.RUN_JSON).write_text(json.dumps(run, indent=2, sort_keys=True) + "\n")
    seal(bundle, load_private_key(KEY.private_pem))

    report = verify_bundle(bundle, trusted_keys=[KEY.public], recompute=True)

    assert report.ok and report.recomputed == "nothing recomputed"
    assert any("made before raw observations were recorded" in n for n in report.notes)


def test_a_chain_recomputes_every_bundle_and_names_the_doctored_one(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "evidence"
    for run_id, outage in (("run-1", 2.0), ("run-2", 40.0)):
        build_bundle([_scenario(tmp_path / run_id, outage_s=outage)], out_root=root, env={},
                     signing_key=load_private_key(KEY.private_pem),
                     meta={"run_id": run_id, "target": "staging", "git_sha": "0" * 40, "operator": "sre", "host": "ci"})
    args = ["evidence", "verify", "--chain", str(root), "--allow-unanchored", "--public-key", KEY.public]
    assert main([*args, "--recompute"]) == 0
    assert "recomputed: 1 scenario(s) recomputed from raw observations" in capsys.readouterr().out
    _doctor(root / "run-2", {"verdict": "PASS", "reason": ""})

    assert main(args) == 0  # the re-signed tip: nothing links to it, its signature holds
    capsys.readouterr()
    assert main([*args, "--recompute"]) == 1
    assert f"problem: run-2: recompute: {NAME}: verdict: stated PASS, derived FAIL" in capsys.readouterr().err


def test_a_malformed_or_missing_observation_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, _scenario(tmp_path, outage_s=2.0))
    clock = next(bundle.rglob(f"{obs.CLOCK}.jsonl"))
    clock.write_text(clock.read_text().replace('"monotonic"', '"mono"', 1) + "not json\n")
    next(bundle.rglob(f"{obs.TARGETS}.jsonl")).unlink()
    seal(bundle, load_private_key(KEY.private_pem))

    problems = verify_bundle(bundle, trusted_keys=[KEY.public], recompute=True).problems

    assert any(p.startswith("recompute: scenarios/01-") and p.endswith("clock.jsonl:5: not JSON (Expecting value: "
                                                                        "line 1 column 1 (char 0))") for p in problems)
    assert f"recompute: {NAME}: an observation line is malformed (KeyError: 'monotonic'); its figures cannot be " \
           "recomputed" in problems


def test_deleting_the_recorded_targets_is_a_difference(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, _scenario(tmp_path, outage_s=40.0))
    next(bundle.rglob(f"{obs.TARGETS}.jsonl")).unlink()
    seal(bundle, load_private_key(KEY.private_pem))

    problems = verify_bundle(bundle, trusted_keys=[KEY.public], recompute=True).problems

    assert any(p.startswith(f"recompute: {NAME}: targets recorded: stated ['rto_seconds',") for p in problems)
    assert f"recompute: {NAME}: RTO target (s): stated 30.000, derived not in the observations" in problems


def _results(tmp_path: Path, record: ScenarioRecord, **stated: object) -> Path:
    """The drill's drill-results.json for `record`, with `stated` written over what it said (a harness bug)."""
    from harness.evidence.record import write_records

    path = tmp_path / "drill-results.json"
    write_records(path, [record], {"run_id": "run-1", "target": "staging",
                                   "settings": {"rto_seconds": 30.0, "rpo_seconds": 3600.0}})
    body = json.loads(path.read_text())
    body["scenarios"][0].update(stated)
    path.write_text(json.dumps(body))
    return path


def test_every_bundle_is_recomputed_as_it_is_built(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRILL_EVIDENCE_SIGNING_KEY", KEY.private_pem)
    honest = _results(tmp_path, _scenario(tmp_path, outage_s=40.0))

    assert main(["evidence", "bundle", "--results", str(honest), "--out", str(tmp_path / "evidence"),
                 "--no-pdf"]) == 0
    assert "recomputed: 1 scenario(s) recomputed from raw observations, " in capsys.readouterr().out


def test_a_bundle_whose_stated_verdict_its_observations_do_not_give_fails_as_it_is_built_and_is_kept(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRILL_EVIDENCE_SIGNING_KEY", KEY.private_pem)
    wrong = _results(tmp_path, _scenario(tmp_path, outage_s=40.0), verdict="PASS", reason="")

    assert main(["evidence", "bundle", "--results", str(wrong), "--out", str(tmp_path / "evidence"),
                 "--no-pdf"]) == 1
    err = capsys.readouterr().err
    assert f"problem: recompute: {NAME}: verdict: stated PASS, derived FAIL" in err
    assert "does not recompute from its raw observations" in err
    assert (tmp_path / "evidence" / "run-1" / integrity.RUN_JSON).is_file()
