"""The bundle's signature in a standard envelope: a DSSE envelope over an in-toto Statement.

The Statement's subject is every file of the bundle (name + sha256, SHA256SUMS
itself included); its predicate is the run's identity, verdicts and targets. It
is built with `in-toto-attestation` and signed and checked with
`securesystemslib`'s DSSE `Envelope` and Ed25519 signer, with the pipeline's
evidence key (DRILL_EVIDENCE_SIGNING_KEY), so any DSSE/in-toto tool can verify
a bundle without this project's code (docs/evidence.md shows how). The
envelope's `keyid` is the key id run.json and every message name: the first 16
hex digits of the sha256 of the base64 public key. Bundles signed before this
(`SHA256SUMS.sig`) are still verified by `verify.py`.

The libraries are imported inside the functions: they cost a CLI start-up
≈ 0.2 s that only signing and verifying should pay.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.evidence.integrity import ATTESTATION, SUMS
from harness.measure.observations import TARGET_SETTINGS
from harness.signing import key_id, load_public_key, public_key_text

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://sentinel-drill.dev/attestation/dr-drill-evidence/v1"
#: the run.json fields that identify the run in the predicate
RUN_IDENTITY = ("run_id", "target", "label", "context", "namespace", "created_at", "started_at", "ended_at",
                "operator", "host", "git_sha", "git_dirty", "config_sha256", "sequence", "previous", "signing_key_id")
_MEASUREMENT_FIELDS = ("name", "target_s", "measured_s", "met")


def predicate(run: Mapping[str, Any]) -> dict[str, Any]:
    """What the envelope states about the run: identity, verdicts (with their measurements) and targets."""
    config = run.get("config") or {}
    return {
        "run": {name: run.get(name) for name in RUN_IDENTITY},
        "verdict": run.get("verdict"),
        "scenarios": [{"name": s.get("name"), "key": s.get("key"), "case": s.get("case"), "verdict": s.get("verdict"),
                       "reason": s.get("reason"),
                       "measurements": [{f: m.get(f) for f in _MEASUREMENT_FIELDS} for m in s.get("measurements") or ()]}
                      for s in run.get("scenarios") or ()],
        "targets": {name: config[name] for name in TARGET_SETTINGS if name in config},
    }


def subjects(sums: Mapping[str, str], sums_sha256: str) -> dict[str, str]:
    """{name: sha256} of every file the statement covers: those SHA256SUMS lists, and SHA256SUMS."""
    return {**sums, SUMS: sums_sha256}


def _statement(files: Mapping[str, str], run: Mapping[str, Any]) -> dict[str, Any]:
    """The in-toto Statement v1 as a JSON-ready dict (built and validated by the in-toto library)."""
    from google.protobuf import json_format
    from in_toto_attestation.v1.resource_descriptor import ResourceDescriptor
    from in_toto_attestation.v1.statement import Statement

    statement = Statement([ResourceDescriptor(name=name, digest={"sha256": digest}).pb
                           for name, digest in sorted(files.items())], PREDICATE_TYPE, predicate(run))
    statement.validate()
    return dict(json_format.MessageToDict(statement.pb))


def statement_payload(files: Mapping[str, str], run: Mapping[str, Any]) -> bytes:
    """The envelope's payload: the Statement as compact JSON with sorted keys."""
    return json.dumps(_statement(files, run), sort_keys=True, separators=(",", ":")).encode()


def envelope_text(files: Mapping[str, str], run: Mapping[str, Any], key: Ed25519PrivateKey) -> str:
    """`attestation.dsse.json`: the DSSE envelope (payload, payloadType, signatures) signed with `key`."""
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import CryptoSigner

    envelope = Envelope(statement_payload(files, run), PAYLOAD_TYPE, {})
    envelope.sign(CryptoSigner(key, dsse_key(public_key_text(key.public_key()))))
    return json.dumps(envelope.to_dict(), indent=2, sort_keys=True) + "\n"


