"""`evidence verify`: recompute everything a bundle claims and name the first thing that differs.

Checks, in order: every file against SHA256SUMS (altered, missing, extra), the
run document (run id, config hash, summary.md and metrics.prom re-rendered from
it), the chain link to the previous bundle when it sits in the same parent
directory, the signature against the configured public keys, and the drill's
wall clock against the store's (clock_check.py). With `recompute`, every
scenario's figures and verdict are then derived again from its raw observations
(recompute.py) and each difference is a problem.
`chain.py` checks a whole directory of bundles, first to newest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import CheckFailed, UsageError
from harness.evidence import attestation, integrity, provenance
from harness.evidence.bundle import SCHEMA
from harness.evidence.clock_check import DEFAULT_CLOCK_TOLERANCE_S, check_clocks
from harness.evidence.label import evidence_label
from harness.evidence.metrics import render_metrics
from harness.evidence.recompute import recompute_run
from harness.evidence.summary import render_summary
from harness.safe_paths import UnsafeName, path_under
from harness.signing import signature_trust


@dataclass(frozen=True)
class VerifyReport:
    """What verification found: problems fail it, notes only inform."""

    bundle: Path
    files_checked: int
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    chain: str = "not checked"
    signature: str = "not checked"
    recomputed: str = "not asked"
    clock: str = "not checked"

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"bundle": str(self.bundle), "ok": self.ok, "files_checked": self.files_checked,
                "problems": list(self.problems), "notes": list(self.notes), "chain": self.chain,
                "signature": self.signature, "recomputed": self.recomputed, "clock": self.clock}


def _regular(bundle: Path, name: str) -> bool:
    """`name` is a regular file of the bundle (not a link to one elsewhere, not a device)."""
    try:
        return path_under(bundle, name, what="bundle file").is_file()
    except UnsafeName:
        return False


def _read_bytes(bundle: Path, name: str) -> bytes:
    """A bundle file's bytes, read only when it is a regular file below the bundle (else OSError)."""
    try:
        return path_under(bundle, name, what="bundle file").read_bytes()
    except UnsafeName as exc:
        raise OSError(exc.message) from None


def _read_text(bundle: Path, name: str) -> str:
    return _read_bytes(bundle, name).decode(errors="replace")


@dataclass
class _Findings:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    chain: str = "not checked"
    signature: str = "not checked"


def _check_files(bundle: Path, found: _Findings) -> tuple[int, bool]:
    """Compare the files on disk with SHA256SUMS; return (files checked, run.json intact).

    Every name, listed or found, is read only through `path_under`: a name that leads outside
    the bundle, or a file that is a link or a device, is a problem and is never read.
    """
    sums, malformed = integrity.parse_sums(_read_text(bundle, integrity.SUMS))
    for line in malformed:
        found.problems.append(f"{integrity.SUMS}: malformed or duplicate line {line!r}")
    on_disk = integrity.bundle_files(bundle)
    bad: set[str] = set()
    for rel in sorted(set(sums) | set(on_disk)):
        try:
            path_under(bundle, rel, what="bundle file")
        except UnsafeName as exc:
            found.problems.append(exc.message)
            bad.add(rel)
            continue
        if rel not in on_disk:
            found.problems.append(f"missing: {rel} is listed in {integrity.SUMS} but not in the bundle")
        elif rel not in sums:
            found.problems.append(f"extra: {rel} is in the bundle but not listed in {integrity.SUMS}")
        elif integrity.sha256_file(bundle / rel) != sums[rel]:
            found.problems.append(f"altered: {rel} does not match its sha256 in {integrity.SUMS}")
        else:
            continue
        bad.add(rel)
    return len(on_disk), integrity.RUN_JSON in sums and integrity.RUN_JSON not in bad


def _check_run(bundle: Path, run: Mapping[str, Any], found: _Findings) -> None:
    """The run document agrees with itself and with the files rendered from it."""
    if run.get("run_id") != bundle.name:
        found.problems.append(f"run.json: run_id {run.get('run_id')!r} does not match directory {bundle.name!r}")
    if provenance.config_sha256(run.get("config") or {}) != run.get("config_sha256"):
        found.problems.append("run.json: config_sha256 does not match its config")
    if "label" in run and run["label"] != evidence_label(run.get("target")):
        found.problems.append(f"run.json: label {run['label']!r} is not the one target {run.get('target')!r} "
                              f"carries ({evidence_label(run.get('target'))!r})")
    if run.get("schema") != SCHEMA:
        found.notes.append(f"run.json schema {run.get('schema')!r} is not {SCHEMA!r}: rendered files not compared")
        return
    for name, render in (("summary.md", render_summary), ("metrics.prom", render_metrics)):
        if _regular(bundle, name) and _read_text(bundle, name) != render(run):
            found.problems.append(f"{name} does not match what run.json renders to")


