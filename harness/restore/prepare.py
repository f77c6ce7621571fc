"""Prepare a backup for a restore: found, trusted or verified now, the verified object downloaded and checked.

One prepare step for every restore (the CLI's, scenario 3's, scenario 4's from
its quarantine): the backup is refused (RestoreRefused, exit 1) before the
target is touched when its date is one the store contradicts, its RDB version
is one the target cannot load, no trusted passing verification exists (unless
`force`, which is recorded), the downloaded bytes are not the verified object
(its pinned version, its sha256), or the file fails its header, its manifest's
sha256 or redis-check-rdb. A record not signed by a configured verifier key is
not trusted: the backup is verified again now, and the result says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.backup.catalog import BackupEntry, find_backup, read_manifest
from harness.backup.manifest import Manifest
from harness.backup.rdb import HeaderInvalid, read_header
from harness.backup.store import BackupStore
from harness.backup.verify import NO_VERIFIER_KEY_NOTICE, rdb_check_problem, trusted_verification
from harness.errors import RestoreRefused
from harness.restore.compat import check_rdb_loadable


@dataclass(frozen=True)
class PreparedBackup:
    """A backup ready to be written: the file, what proved it, and what was overridden."""

    backup_id: str
    rdb: Path
    sha256: str
    size: int
    manifest: Manifest | None
    #: the sha256 a trusted passing verification recorded (None: forced without one)
    verified_sha256: str | None
    #: why the stored record was not relied on and the backup was verified again now (None: record trusted)
    verified_again: str | None
    force_reason: str | None

    def to_json(self) -> dict[str, object]:
        return {"backup_id": self.backup_id, "rdb_sha256": self.sha256, "rdb_bytes": self.size,
                "verified_again": self.verified_again, "forced": self.force_reason is not None,
                "force_reason": self.force_reason}


def find_restorable(store: BackupStore, backup_id: str) -> BackupEntry:
    """The backup's catalog entry; RestoreRefused when it has no RDB or a date the store contradicts."""
    entry = find_backup(store, backup_id)
    if entry.rdb_key is None:
        raise RestoreRefused(f"backup {backup_id} has no RDB in the store", fix="restore another backup")
    if entry.time_problem:
        raise RestoreRefused(f"backup {backup_id} is refused: {entry.time_problem}",
                             fix="a backup dated after the store received it was planted or mis-named; "
                                 "restore another backup and investigate who wrote it")
    return entry


def _verification(store: BackupStore, entry: BackupEntry, *, force: bool, trusted_keys: Sequence[str]
                  ) -> tuple[str | None, str | None, str | None, str | None]:
    """(sha256 the verifier saw, the object version it verified, why verified again, why forcing)."""
    verification = trusted_verification(store, entry.id, trusted_keys=trusted_keys)
    again = None
    if verification.again is not None and verification.no_verifier_key:
        again = NO_VERIFIER_KEY_NOTICE
    elif verification.again is not None:
        trust = verification.record.trust if verification.record is not None else "no record"
        again = f"record not trusted ({trust}): verified again now"
    if verification.passed:
        return verification.sha256, verification.version_id, again, None
    why = f"backup {entry.id} {verification.why_not()}"
    if not force:
        raise RestoreRefused(why, fix=f"run `sentinel-drill verify {entry.id}` first, or pass --force to override")
    return None, None, again, why


def _check_file(store: BackupStore, entry: BackupEntry, rdb: Path, sha256: str, verified_sha: str | None, *,
                target_version: str, target: str) -> Manifest | None:
    """Integrity checks that apply even with --force: a bad file never reaches the target, nor one the target's
    Redis cannot load. redis-check-rdb is skipped only for the very bytes a trusted verification checked."""
    try:
        header = read_header(rdb)
    except HeaderInvalid as exc:
        raise RestoreRefused(f"backup {entry.id} is not an RDB file: {exc}", fix="restore another backup") from None
    check_rdb_loadable(header.version, target_version, backup=entry.id, target=target,
                       written_by=header.aux.get("redis-ver"))
    if verified_sha and sha256 != verified_sha:
        raise RestoreRefused(
            f"backup {entry.id} changed since it was verified (sha256 {sha256[:16]}… vs {verified_sha[:16]}…)",
            fix=f"verify it again with `sentinel-drill verify {entry.id}`",
        )
    manifest = read_manifest(store, entry.id) if entry.has_manifest else None
    if manifest is not None and sha256 != manifest.sha256:
        raise RestoreRefused(f"backup {entry.id} does not match its manifest's sha256", fix="restore another backup")
    problem = None if verified_sha else rdb_check_problem(rdb)
    if problem:
        raise RestoreRefused(f"backup {entry.id} fails redis-check-rdb: {problem}", fix="restore another backup")
    return manifest


def prepare_backup(store: BackupStore, backup_id: str, *, dest: Path, target_version: str, target: str,
                   trusted_keys: Sequence[str] = (), force: bool = False) -> PreparedBackup:
    """Find, trust or verify, download to `dest` (the verified object version, hashed while written) and check.

    Raises RestoreRefused (exit 1) for anything that must not reach a Redis; StoreError and friends from the store.
    """
    entry = find_restorable(store, backup_id)
    if entry.has_manifest:  # fail fast, before the download; the file's own header is checked again below
        listed = read_manifest(store, entry.id)
        check_rdb_loadable(listed.rdb_version, target_version, backup=entry.id, target=target,
                           written_by=listed.redis_version or None)
    verified_sha, version_id, again, force_reason = _verification(store, entry, force=force,
                                                                  trusted_keys=trusted_keys)
    assert entry.rdb_key is not None
    fetched = store.get_file_hashed(entry.rdb_key, dest, version_id=version_id)
    manifest = _check_file(store, entry, dest, fetched.sha256, verified_sha, target_version=target_version,
                           target=target)
    return PreparedBackup(entry.id, dest, fetched.sha256, dest.stat().st_size, manifest, verified_sha, again,
                          force_reason)
