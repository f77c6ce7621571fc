"""A real drill run becomes an Allure report listing every scenario with its evidence, and leaks no secret;
its evidence bundle recomputes from its raw observations with no difference, and its DSSE envelope verifies
with securesystemslib alone."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

from harness.evidence.bundle import seal
from harness.evidence.report import build_report
from harness.signing import KeyPair, generate_keypair, load_private_key
from tests.integration.drills.conftest import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]


def test_the_report_of_a_drill_run_lists_every_scenario_with_its_attachments(all_drills, tmp_path: Path):
    run, _ = all_drills
    info = build_report(run.allure_dir, tmp_path / "report", single_file=False, kept_history=tmp_path / "history")

    cases = [json.loads(p.read_text()) for p in (tmp_path / "report" / "data" / "test-cases").glob("*.json")]
    not_run = {s["name"] for s in run.results["meta"]["not_run"]}  # listed with their reason, no verdict
    assert {c["name"] for c in cases} == set(run.verdicts()) | not_run
    for case in cases:
        if case["name"] in not_run:  # shown skipped, with the reason
            assert case["status"] == "skipped" and "kwok" in (case.get("statusMessage") or ""), case
            continue
        names = {a["name"] for a in (case.get("testStage") or {}).get("attachments", [])}
        assert "RTO/RPO vs targets" in names and "effective configuration (redacted)" in names, (case["name"], names)
    assert info.results == len(cases)


def test_no_sandbox_secret_reaches_the_reports(all_drills):
    run, secrets = all_drills
    reports = run.allure_dir.parent
    leaks = [(str(p), s[:4]) for p in reports.rglob("*") if p.is_file()
             for s in secrets if s and s.encode() in p.read_bytes()]
    assert secrets[0] != secrets[1]  # the scenario-4 rotation really changed it
    assert not leaks


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("DRILL_")}
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], check=False, cwd=REPO_ROOT,
                          env={**child_env, **env}, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def signed_bundle(all_drills, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, KeyPair]:
    """The bundle `make evidence` writes from the drill run's records, signed with an evidence key of the test's."""
    run, _ = all_drills
    key = generate_keypair()
    out = tmp_path_factory.mktemp("evidence")
    built = _cli("evidence", "bundle", "--results", str(run.allure_dir.parent / "drill-results.json"),
                 "--out", str(out), "--no-pdf", DRILL_EVIDENCE_SIGNING_KEY=key.private_pem)
    assert built.returncode == 0, built.stdout + built.stderr
    [bundle] = [p for p in out.iterdir() if p.is_dir()]
    return bundle, key


def test_every_scenario_of_a_real_drill_recomputes_from_its_raw_observations_with_no_difference(
        all_drills, signed_bundle: tuple[Path, KeyPair]) -> None:
    run, _ = all_drills
    bundle, key = signed_bundle

    checked = _cli("evidence", "verify", "--recompute", str(bundle), "--public-key", key.public)

    print(checked.stdout, checked.stderr)  # the closing note's "clean bundle" output
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "signature: valid (DSSE envelope" in checked.stdout
    assert f"recomputed: {len(run.verdicts())} scenario(s) recomputed from raw observations" in checked.stdout
    assert "0 difference(s)" in checked.stdout
    assert "clock: within ±2 s of the store's" in checked.stdout  # moto's Date header, read at the start and the end
    scenarios = json.loads((bundle / "run.json").read_text())["scenarios"]
    streams = [{Path(f).stem for f in s["observations"]} for s in scenarios]
    assert all("targets" in names for names in streams)
    assert any({"clock", "probes", "canary", "faults", "checks"} <= names for names in streams)
    assert any({"backups", "restored", "store-clock"} <= names for names in streams)  # scenario 3


def test_the_real_bundles_envelope_verifies_with_securesystemslib_alone(signed_bundle: tuple[Path, KeyPair]) -> None:
    bundle, pair = signed_bundle
    envelope = Envelope.from_dict(json.loads((bundle / "attestation.dsse.json").read_text()))
    key = SSlibKey.from_crypto(Ed25519PublicKey.from_public_bytes(base64.b64decode(pair.public)),
                               keyid=hashlib.sha256(pair.public.encode()).hexdigest()[:16])

    envelope.verify([key], 1)

    subjects = {s["name"]: s["digest"]["sha256"] for s in json.loads(envelope.payload)["subject"]}
    assert subjects == {p.relative_to(bundle).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                        for p in bundle.rglob("*") if p.is_file() and p.name != "attestation.dsse.json"}


def test_a_real_bundle_whose_probe_samples_are_doctored_into_an_outage_is_named_even_when_re_signed(
        signed_bundle: tuple[Path, KeyPair], tmp_path: Path) -> None:
    """The summary still says PASS; the raw samples now show the health endpoint down from the fault for 3 × the
    target, and the bundle is re-sealed and re-signed with the same key, as an insider holding it could."""
    source, key = signed_bundle
    bundle = Path(shutil.copytree(source, tmp_path / source.name))
    scenarios = json.loads((bundle / "run.json").read_text())["scenarios"]
    scenario = next(s for s in scenarios if s["verdict"] == "PASS"
                    and any(m["name"] == "longest outage" for m in s["measurements"]))
    target = next(m["target_s"] for m in scenario["measurements"] if m["name"] == "longest outage")
    observed = bundle / scenario["dir"] / "observations"
    fault = next(e["monotonic"] for e in map(json.loads, (observed / "clock.jsonl").read_text().splitlines())
                 if e["event"] == "fault_injected")
    lines = [json.loads(line) for line in (observed / "probes.jsonl").read_text().splitlines()]
    until = fault + 3 * target
    down = [{**line, "ok": False, "status": 503} if line["monotonic"] >= fault else line for line in lines]
    down.append({**lines[-1], "monotonic": until, "ok": False, "status": 503})
    (observed / "probes.jsonl").write_text("".join(json.dumps(line, sort_keys=True) + "\n" for line in down))
    checks = [json.loads(line) for line in (observed / "checks.jsonl").read_text().splitlines()]
    checks = [{**c, "until_monotonic": until} if c["kind"] == "window" else c for c in checks]
    (observed / "checks.jsonl").write_text("".join(json.dumps(c, sort_keys=True) + "\n" for c in checks))
    seal(bundle, load_private_key(key.private_pem))

    plain = _cli("evidence", "verify", str(bundle), "--public-key", key.public)
    checked = _cli("evidence", "verify", "--recompute", str(bundle), "--public-key", key.public)

    print(checked.stdout, checked.stderr)  # the closing note's "doctored bundle" output
    assert plain.returncode == 0, plain.stdout + plain.stderr  # the re-signed bundle is intact and validly signed
    assert checked.returncode == 1
    assert f"problem: recompute: {scenario['name']}: verdict: stated PASS, derived FAIL" in checked.stderr
    assert f"problem: recompute: {scenario['name']}: longest outage (s): stated " in checked.stderr
