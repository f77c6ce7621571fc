"""Verify a backup in levels, cheapest first, stopping at the first failure.

header → checksum → rdb_check → load → key_count → sample_digests → canary.
Checks after a failure are reported as "not run"; checks that need a manifest
are "skipped (legacy, no manifest)" for the runbook's old backups. The outcome
is written as `verifications/redis/YYYY/MM/DD/<id>.verify.json` (layout.verify_key), a
prefix only the verifier's credentials may write; restore requires it.

A record is believed only when a configured verifier public key signed it
(`trusted_verification`); with none configured — the default — no record is, and
the backup is verified again before it is relied on. Records are read from
`verifications/` only, never from beside the backup.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from harness import __version__
from harness.backup import layout
from harness.backup.background_load import BackgroundLoad
from harness.backup.catalog import find_backup, read_manifest
from harness.backup.dataset import canary_present, db_client, decode_key, key_digest
from harness.backup.manifest import Manifest
from harness.backup.rdb import HeaderInvalid, read_header
from harness.backup.store import BackupStore
from harness.errors import AuthFailed, ConnectionFailed, DrillError, StoreError
from harness.redaction import child_environment
from harness.redis_process import RedisLoadFailed, ScratchRedis
from harness.signing import SIGNATURE_FIELD, record_trust, sign_record, signer_from_env

CHECKS = ("header", "checksum", "rdb_check", "load", "key_count", "sample_digests", "canary")
LEGACY_SKIP = "skipped (legacy, no manifest)"
Status = Literal["passed", "failed", "skipped", "not run"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckResult:
    """One verification level: `passed` is False only for failed and not-run checks."""

    name: str
    passed: bool
    reason: str
    seconds: float
    status: Status = "passed"

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "status": self.status, "passed": self.passed,
                "reason": self.reason, "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class VerificationReport:
    backup_id: str
    layout: str
    location: str
    checks: tuple[CheckResult, ...]
    sha256: str | None
    size: int | None
    min_keys: int
    verified_at: datetime
    version_id: str | None = None
    download_seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return all(c.status in ("passed", "skipped") for c in self.checks)

    @property
    def failed_check(self) -> CheckResult | None:
        return next((c for c in self.checks if c.status == "failed"), None)

    def to_json(self) -> dict[str, object]:
        failed = self.failed_check
        return {
            "schema_version": 1,
            "backup_id": self.backup_id,
            "layout": self.layout,
            "location": self.location,
            "passed": self.passed,
            "failed_check": failed.name if failed else None,
            "sha256": self.sha256,
            "version_id": self.version_id,
            "size": self.size,
            "min_keys": self.min_keys,
            "verified_at": self.verified_at.isoformat(),
            "tool_version": __version__,
            "checks": [c.to_json() for c in self.checks],
        }


#: a record's trust where no verifier public key is configured: then no record is trusted
NO_VERIFIER_KEY = "no verifier key configured (verifier_public_keys), so no record is trusted"
#: the one line a caller says once per run when `TrustedVerification.no_verifier_key` (not once per backup)
NO_VERIFIER_KEY_NOTICE = ("no verifier key is configured (verifier_public_keys): verification records are not "
                          "trusted, backups are verified again before they are relied on — `sentinel-drill keys "
                          "generate` makes a pair (docs/backups.md)")


@dataclass(frozen=True)
class VerifyRecord:
    """What restore needs from `<id>.verify.json`: `passed` only when it says so and is trusted."""

    backup_id: str
    passed: bool
    failed_check: str | None
    sha256: str | None
    verified_at: str
    version_id: str | None = None
    trust: str = NO_VERIFIER_KEY
    key: str = ""
    says_passed: bool = False  # what the record itself claims, trusted or not


class _Failed(Exception):
    pass


class _Skipped(Exception):
    pass


@dataclass
class _State:
    rdb: Path
    manifest: Manifest | None
    legacy: bool
    min_keys: int
    stack: ExitStack
    scratch: ScratchRedis | None = None
    load: BackgroundLoad | None = None
    #: a level's own duration where it ran beside another one (the load runs during rdb_check)
    own_seconds: dict[str, float] = field(default_factory=dict)


def verify_backup(
    store: BackupStore, backup_id: str, *, min_keys: int, work_dir: Path | None = None, record: bool = True
) -> VerificationReport:
    """Run every level against the backup `backup_id`; write its record (layout.verify_key) when `record`.

    Returns the report (check `.passed`); raises only for store or harness errors
    (StoreError, ConnectionFailed, AuthFailed, DrillError), never for a bad backup. Credentials that
    may not write under `verifications/` (the backup job's) raise AuthFailed naming the policy.
    """
    entry = find_backup(store, backup_id)
    legacy = entry.layout == "legacy"
    manifest_error: str | None = None
    manifest: Manifest | None = None
    if entry.has_manifest:
        try:
            manifest = read_manifest(store, backup_id)
        except StoreError as exc:
            manifest_error = exc.message
    elif not legacy:
        manifest_error = f"manifest {layout.manifest_key(backup_id)} is missing (incomplete upload?)"
    results: list[CheckResult] = []
    sha256: str | None = None
    size: int | None = None
    version_id: str | None = None
    download_seconds = 0.0
    with tempfile.TemporaryDirectory(prefix="drill-verify-", dir=work_dir) as tmp, ExitStack() as stack:
        rdb = Path(tmp) / "backup.rdb"
        if entry.rdb_key is not None:
            t = time.monotonic()
            fetched = store.get_file_hashed(entry.rdb_key, rdb)  # hashed while written: no second read
            version_id, size, sha256 = fetched.version_id, fetched.size, fetched.sha256
            download_seconds = time.monotonic() - t
        state = _State(rdb, manifest, legacy, min_keys, stack)
        steps: list[tuple[str, Callable[[_State], str]]] = [
            ("header", _header if entry.rdb_key else _missing_rdb),
            ("checksum", _checksum_with(manifest_error, sha256, size)),
            ("rdb_check", _rdb_check),
            ("load", _load),
            ("key_count", _key_count),
            ("sample_digests", _sample_digests),
            ("canary", _canary),
        ]
        failed = False
        for name, step in steps:
            if failed:
                results.append(CheckResult(name, False, "not run (an earlier check failed)", 0.0, "not run"))
                continue
            t = time.monotonic()
            try:
                reason, status = step(state), "passed"
            except _Skipped as exc:
                reason, status = str(exc), "skipped"
            except _Failed as exc:
                reason, status, failed = str(exc), "failed", True
            seconds = state.own_seconds.get(name, time.monotonic() - t)
            results.append(CheckResult(name, status != "failed", reason, seconds, status))  # type: ignore[arg-type]
    report = VerificationReport(
        backup_id=backup_id,
        layout=entry.layout,
        location=store.location(entry.rdb_key or layout.rdb_key(backup_id)),
        checks=tuple(results),
        sha256=sha256,
        size=size,
        min_keys=min_keys,
        verified_at=datetime.now(UTC),
        version_id=version_id,
        download_seconds=download_seconds,
    )
    if record:
        body = report.to_json()
        signer = signer_from_env()  # the verification job's key; never the backup job's
        if signer is not None:
            body = sign_record(body, signer)
        if signer is None and _signed_record_exists(store, layout.verify_key(backup_id)):
            log.info("kept the signed verification record of %s: an unsigned one never replaces it", backup_id)
        else:
            _write_record(store, layout.verify_key(backup_id), json.dumps(body, indent=2).encode() + b"\n")
    return report


def _signed_record_exists(store: BackupStore, key: str) -> bool:
    """A drill verifying again without the verifier's key must not turn a signed record into an unsigned one."""
    try:
        if not store.exists(key):
            return False
        return isinstance(json.loads(store.get_bytes(key)).get(SIGNATURE_FIELD), dict)
    except AuthFailed:
        return False  # these credentials may not read verifications/ either: the write says so in one line
    except (ValueError, AttributeError):
        return False


def _write_record(store: BackupStore, key: str, data: bytes) -> None:
    try:
        store.put_bytes(key, data)
    except AuthFailed as exc:
        raise AuthFailed(
            f"cannot write the verification record {store.location(key)}: the store refused these credentials "
            f"under {layout.VERIFICATIONS_PREFIX} ({exc.message})",
            fix="run verify with the verifier's credentials (deploy/iam/backup-verifier.json); the backup "
                "job's (deploy/iam/backup-writer.json) may not write verifications/ by design",
        ) from None


def read_verify_record(store: BackupStore, backup_id: str, *,
                       trusted_keys: Sequence[str] = ()) -> VerifyRecord | None:
    """The stored verification outcome from `verifications/`, None when there is none there.

    A record counts as passed only when one of `trusted_keys` (the configuration's verifier
    public keys) signed it; with no key configured, none does. An untrusted record's
    `failed_check` says why, and callers verify again (`trusted_verification`). A record beside
    the backup (layout.stray_verify_key) is never read.
    """
    key = layout.verify_key(backup_id)
    if not store.exists(key):
        return None
    try:
        data = json.loads(store.get_bytes(key))
        trusted, trust = record_trust(data, trusted_keys) if trusted_keys else (False, NO_VERIFIER_KEY)
        says_passed = data["passed"] is True and data["backup_id"] == backup_id
        return VerifyRecord(
            backup_id=str(data["backup_id"]),
            passed=says_passed and trusted,
            failed_check=data.get("failed_check") if trusted else f"{UNTRUSTED}: {trust}",
            sha256=data.get("sha256"),
            verified_at=str(data.get("verified_at", "")),
            version_id=data.get("version_id"),
            trust=trust,
            key=key,
            says_passed=says_passed,
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return VerifyRecord(backup_id, False, f"unreadable verify record {key}", None, "", key=key)


def _missing_rdb(state: _State) -> str:
    raise _Failed("the RDB object is missing (only a manifest is in the store)")


def _header(state: _State) -> str:
    try:
        header = read_header(state.rdb)
    except HeaderInvalid as exc:
        raise _Failed(str(exc)) from None
    writer = header.aux.get("redis-ver", "unknown")
    return f"RDB version {header.version}, written by Redis {writer}"


def _checksum_with(manifest_error: str | None, sha256: str | None, size: int | None) -> Callable[[_State], str]:
    def check(state: _State) -> str:
        if state.legacy:
            raise _Skipped(f"{LEGACY_SKIP}; sha256 of the file is {sha256}")
        if manifest_error or state.manifest is None:
            raise _Failed(manifest_error or "manifest is missing")
        m = state.manifest
        if size != m.size:
            raise _Failed(f"size is {size} bytes, the manifest says {m.size}")
        if sha256 != m.sha256:
            raise _Failed(f"sha256 is {sha256}, the manifest says {m.sha256}")
        return f"sha256 {sha256[:16]}… and size {size} bytes match the manifest"

    return check


def rdb_check_problem(rdb: Path, *, timeout: float = 600.0) -> str | None:
    """Run `redis-check-rdb`; None when the file is sound, else the line naming the problem."""
    binary = shutil.which("redis-check-rdb")
    if not binary:
        raise DrillError("redis-check-rdb is not installed", fix="install redis-tools (`make setup`)")
    try:
        proc = subprocess.run(
            [binary, str(rdb)], capture_output=True, text=True, errors="replace", timeout=timeout,
            env=child_environment(), check=False,
        )
    except subprocess.TimeoutExpired:
        return f"redis-check-rdb did not finish within {timeout:.0f}s"
    if proc.returncode == 0:
        return None
    return f"redis-check-rdb exit {proc.returncode}: {_rdb_error((proc.stdout + proc.stderr).splitlines())}"


def _rdb_check(state: _State) -> str:
    # the scratch load (next level) starts now and runs beside redis-check-rdb; if the check fails, the
    # load is stopped and reported "not run", so a corrupt file is still named by redis-check-rdb first
    state.load = BackgroundLoad(state.rdb)
    state.stack.callback(state.load.close)
    problem = rdb_check_problem(state.rdb)
    if problem:
        raise _Failed(problem)
    return "redis-check-rdb: RDB looks OK"


def _rdb_error(lines: list[str]) -> str:
    """The line that names the problem and its offset, after redis-check-rdb's error banner."""
    after = lines[lines.index("--- RDB ERROR DETECTED ---") + 1 :] if "--- RDB ERROR DETECTED ---" in lines else lines
    for line in after:
        if line.startswith("[offset") or "error" in line.lower() or "checksum" in line.lower():
            return line.strip()
    return " | ".join(line.strip() for line in after[-3:]) or "no output"


def _load(state: _State) -> str:
    assert state.load is not None  # started by _rdb_check
    try:
        state.scratch = state.load.wait()
    except (RedisLoadFailed, ConnectionFailed) as exc:
        raise _Failed(exc.message) from None
    finally:
        state.own_seconds["load"] = state.load.seconds
    return f"redis-server loaded the file in {state.load.seconds:.2f}s (beside redis-check-rdb)"


def _key_count(state: _State) -> str:
    assert state.scratch is not None
    info = db_client(state.scratch, 0).info("persistence")
    loaded = int(info.get("rdb_last_load_keys_loaded", 0))
    expired = int(info.get("rdb_last_load_keys_expired", 0))
    in_file = loaded + expired
    if loaded < state.min_keys:
        raise _Failed(f"{loaded} live keys loaded, fewer than the minimum {state.min_keys} (--min-keys)")
    if state.legacy or state.manifest is None:
        return f"{loaded} keys loaded (≥ {state.min_keys}); count vs manifest {LEGACY_SKIP}"
    if in_file != state.manifest.key_count:
        raise _Failed(f"the file holds {in_file} keys ({loaded} loaded + {expired} expired), "
                      f"the manifest says {state.manifest.key_count}")
    return f"{in_file} keys as in the manifest ({loaded} live, {expired} expired since; ≥ {state.min_keys})"


def _sample_digests(state: _State) -> str:
    if state.legacy or state.manifest is None:
        raise _Skipped(LEGACY_SKIP)
    assert state.scratch is not None
    now_ms = int(time.time() * 1000)
    checked = expired = 0
    for sample in state.manifest.samples:
        client = db_client(state.scratch, sample.db)
        key = decode_key(sample.key)
        gone_by_ttl = sample.expires_at_ms is not None and sample.expires_at_ms <= now_ms + 1000
        if not client.exists(key):
            if gone_by_ttl:
                expired += 1
                continue
            raise _Failed(f"sampled key {sample.key!r} (db {sample.db}) is missing")
        digest = key_digest(client, key, sample.type)
        if digest != sample.digest:
            raise _Failed(f"sampled key {sample.key!r} (db {sample.db}, {sample.type}) differs from the manifest")
        checked += 1
    note = f" ({expired} expired since the backup)" if expired else ""
    return f"{checked} of {len(state.manifest.samples)} sampled keys match their digests{note}"


def _canary(state: _State) -> str:
    if state.legacy or state.manifest is None:
        raise _Skipped(LEGACY_SKIP)
    high = state.manifest.canary_high_water
    if high is None:
        raise _Skipped("skipped (no canary was in the source when the backup was taken)")
    assert state.scratch is not None
    if not canary_present(db_client(state.scratch, 0), high):
        raise _Failed(f"canary {high} (the manifest's high-water mark) is not in the loaded data")
    return f"canary {high} present"



UNTRUSTED = "untrusted record"


@dataclass(frozen=True)
class TrustedVerification:
    """What a restore may rely on: the stored record, or (when that record is untrusted) a verification run now.

    `no_verifier_key` is set when the record was not trusted only because no verifier key is
    configured: a caller says so once per run (NO_VERIFIER_KEY_NOTICE), not once per backup.
    `ignored_record` names a record found only beside the backup, which is never read.
    """

    record: VerifyRecord | None
    again: VerificationReport | None = None
    no_verifier_key: bool = False
    ignored_record: str | None = None

    @property
    def passed(self) -> bool:
        return self.again.passed if self.again is not None else self.record is not None and self.record.passed

    @property
    def sha256(self) -> str | None:
        return self.again.sha256 if self.again is not None else self.record.sha256 if self.record else None

    @property
    def version_id(self) -> str | None:
        return self.again.version_id if self.again is not None else self.record.version_id if self.record else None

    def why_not(self) -> str:
        """Why it does not pass, as the rest of "backup <id> …"."""
        if self.record is None:
            ignored = (f" (a record beside the backup, {self.ignored_record}, is ignored: records are read from "
                       f"{layout.VERIFICATIONS_PREFIX} only)" if self.ignored_record else "")
            return f"has never been verified{ignored}"
        failed = self.record.failed_check or "unknown check"
        if self.again is not None:
            check = self.again.failed_check
            failed += f"; verified again: failed at {check.name if check else '?'}"
        return f"failed verification ({failed})"


def trusted_verification(store: BackupStore, backup_id: str, *, trusted_keys: Sequence[str],
                         min_keys: int = 0) -> TrustedVerification:
    """The record if it can be trusted; where it cannot (no verifier key configured, or the record unsigned
    or signed by another key), the backup verified again now (nothing written) instead.

    Without a record under verifications/ nothing is verified here (the caller decides); a record
    found only beside the backup is named in `ignored_record`.
    """
    record = read_verify_record(store, backup_id, trusted_keys=trusted_keys)
    if record is None:
        stray = layout.stray_verify_key(backup_id)
        return TrustedVerification(None, ignored_record=stray if store.exists(stray) else None)
    if not record.passed and (record.failed_check or "").startswith(UNTRUSTED):
        again = verify_backup(store, backup_id, min_keys=min_keys, record=False)
        return TrustedVerification(record, again, no_verifier_key=not trusted_keys)
    return TrustedVerification(record)
