"""Restore a backup into a target Redis, refusing what could lose data.

Refused (RestoreRefused, exit 1) before the target is touched: a backup whose RDB
version the target's Redis cannot load (harness.restore.compat), a backup with no
passing verification record (unless `force`, which is recorded), a non-empty
target (unless `replace`, which first snapshots the target into the store under
`snapshots/`), a file that changed since it was verified, fails its header,
checksum or redis-check-rdb, or does not load into a scratch server (even with
`force`). Then one of two strategies runs: `network`
(DUMP/RESTORE from a scratch server) or `file` (replace the RDB of a
harness-managed server and restart it).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import redis

from harness.backup import layout
from harness.backup.catalog import BackupEntry, find_backup, read_manifest
from harness.backup.dataset import keyspace, loaded_scratch
from harness.backup.rdb import HeaderInvalid, read_header
from harness.backup.store import BackupStore
from harness.backup.take import take_backup
from harness.backup.verify import rdb_check_problem, trusted_verification
from harness.config import redact_url, split_redis_url
from harness.errors import RestoreRefused, UsageError
from harness.redis_client import connect
from harness.redis_process import RedisLoadFailed
from harness.restore.compat import check_rdb_loadable, target_redis_version
from harness.restore.file import place_and_restart, stage_path
from harness.restore.managed import ManagedRedis, find_managed
from harness.restore.network import stream_or_put_back

Strategy = Literal["network", "file"]
STRATEGIES: tuple[str, ...] = ("network", "file")
log = logging.getLogger("harness.restore")


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did: how many keys, how long, how, and whether anything was overridden."""

    backup_id: str
    strategy: str
    target: str
    keys_restored: int
    seconds: float
    forced: bool
    force_reason: str | None
    snapshot: str | None
    started_at: datetime
    finished_at: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "backup_id": self.backup_id,
            "strategy": self.strategy,
            "target": self.target,
            "keys_restored": self.keys_restored,
            "seconds": round(self.seconds, 3),
            "forced": self.forced,
            "force_reason": self.force_reason,
            "snapshot": self.snapshot,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
        }


def _verification_gate(store: BackupStore, entry: BackupEntry, *, force: bool,
                       trusted_keys: Sequence[str] = ()) -> tuple[str | None, str | None, str | None]:
    """(sha256 the verifier saw, the object version it verified, why we are forcing) or RestoreRefused.

    A record the configured verifier keys did not sign is not trusted: the backup is verified again now.
    """
    verification = trusted_verification(store, entry.id, trusted_keys=trusted_keys)
    if verification.passed:
        if verification.again is not None and verification.record is not None:
            log.warning("verification record of %s not trusted (%s): verified again now", entry.id,
                        verification.record.trust)
        return verification.sha256, verification.version_id, None
    why = f"backup {entry.id} {verification.why_not()}"
    if not force:
        raise RestoreRefused(why, fix=f"run `sentinel-drill verify {entry.id}` first, or pass --force to override")
    return None, None, why


def _preflight(store: BackupStore, entry: BackupEntry, rdb: Path, sha256: str, verified_sha: str | None, *,
               target_version: str, target: str) -> None:
    """Integrity checks that apply even with --force: a bad file must never reach the target,
    nor one the target's Redis cannot load (checked first: redis-check-rdb would only say it fails).

    `sha256` is the digest of the downloaded bytes. When it equals the one a trusted verification
    recorded, redis-check-rdb already passed on these very bytes and is not run again."""
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
    if entry.has_manifest:
        manifest = read_manifest(store, entry.id)
        if sha256 != manifest.sha256:
            raise RestoreRefused(
                f"backup {entry.id} does not match its manifest's sha256", fix="restore another backup"
            )
    problem = None if verified_sha else rdb_check_problem(rdb)  # verified_sha == sha256 here
    if problem:
        raise RestoreRefused(f"backup {entry.id} fails redis-check-rdb: {problem}", fix="restore another backup")


def _total_keys(client: redis.Redis) -> int:
    return sum(keyspace(client).values())