def _check_chain(bundle: Path, run: Mapping[str, Any], found: _Findings) -> None:
    if not _regular(bundle, integrity.PREVIOUS):
        found.problems.append(f"missing: {integrity.PREVIOUS} (the link to the previous bundle)")
        found.chain = "broken"
        return
    try:
        link = integrity.parse_previous(_read_text(bundle, integrity.PREVIOUS))
    except ValueError as exc:
        found.problems.append(f"{integrity.PREVIOUS}: {exc}")
        found.chain = "broken"
        return
    recorded = run.get("previous")
    if run and (recorded or None) != ({"run_id": link[0], "sha256": link[1]} if link else None):
        found.problems.append(f"run.json's previous does not agree with the {integrity.PREVIOUS} file")
    if link is None:
        found.chain = "first bundle of its chain"
        return
    run_id, expected = link
    try:
        sums = path_under(bundle.parent, f"{run_id}/{integrity.SUMS}", what=f"previous bundle in {integrity.PREVIOUS}")
    except UnsafeName as exc:
        found.problems.append(exc.message)
        found.chain = "broken"
        return
    if not sums.is_file():
        found.notes.append(f"previous bundle {run_id} is not in {bundle.parent}: chain link not checked")
        found.chain = f"links to {run_id} (not present)"
        return
    actual = integrity.sha256_file(sums)
    if actual != expected:
        found.problems.append(
            f"broken chain: {run_id}/{integrity.SUMS} has sha256 {actual[:16]}…, "
            f"but this bundle recorded {expected[:16]}… — the previous bundle was changed after this one was made"
        )
        found.chain = "broken"
    else:
        found.chain = f"links to {run_id} (intact)"


def _check_signature(bundle: Path, run: Mapping[str, Any], trusted: Sequence[str], found: _Findings) -> None:
    """The bundle's signature (the DSSE attestation, or an older SHA256SUMS.sig), judged against the configured keys."""
    if _regular(bundle, integrity.LEGACY_HMAC):
        found.notes.append(f"{integrity.LEGACY_HMAC}: an HMAC from before Ed25519 signatures; not checked "
                           "(whoever can check it can forge it)")
    for name in (integrity.ATTESTATION, integrity.SIGNATURE):
        try:
            path_under(bundle, name, what="bundle file")
        except UnsafeName as exc:
            found.problems.append(exc.message)
            found.signature = "INVALID"
            return
    if _regular(bundle, integrity.ATTESTATION):
        _check_attestation(bundle, run, trusted, found)
        return
    if run.get("signature_format") == integrity.DSSE_FORMAT:
        legacy = f" (only a {integrity.SIGNATURE}, which this bundle was not signed with)" if _regular(
            bundle, integrity.SIGNATURE) else ""
        found.problems.append(f"stripped signature: {integrity.ATTESTATION} is missing{legacy}, but run.json says "
                              f"the bundle was signed with it (key {run.get('signing_key_id')})")
        found.signature = "missing (stripped)"
        return
    if not _regular(bundle, integrity.SIGNATURE):
        if run.get("signed"):
            found.problems.append(f"stripped signature: {integrity.SIGNATURE} is missing, but run.json says "
                                  f"the bundle was signed (key {run.get('signing_key_id')})")
            found.signature = "missing (stripped)"
        elif trusted:
            found.problems.append(f"not signed: no {integrity.ATTESTATION} (nor an older {integrity.SIGNATURE}), but "
                                  "evidence public keys are configured, so the bundle cannot be authenticated")
            found.signature = "absent"
        else:
            found.signature = "unsigned"
        return
    _check_legacy_signature(bundle, trusted, found)