def dsse_key(public_text: str) -> Any:
    """An evidence public key (base64) as securesystemslib's key, under the project's key id."""
    from securesystemslib.signer import SSlibKey

    return SSlibKey.from_crypto(load_public_key(public_text), keyid=key_id(public_text))


@dataclass(frozen=True)
class Checked:
    """What checking an envelope found: `signed_by` is the project key id when a trusted key verified it."""

    statement: dict[str, Any] | None
    signer_ids: tuple[str, ...]
    signed_by: str | None
    problem: str | None


def check_envelope(text: str, trusted: Sequence[str]) -> Checked:
    """Parse the envelope and, with `trusted` keys, verify its signature with securesystemslib."""
    from securesystemslib.dsse import Envelope
    from securesystemslib.exceptions import VerificationError

    try:
        envelope = Envelope.from_dict(json.loads(text))
        statement = json.loads(envelope.payload)
    except (ValueError, KeyError, TypeError) as exc:
        return Checked(None, (), None, f"{ATTESTATION} is not a DSSE envelope ({exc.__class__.__name__}: {exc})")
    signer_ids = tuple(envelope.signatures)
    if envelope.payload_type != PAYLOAD_TYPE or not isinstance(statement, dict):
        return Checked(None, signer_ids, None, f"{ATTESTATION}: payload type {envelope.payload_type!r} is not an "
                                               f"in-toto statement ({PAYLOAD_TYPE})")
    if not trusted:
        return Checked(statement, signer_ids, None, None)
    keys = {key_id(k): k for k in trusted}
    known = [keys[i] for i in signer_ids if i in keys]
    if not known:
        return Checked(statement, signer_ids, None, f"signed by key {', '.join(signer_ids) or 'none'}, which is not "
                                                    "a configured evidence key")
    try:
        accepted = envelope.verify([dsse_key(k) for k in known], 1)
    except VerificationError:
        ours = ", ".join(key_id(k) for k in known)
        return Checked(statement, signer_ids, None, f"the signature by key {ours} does not match the envelope's "
                                                    "payload")
    return Checked(statement, signer_ids, next(iter(accepted)), None)


def statement_problems(statement: Mapping[str, Any], files: Mapping[str, str], run: Mapping[str, Any]) -> list[str]:
    """How the signed Statement disagrees with the bundle on disk: its subjects and its predicate."""
    from google.protobuf import json_format
    from in_toto_attestation.v1 import statement_pb2
    from in_toto_attestation.v1.statement import Statement

    problems: list[str] = []
    try:
        parsed = Statement.copy_from_pb(json_format.ParseDict(dict(statement), statement_pb2.Statement()))  # type: ignore[attr-defined]
        parsed.validate()
    except (json_format.ParseError, ValueError) as exc:
        return [f"{ATTESTATION}: not a valid in-toto Statement ({exc})"]
    if statement.get("predicateType") != PREDICATE_TYPE:
        problems.append(f"{ATTESTATION}: predicate type {statement.get('predicateType')!r} is not {PREDICATE_TYPE}")
    signed = {str(s.get("name")): str((s.get("digest") or {}).get("sha256")) for s in statement.get("subject") or ()}
    for name in sorted(set(signed) | set(files)):
        if name not in files:
            problems.append(f"{ATTESTATION}: subject {name} is not in the bundle")
        elif name not in signed:
            problems.append(f"{ATTESTATION}: {name} is in the bundle but not a subject of the signed statement")
        elif signed[name] != files[name]:
            problems.append(f"{ATTESTATION}: {name} has sha256 {files[name][:16]}…, the signed statement says "
                            f"{signed[name][:16]}…")
    if statement.get("predicate") != _statement(files, run).get("predicate"):
        problems.append(f"{ATTESTATION}: the signed predicate (run identity, verdicts, targets) differs from run.json")
    return problems


def sums_sha256(sums: bytes) -> str:
    return hashlib.sha256(sums).hexdigest()