def restore_backup(
    store: BackupStore,
    backup_id: str,
    *,
    target_url: str,
    target_password: str | None,
    strategy: Strategy = "network",
    managed: ManagedRedis | None = None,
    replace: bool = False,
    force: bool = False,
    trusted_keys: Sequence[str] = (),
    snapshot_store: BackupStore | None = None,
    work_dir: Path | None = None,
    before_write: Callable[[], object] | None = None,
) -> RestoreResult:
    """Restore `backup_id` from `store` into the Redis at `target_url`.

    `managed` is the server to restart for the file strategy; without it the
    target must be a harness-started server (see `find_managed`). Snapshots go
    to `snapshot_store` (default: `snapshots/` inside `store`).

    The target is looked at twice: once before the download (fail fast) and
    again immediately before the first write, since the download and the
    scratch load take time in which someone may write to it. A non-empty target
    at that moment is refused without `replace`; with it, it is snapshotted
    then and there. `replace` is exact: the restored databases are flushed
    first, so afterwards they hold the backup's keys and nothing else. If the
    write fails, the target is put back as it was (its snapshot, or empty).
    `before_write` runs just before that second look (a seam for tests).
    Raises RestoreRefused (exit 1), RestoreFailed, StoreError, ConnectionFailed, AuthFailed.
    """
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown restore strategy {strategy!r}", fix="use --strategy network or file")
    started, started_at = time.monotonic(), datetime.now(UTC)
    target_url, url_password = split_redis_url(target_url)
    target_password = target_password or url_password
    shown = redact_url(target_url)
    entry = find_backup(store, backup_id)
    if entry.rdb_key is None:
        raise RestoreRefused(f"backup {backup_id} has no RDB in the store", fix="restore another backup")
    if entry.time_problem:
        raise RestoreRefused(f"backup {backup_id} is refused: {entry.time_problem}",
                             fix="a backup dated after the store received it was planted or mis-named; "
                                 "restore another backup and investigate who wrote it")
    target = connect(target_url, target_password)
    target_version = target_redis_version(target)
    if entry.has_manifest:  # fail fast, before the download; the file's own header is checked again below
        manifest = read_manifest(store, entry.id)
        check_rdb_loadable(manifest.rdb_version, target_version, backup=entry.id, target=shown,
                           written_by=manifest.redis_version or None)
    verified_sha, verified_version, force_reason = _verification_gate(store, entry, force=force,
                                                                      trusted_keys=trusted_keys)
    _refuse_non_empty(_total_keys(target), shown, replace=replace)
    if strategy == "file" and managed is None:
        managed = find_managed(target, target_url, password=target_password)
    if strategy == "file":
        _refuse_aof(target, shown)
    with tempfile.TemporaryDirectory(prefix="drill-restore-", dir=work_dir) as tmp, ExitStack() as stack:
        rdb, previous = Path(tmp) / "backup.rdb", Path(tmp) / "target-before.rdb"
        if strategy == "file":  # straight into the staging place beside the target's file: no copy later
            assert managed is not None
            rdb = stage_path(managed.rdb_path)
            stack.callback(rdb.unlink, missing_ok=True)
        # the very object that was verified, hashed while it is written
        fetched = store.get_file_hashed(entry.rdb_key, rdb, version_id=verified_version)
        _preflight(store, entry, rdb, fetched.sha256, verified_sha, target_version=target_version, target=shown)
        scratch, scratch_stack = None, stack.enter_context(ExitStack())  # closed early by the file strategy
        if strategy == "network" or not verified_sha:
            try:  # a file redis-server cannot load never gets near the target (a verified one loaded already)
                scratch = scratch_stack.enter_context(loaded_scratch(rdb))
            except RedisLoadFailed as exc:
                raise RestoreRefused(f"backup {backup_id} does not load into redis-server: {exc.message}",
                                     fix="restore another backup") from None
        if before_write is not None:
            before_write()
        existing = _total_keys(target)  # again: the download and the scratch load took time
        _refuse_non_empty(existing, shown, replace=replace, late=True)
        snapshot = None
        if existing:
            snap = take_backup(target_url, snapshot_store or store.child(layout.SNAPSHOTS_PREFIX),
                               password=target_password, work_dir=work_dir, keep_copy=previous)
            snapshot = snap.rdb_location
            log.warning("target %s snapshotted to %s before restore", shown, snapshot)
        if force_reason:
            log.warning("restore of %s into %s forced despite: %s", backup_id, shown, force_reason)
        if strategy == "network":
            assert scratch is not None
            keys = stream_or_put_back(scratch, target_url, target_password, replace=replace,
                                      previous=previous if existing else None, snapshot=snapshot).keys_restored
        else:
            assert managed is not None
            scratch_stack.close()  # the scratch server is no longer needed; its memory is the target's now
            place_and_restart(managed, rdb, fallback=previous if existing else None)
            keys = _total_keys(connect(target_url, target_password))
    return RestoreResult(
        backup_id=backup_id,
        strategy=strategy,
        target=shown,
        keys_restored=keys,
        seconds=time.monotonic() - started,
        forced=force_reason is not None,
        force_reason=force_reason,
        snapshot=snapshot,
        started_at=started_at,
        finished_at=datetime.now(UTC),
    )


def _refuse_non_empty(existing: int, shown: str, *, replace: bool, late: bool = False) -> None:
    if existing and not replace:
        when = " (written to while the backup was being prepared)" if late else ""
        raise RestoreRefused(
            f"target {shown} is not empty ({existing} keys){when}",
            fix="pass --replace to overwrite it (the target is snapshotted into the store first)",
        )


def _refuse_aof(target: redis.Redis, shown: str) -> None:
    """A server with appendonly yes loads its AOF, not the RDB we would place."""
    try:
        value = target.config_get("appendonly")
    except redis.ResponseError:
        return
    flag = value.get("appendonly", value.get(b"appendonly"))  # type: ignore[call-overload]
    if flag in ("yes", b"yes"):
        raise RestoreRefused(
            f"target {shown} runs with appendonly yes, so it would load its AOF and ignore the restored RDB",
            fix="use --strategy network",
        )
