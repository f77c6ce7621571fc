"""Evidence bundle: contents, scrubbing, and `verify` catching every kind of edit."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import SafetyRefused, UsageError
from harness.evidence import integrity
from harness.evidence.bundle import build_bundle, overall_verdict
from harness.evidence.record import ScenarioRecord, Verdict, read_records, write_records
from harness.evidence.verify import verify_bundle
from harness.signing import generate_keypair
from tests.evidence_records import T0, recovery_timeline

PASSWORD = 'pl4nted-S3cret"/pw'
EVIDENCE_KEY = generate_keypair()
OTHER_KEY = generate_keypair()


def drill_results(tmp_path: Path) -> Path:
    """A drill-shaped run: scenario 3 passed (with a journal leaking the password), scenario 1 breached."""
    journal = tmp_path / "cluster-loss.journal.json"
    journal.write_text(json.dumps({"status": "completed", "configuration": {"redis_password": PASSWORD}}))
    passed = ScenarioRecord(
        name="Restore SENTINEL into a new cluster from backups", feature="Scenario 3 — complete cluster loss",
        tags=("scenario-3", "quarterly"), started_at=T0.isoformat(), ended_at=(T0 + timedelta(minutes=1)).isoformat(),
        measurements=[
            {"name": "RTO", "target_s": 900, "measured_s": 41.2, "margin_s": 858.8, "met": True},
            {"name": "RPO", "target_s": 3600, "measured_s": 95.0, "margin_s": 3505.0, "met": True},
        ],
        timeline=recovery_timeline(), availability={"availability": 0.93, "longest_outage_s": 39.8, "interval_s": 0.2},
        canary={"lost_count": 3}, verification={"backup_id": "b1", "levels": {"checksum": "ok"}},
        artifacts=[str(journal)],
    )
    breached = ScenarioRecord(
        name="Brain pods are killed", feature="Scenario 1 — pod failure", tags=("scenario-1",),
        verdict=Verdict.FAIL, reason="RTO measured 12.3s vs target 1s: BREACHED by 11.3s",
        measurements=[{"name": "RTO", "target_s": 1, "measured_s": 12.3, "margin_s": -11.3, "met": False}],
    )
    path = tmp_path / "drill-results.json"
    write_records(path, [passed, breached], {
        "target": "sandbox", "namespace": "sentinel", "git_sha": "0" * 40, "operator": "tester", "host": "ci",
        "settings": {"target": "sandbox", "rto_seconds": 900, "redis_password": "***",
                     "redis_url": f"redis://:{PASSWORD}@127.0.0.1:6379/0"},
        "versions": {"redis": "7.0.15", "kubernetes": "v1.36.3"},
        "contacts": [{"role": "Backup Owner", "responsibility": "Backup procedures", "contact": "platform-team@"},
                     {"role": "DR Coordinator", "responsibility": "DR drills, planning", "contact": "sre-lead@"}],
    })
    return path


@pytest.fixture
def env() -> dict[str, str]:
    return {"REDIS_PASSWORD": PASSWORD}


@pytest.fixture
def bundle(tmp_path: Path, env: dict[str, str]) -> Path:
    return build_bundle(drill_results(tmp_path), out_root=tmp_path / "evidence", meta={"run_id": "run-1"}, env=env)


def test_a_fresh_bundle_verifies(bundle: Path) -> None:
    report = verify_bundle(bundle, env={})
    assert report.ok, report.problems
    assert report.chain == "first bundle of its chain"
    assert report.files_checked == len(integrity.bundle_files(bundle))


def test_the_bundle_holds_what_an_auditor_needs(bundle: Path) -> None:
    names = integrity.bundle_files(bundle)
    for expected in ("run.json", "summary.md", "metrics.prom", "previous"):
        assert expected in names
    assert any(n.endswith("cluster-loss.journal.json") for n in names)
    assert any(n.endswith("timeline.json") for n in names) and any(n.endswith("verification.json") for n in names)
    run = json.loads((bundle / "run.json").read_text())
    assert run["verdict"] == "FAIL" and run["operator"] == "tester" and run["git_sha"] == "0" * 40
    assert run["tool_versions"]["redis"] == "7.0.15" and "harness" in run["tool_versions"]
    assert [s["verdict"] for s in run["scenarios"]] == ["PASS", "FAIL"]
    assert run["scenarios"][0]["controls"] and run["started_at"] and run["ended_at"]
    assert len(run["config_sha256"]) == 64
    summary = (bundle / "summary.md").read_text()
    assert "| RTO | 900.000 | 41.200 | 858.800 | met |" in summary
    assert "| RTO | 1.000 | 12.300 | -11.300 | BREACHED |" in summary


def test_the_evidence_names_the_backup_owner_and_the_dr_coordinator(bundle: Path) -> None:
    run = json.loads((bundle / "run.json").read_text())
    assert [(c["role"], c["contact"]) for c in run["contacts"]] == [
        ("Backup Owner", "platform-team@"), ("DR Coordinator", "sre-lead@")]
    summary = (bundle / "summary.md").read_text()
    assert "## Contacts" in summary
    assert "| Backup Owner | Backup procedures | platform-team@ |" in summary
    assert "| DR Coordinator | DR drills, planning | sre-lead@ |" in summary
    assert verify_bundle(bundle, env={}).ok


def test_a_bundle_of_records_without_contacts_renders_and_verifies_as_before(tmp_path: Path,
                                                                             env: dict[str, str]) -> None:
    meta, records = read_records(drill_results(tmp_path))
    meta.pop("contacts")
    bundle = build_bundle(records, out_root=tmp_path / "ev", meta={**meta, "run_id": "old"}, env=env)
    assert "Contacts" not in (bundle / "summary.md").read_text()
    assert verify_bundle(bundle, env={}).ok


def test_no_secret_reaches_the_output_and_the_redaction_is_recorded(tmp_path: Path) -> None:
    env = {"REDIS_PASSWORD": PASSWORD, integrity.SIGNING_KEY_ENV: EVIDENCE_KEY.private_pem}
    out = tmp_path / "evidence"
    build_bundle(drill_results(tmp_path), out_root=out, env=env, secrets_to_scrub=["extra-secret-value"])
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in (PASSWORD, json.dumps(PASSWORD)[1:-1], "pl4nted-S3cret%22%2Fpw",
                           EVIDENCE_KEY.private_pem.splitlines()[1]):
                assert secret.encode() not in data, f"{secret!r} leaked into {path}"
    run = json.loads(next(out.glob("*/run.json")).read_text())
    assert {r["file"] for r in run["redactions"]} >= {"run.json"}
    assert any(r["file"].endswith("journal.json") for r in run["redactions"])


def test_a_binary_artifact_holding_a_secret_is_refused(tmp_path: Path, env: dict[str, str]) -> None:
    blob = tmp_path / "dump.bin"
    blob.write_bytes(b"\xff\xfe\x00" + PASSWORD.encode() + b"\x00")
    with pytest.raises(SafetyRefused, match="dump.bin"):
        build_bundle(drill_results(tmp_path), out_root=tmp_path / "ev", artifacts=[blob], env=env)
    assert not [p for p in (tmp_path / "ev").iterdir()], "a refused bundle leaves nothing behind"


def _flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_changing_one_byte_of_any_file_fails_naming_it(bundle: Path) -> None:
    for rel in integrity.bundle_files(bundle):
        original = (bundle / rel).read_bytes()
        _flip_one_byte(bundle / rel)
        report = verify_bundle(bundle, env={})
        assert not report.ok and report.problems[0].startswith(f"altered: {rel} "), (rel, report.problems)
        (bundle / rel).write_bytes(original)
    _flip_one_byte(bundle / integrity.SUMS)
    assert not verify_bundle(bundle, env={}).ok


def test_a_removed_file_is_named(bundle: Path) -> None:
    (bundle / "summary.md").unlink()
    assert verify_bundle(bundle, env={}).problems[0].startswith("missing: summary.md ")


def test_an_added_file_is_named(bundle: Path) -> None:
    (bundle / "scenarios" / "note.txt").write_text("added later")
    assert verify_bundle(bundle, env={}).problems[0].startswith("extra: scenarios/note.txt ")


def test_editing_run_json_is_caught_even_with_sums_recomputed(bundle: Path) -> None:
    run = json.loads((bundle / "run.json").read_text())
    run["scenarios"][1]["verdict"] = "PASS"
    (bundle / "run.json").write_text(json.dumps(run, indent=2, sort_keys=True) + "\n")
    assert verify_bundle(bundle, env={}).problems[0].startswith("altered: run.json ")
    (bundle / integrity.SUMS).write_text(integrity.render_sums(bundle))
    problems = verify_bundle(bundle, env={}).problems
    assert any("summary.md does not match" in p for p in problems)
    assert any("metrics.prom does not match" in p for p in problems)


def test_bundles_chain_and_a_rewritten_previous_bundle_breaks_the_chain(tmp_path: Path, env: dict[str, str]) -> None:
    results, out = drill_results(tmp_path), tmp_path / "evidence"
    first = build_bundle(results, out_root=out, meta={"run_id": "a"}, env=env, now=T0)
    second = build_bundle(results, out_root=out, meta={"run_id": "b"}, env=env, now=T0 + timedelta(days=30))
    third = build_bundle(results, out_root=out, meta={"run_id": "c"}, env=env, now=T0 + timedelta(days=60))
    assert (second / "previous").read_text() == f"{integrity.sha256_file(first / integrity.SUMS)}  a/SHA256SUMS\n"
    assert json.loads((third / "run.json").read_text())["previous"]["run_id"] == "b"
    assert verify_bundle(second, env={}).chain == "links to a (intact)"
    # rewrite history in `a` and make `a` itself consistent again
    (first / "summary.md").write_text((first / "summary.md").read_text() + "\nedited\n")
    (first / integrity.SUMS).write_text(integrity.render_sums(first))
    report = verify_bundle(second, env={})
    assert not report.ok and report.problems[0].startswith("broken chain: a/SHA256SUMS")
    assert verify_bundle(third, env={}).ok


def test_a_previous_bundle_absent_from_the_directory_is_a_note_not_a_failure(
    tmp_path: Path, env: dict[str, str]
) -> None:
    results, out = drill_results(tmp_path), tmp_path / "evidence"
    build_bundle(results, out_root=out, meta={"run_id": "a"}, env=env, now=T0)
    second = build_bundle(results, out_root=out, meta={"run_id": "b"}, env=env, now=T0 + timedelta(days=1))
    moved = tmp_path / "elsewhere" / "b"
    moved.parent.mkdir()
    second.rename(moved)
    report = verify_bundle(moved, env={})
    assert report.ok and "not present" in report.chain and report.notes


def test_an_ed25519_signature_is_checked_against_the_configured_public_keys(tmp_path: Path) -> None:
    env = {"REDIS_PASSWORD": PASSWORD, integrity.SIGNING_KEY_ENV: EVIDENCE_KEY.private_pem}
    signed = build_bundle(drill_results(tmp_path), out_root=tmp_path / "ev", env=env)
    assert json.loads((signed / integrity.RUN_JSON).read_text())["signing_key_id"] == EVIDENCE_KEY.key_id
    assert verify_bundle(signed, trusted_keys=[EVIDENCE_KEY.public]).signature.startswith("valid")
    unkeyed = verify_bundle(signed, env={})
    assert unkeyed.ok and any("no evidence public key is configured" in n for n in unkeyed.notes)
    other = verify_bundle(signed, trusted_keys=[OTHER_KEY.public])
    assert not other.ok and "not a configured evidence key" in other.problems[0]
    (signed / integrity.ATTESTATION).unlink()
    assert verify_bundle(signed, env={}).problems[0].startswith(f"stripped signature: {integrity.ATTESTATION}")


def test_an_edit_with_regenerated_sums_breaks_the_signature(tmp_path: Path) -> None:
    env = {"REDIS_PASSWORD": PASSWORD, integrity.SIGNING_KEY_ENV: EVIDENCE_KEY.private_pem}
    signed = build_bundle(drill_results(tmp_path), out_root=tmp_path / "ev", env=env)
    (signed / "metrics.prom").write_text("# edited\n")
    (signed / integrity.SUMS).write_text(integrity.render_sums(signed))
    report = verify_bundle(signed, trusted_keys=[EVIDENCE_KEY.public])
    assert any(p.startswith(f"signature: {integrity.ATTESTATION}: metrics.prom has sha256 ") for p in report.problems)
    assert report.signature == "INVALID"


def test_an_unsigned_bundle_fails_when_the_auditor_holds_a_public_key(bundle: Path) -> None:
    report = verify_bundle(bundle, trusted_keys=[EVIDENCE_KEY.public])
    assert not report.ok and report.problems[0].startswith("not signed")


def test_a_run_id_is_never_reused(tmp_path: Path, env: dict[str, str]) -> None:
    results = drill_results(tmp_path)
    build_bundle(results, out_root=tmp_path / "ev", meta={"run_id": "same"}, env=env)
    with pytest.raises(UsageError, match="already exists"):
        build_bundle(results, out_root=tmp_path / "ev", meta={"run_id": "same"}, env=env)


def test_records_are_read_back_unchanged(tmp_path: Path) -> None:
    meta, records = read_records(drill_results(tmp_path))
    assert meta["target"] == "sandbox" and [r.verdict for r in records] == [Verdict.PASS, Verdict.FAIL]


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [(["PASS", "PASS"], "PASS"), (["PASS", "INVALID"], "INVALID"), (["ERROR", "FAIL"], "FAIL"),
     (["INVALID", "ERROR"], "ERROR"), ([], "ERROR")],
)
def test_the_run_verdict_is_the_worst_scenario_verdict(verdicts: list[str], expected: str) -> None:
    assert overall_verdict(verdicts) == expected


def test_cli_bundle_then_verify_exit_codes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("REDIS_PASSWORD", PASSWORD)
    monkeypatch.delenv(integrity.SIGNING_KEY_ENV, raising=False)
    out = tmp_path / "evidence"
    assert main(["evidence", "bundle", "--results", str(drill_results(tmp_path)), "--out", str(out),
                 "--run-id", "cli-run"]) == 0
    assert main(["evidence", "verify", str(out / "cli-run")]) == 0
    assert "ok:" in capsys.readouterr().out
    (out / "cli-run" / "metrics.prom").write_text("# edited\n")
    assert main(["evidence", "verify", str(out / "cli-run")]) == 1
    assert "altered: metrics.prom" in capsys.readouterr().err
    assert main(["evidence", "verify", str(tmp_path)]) == 1


def test_a_backup_coverage_row_is_in_the_summary_with_its_problems_and_limits() -> None:
    from harness.evidence.summary import render_summary

    row = {"component": "Logs", "verdict": "FAIL", "backed_up": "daily archive + manifest per type",
           "summary": "lifecycle differs from the retention table",
           "problems": ["retention: audit logs: expiration expected 2555 days (7 years), actual 30 days"],
           "not_checked": ["the hot (local) tier"]}
    text = render_summary({"run_id": "r", "verdict": "FAIL", "scenarios": [
        {"name": "Logs — the retention table is enforced", "verdict": "FAIL", "details": {"coverage": row}}]})
    assert "Backup coverage — **Logs: FAIL**" in text
    assert "- problem: retention: audit logs: expiration expected 2555 days (7 years), actual 30 days" in text
    assert "- not checkable from here: the hot (local) tier" in text
