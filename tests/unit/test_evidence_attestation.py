"""The bundle's DSSE envelope over an in-toto Statement: verifiable with the libraries alone, old bundles still pass."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from google.protobuf import json_format
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey

from harness.evidence import integrity
from harness.evidence.bundle import build_bundle, seal
from harness.evidence.record import ScenarioRecord, Verdict
from harness.evidence.verify import verify_bundle
from harness.signing import generate_keypair, load_private_key

KEY = generate_keypair()


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    record = ScenarioRecord(name="Brain pods are killed", feature="Scenario 1 — pod failure", tags=("scenario-1",),
                            verdict=Verdict.FAIL, reason="RTO measured 40.0s vs target 30s: BREACHED by 10.0s",
                            measurements=[{"name": "RTO", "target_s": 30, "measured_s": 40.0, "met": False}])
    return build_bundle([record], out_root=tmp_path / "evidence", env={}, signing_key=load_private_key(KEY.private_pem),
                        meta={"run_id": "run-1", "target": "staging", "git_sha": "0" * 40, "operator": "sre",
                              "host": "ci", "settings": {"rto_seconds": 30.0, "rpo_seconds": 3600.0}})


def _library_key(public_b64: str) -> SSlibKey:
    """The auditor's key, from the .pub text alone: key id = first 16 hex digits of sha256(base64 text)."""
    raw = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64))
    return SSlibKey.from_crypto(raw, keyid=hashlib.sha256(public_b64.encode()).hexdigest()[:16])


def test_the_envelope_verifies_with_securesystemslib_and_its_statement_covers_every_file(bundle: Path) -> None:
    envelope = Envelope.from_dict(json.loads((bundle / "attestation.dsse.json").read_text()))

    envelope.verify([_library_key(KEY.public)], 1)  # raises VerificationError unless signed by that key

    assert envelope.payload_type == "application/vnd.in-toto+json"
    statement = Statement.copy_from_pb(json_format.Parse(envelope.payload, statement_pb2.Statement()))
    statement.validate()
    body = json.loads(envelope.payload)
    subjects = {s["name"]: s["digest"]["sha256"] for s in body["subject"]}
    on_disk = {p.relative_to(bundle).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
               for p in bundle.rglob("*") if p.is_file() and p.name != "attestation.dsse.json"}
    assert subjects == on_disk  # every file, SHA256SUMS included, by name and sha256
    predicate = body["predicate"]
    assert predicate["run"]["run_id"] == "run-1" and predicate["verdict"] == "FAIL"
    assert predicate["scenarios"][0]["verdict"] == "FAIL"
    assert predicate["scenarios"][0]["measurements"][0] == {"name": "RTO", "target_s": 30, "measured_s": 40, "met": False}
    assert predicate["targets"] == {"rto_seconds": 30, "rpo_seconds": 3600}


def test_the_library_rejects_a_payload_changed_after_signing(bundle: Path) -> None:
    data = json.loads((bundle / "attestation.dsse.json").read_text())
    body = json.loads(base64.b64decode(data["payload"]))
    body["predicate"]["verdict"] = "PASS"
    data["payload"] = base64.b64encode(json.dumps(body).encode()).decode()

    with pytest.raises(VerificationError):
        Envelope.from_dict(copy.deepcopy(data)).verify([_library_key(KEY.public)], 1)  # from_dict edits its input
    (bundle / "attestation.dsse.json").write_text(json.dumps(data))
    report = verify_bundle(bundle, trusted_keys=[KEY.public])
    assert f"signature: the signature by key {KEY.key_id} does not match the envelope's payload" in report.problems


def test_the_harness_names_a_signed_statement_that_no_longer_matches_the_files(bundle: Path) -> None:
    (bundle / "summary.md").write_text("# all good\n")
    (bundle / integrity.SUMS).write_text(integrity.render_sums(bundle))

    report = verify_bundle(bundle, trusted_keys=[KEY.public])

    assert any(p.startswith("signature: attestation.dsse.json: summary.md has sha256 ") for p in report.problems)
    assert report.signature == "INVALID"


def test_a_bundle_signed_before_dsse_envelopes_still_verifies(tmp_path: Path, bundle: Path) -> None:
    """What `build_bundle` wrote before: run.json without a signature format, SHA256SUMS.sig beside SHA256SUMS."""
    run = json.loads((bundle / integrity.RUN_JSON).read_text())
    for field in ("signature_format", "raw_observations", "clock_sources"):
        run.pop(field, None)
    (bundle / integrity.RUN_JSON).write_text(json.dumps(run, indent=2, sort_keys=True) + "\n")
    seal(bundle, None)
    (bundle / integrity.SIGNATURE).write_text(
        integrity.signature_text((bundle / integrity.SUMS).read_bytes(), load_private_key(KEY.private_pem)))

    report = verify_bundle(bundle, trusted_keys=[KEY.public], recompute=True)

    assert report.ok, report.problems
    assert report.signature == f"valid (signed by evidence key {KEY.key_id}; SHA256SUMS.sig, made before DSSE envelopes)"


def test_an_envelope_swapped_for_an_old_style_signature_is_a_stripped_signature(bundle: Path) -> None:
    (bundle / "attestation.dsse.json").unlink()
    (bundle / integrity.SIGNATURE).write_text(
        integrity.signature_text((bundle / integrity.SUMS).read_bytes(), load_private_key(KEY.private_pem)))

    report = verify_bundle(bundle, trusted_keys=[KEY.public])

    assert report.problems == ((f"stripped signature: attestation.dsse.json is missing (only a SHA256SUMS.sig, which "
                               f"this bundle was not signed with), but run.json says the bundle was signed with it "
                               f"(key {KEY.key_id})"),)