def _check_attestation(bundle: Path, run: Mapping[str, Any], trusted: Sequence[str], found: _Findings) -> None:
    """The DSSE envelope: its signature by a configured key, and its Statement against the files and run.json."""
    checked = attestation.check_envelope(_read_text(bundle, integrity.ATTESTATION), trusted)
    if checked.statement is None:
        found.problems.append(f"signature: {checked.problem}")
        found.signature = "INVALID"
        return
    sums = _read_bytes(bundle, integrity.SUMS)
    files = attestation.subjects(integrity.parse_sums(sums.decode(errors="replace"))[0],
                                 attestation.sums_sha256(sums))
    mismatches = attestation.statement_problems(checked.statement, files, run)
    found.problems.extend(f"signature: {p}" for p in mismatches)
    if not trusted:
        found.notes.append(f"signed (DSSE envelope, key {', '.join(checked.signer_ids) or 'none'}; run.json names "
                           f"evidence key {run.get('signing_key_id')}), but no evidence public key is configured "
                           f"({integrity.PUBLIC_KEYS_ENV} or evidence_public_keys): signature not checked")
        found.signature = "INVALID" if mismatches else "present, not checked (no public key)"
        return
    if checked.problem:
        found.problems.append(f"signature: {checked.problem}")
        found.signature = "INVALID"
        return
    found.signature = "INVALID" if mismatches else (
        f"valid (DSSE envelope: in-toto statement of {len(files)} files, signed by evidence key {checked.signed_by})")


def _check_legacy_signature(bundle: Path, trusted: Sequence[str], found: _Findings) -> None:
    """A `SHA256SUMS.sig` of a bundle made before DSSE envelopes: Ed25519 over SHA256SUMS."""
    signature = integrity.read_signature(_read_text(bundle, integrity.SIGNATURE))
    if signature is None:
        found.problems.append(f"signature: {integrity.SIGNATURE} is not a signature file")
        found.signature = "INVALID"
        return
    if not trusted:
        found.notes.append(f"signed by key {signature.get('key_id')}, but no evidence public key is configured "
                           f"({integrity.PUBLIC_KEYS_ENV} or evidence_public_keys): signature not checked")
        found.signature = "present, not checked (no public key)"
        return
    ok, why = signature_trust(_read_bytes(bundle, integrity.SUMS), signature, trusted,
                              role="evidence", what="SHA256SUMS")
    if ok:
        found.signature = f"valid ({why}; {integrity.SIGNATURE}, made before DSSE envelopes)"
    else:
        found.problems.append(f"signature: {why}")
        found.signature = "INVALID"


def verify_bundle(bundle: Path, *, trusted_keys: Sequence[str] | None = None, env: Mapping[str, str] | None = None,
                  link: bool = True, recompute: bool = False,
                  clock_tolerance_s: float = DEFAULT_CLOCK_TOLERANCE_S) -> VerifyReport:
    """Recompute the bundle's hashes, run document, chain link and signature (and, with `recompute`, its figures).

    `trusted_keys` (base64 Ed25519 public keys) default to DRILL_EVIDENCE_PUBLIC_KEYS;
    with none, a signature is reported but not checked. `link=False` leaves the
    link to the previous bundle to the whole-chain check. `recompute` derives every
    scenario's figures and verdict from its raw observations and makes each
    difference from the stated ones a problem. A store-time reading further than
    `clock_tolerance_s` from the drill's wall clock is a problem. Raises UsageError
    when `bundle` is not a bundle; returns a report whose `problems` are empty when intact.
    """
    env = os.environ if env is None else env
    trusted = tuple(trusted_keys) if trusted_keys is not None else integrity.trusted_keys_from_env(env)
    bundle = Path(bundle)
    if not bundle.is_dir():
        raise UsageError(f"{bundle} is not a directory", fix="pass an evidence bundle directory")
    try:
        path_under(bundle, integrity.SUMS, what="bundle file")
    except UnsafeName as exc:
        raise CheckFailed(exc.message, fix="do not trust this bundle; compare it with the copy in the evidence "
                                           "store") from None
    if not _regular(bundle, integrity.SUMS):
        raise CheckFailed(f"{bundle} has no {integrity.SUMS}: it is not an evidence bundle, or it was removed",
                          fix="pass reports/evidence/<run-id>")
    found = _Findings()
    checked, run_intact = _check_files(bundle, found)
    run: dict[str, Any] = {}
    try:
        run = json.loads(_read_text(bundle, integrity.RUN_JSON))
    except (OSError, ValueError):
        if run_intact:
            found.problems.append("run.json is not readable JSON")
    if run:
        _check_run(bundle, run, found)
    if link:
        _check_chain(bundle, run, found)
    _check_signature(bundle, run, trusted, found)
    clocks = check_clocks(bundle, run, tolerance_s=clock_tolerance_s)
    found.problems.extend(clocks.problems)
    found.notes.extend(clocks.notes)
    recomputed = "not asked"
    if recompute:
        result = recompute_run(bundle, run)
        found.problems.extend(result.problems)
        found.notes.extend(result.notes)
        recomputed = result.summary() if result.scenarios else "nothing recomputed"
    return VerifyReport(bundle, checked, tuple(found.problems), tuple(found.notes), found.chain, found.signature,
                        recomputed, clocks.summary)
