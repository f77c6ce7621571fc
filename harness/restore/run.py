"""The restore gate: the one code path that puts a backup into a Redis, with the same guarantees on every plane.

`restore_to(plane, store, backup_id)` — used by `sentinel-drill restore` and by
scenarios 3 and 4 alike:

1. the target is looked at (every database): a non-empty one is refused
   without `replace` before anything is downloaded;
2. the backup is prepared (harness.restore.prepare): found, trusted or verified
   again now, the verified object version downloaded, hashed, checked;
3. others' writes are held (paused where the server stops for the restore,
   watched where we write over the network), the target is looked at again right
   before the first write, and a non-empty one is snapshotted first;
4. the plane writes; on any failure the plane puts the snapshot back and removes
   only what the restore wrote (never a flush of what it did not write), and the
   error says so;
5. where the restore fills a Redis the run claimed, the claim key is set again
   (a file restore replaced the file that held it).

Exit codes: RestoreRefused (1) for refusals, RestoreFailed (1) after a put-back,
StoreError/ConnectionFailed/AuthFailed (2).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from harness.backup.dataset import loaded_scratch
from harness.backup.store import BackupStore
from harness.config import split_redis_url
from harness.errors import DrillError, RestoreRefused, UsageError
from harness.ownership import REDIS_CLAIM_KEY
from harness.redis_client import connect
from harness.redis_process import RedisLoadFailed
from harness.restore.managed import ManagedRedis, find_managed
from harness.restore.network import RestoreFailed
from harness.restore.network_plane import NetworkPlane
from harness.restore.plane import RestorePlane, Snapshot, refuse_non_empty
from harness.restore.prepare import PreparedBackup, prepare_backup
from harness.restore.process_plane import LocalProcessPlane

Strategy = Literal["network", "file"]
STRATEGIES: tuple[str, ...] = ("network", "file")
log = logging.getLogger("harness.restore")


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did: which backup, into what, how (plane), what was kept, and how long each step took."""

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
    rdb_sha256: str = ""
    rdb_bytes: int = 0
    phases: tuple[tuple[str, float], ...] = ()
    keys_from_backup: int | None = None
    verified_again: str | None = None
    others_keys_before: int = 0
    notes: tuple[str, ...] = field(default=())

    @property
    def keys(self) -> int:
        return self.keys_restored

    def to_json(self) -> dict[str, object]:
        return {
            "backup_id": self.backup_id, "strategy": self.strategy, "target": self.target,
            "keys_restored": self.keys_restored, "keys": self.keys_restored, "seconds": round(self.seconds, 3),
            "forced": self.forced, "force_reason": self.force_reason, "snapshot": self.snapshot,
            "started_at": self.started_at.isoformat(), "finished_at": self.finished_at.isoformat(),
            "rdb_sha256": self.rdb_sha256, "rdb_bytes": self.rdb_bytes,
            "phases": [{"name": n, "seconds": round(s, 3)} for n, s in self.phases],
            "keys_from_backup": self.keys_from_backup, "verified_again": self.verified_again,
            "keys_before": self.others_keys_before, "notes": list(self.notes),
        }


def _own_marks(plane: RestorePlane, owner: str | None) -> int:
    """1 when the target holds this run's claim key (it is ours, not data the restore would overwrite)."""
    return 1 if owner and plane.owner_mark(REDIS_CLAIM_KEY) == owner else 0


def _check_loads(prepared: PreparedBackup) -> None:
    """A forced (unverified) file must load into redis-server before it nears the target (a verified one did)."""
    if prepared.verified_sha256:
        return
    try:
        with loaded_scratch(prepared.rdb):
            pass
    except RedisLoadFailed as exc:
        raise RestoreRefused(f"backup {prepared.backup_id} does not load into redis-server: {exc.message}",
                             fix="restore another backup") from None


def restore_to(plane: RestorePlane, store: BackupStore, backup_id: str, *, replace: bool = False, force: bool = False,
               trusted_keys: Sequence[str] = (), work_dir: Path | None = None, owner: str | None = None,
               before_write: Callable[[], object] | None = None) -> RestoreResult:
    """Restore `backup_id` from `store` through `plane`, with the gate's guarantees (module docstring).

    `owner` (a run id) marks a claimed Redis: its claim key does not count as data and is set again afterwards.
    `before_write` runs just before the second look (a seam for tests). The plane is closed afterwards.
    """
    with closing(plane):
        return _restore_to(plane, store, backup_id, replace=replace, force=force, trusted_keys=trusted_keys,
                           work_dir=work_dir, owner=owner, before_write=before_write)


def _restore_to(plane: RestorePlane, store: BackupStore, backup_id: str, *, replace: bool, force: bool,
                trusted_keys: Sequence[str], work_dir: Path | None, owner: str | None,
                before_write: Callable[[], object] | None) -> RestoreResult:
    started, started_at = time.monotonic(), datetime.now(UTC)
    shown = plane.describe()
    version = plane.redis_version()
    refuse_non_empty(plane.count_keys() - _own_marks(plane, owner), shown, replace=replace)  # fail fast
    with tempfile.TemporaryDirectory(prefix="drill-restore-", dir=work_dir) as tmp, ExitStack() as stack:
        dest = plane.staging_path(Path(tmp))
        stack.callback(dest.unlink, missing_ok=True)
        prepared = prepare_backup(store, backup_id, dest=dest, target_version=version, target=shown,
                                  trusted_keys=trusted_keys, force=force)
        if prepared.verified_again:
            log.warning("backup %s: %s", backup_id, prepared.verified_again)
        _check_loads(prepared)
        plane.stage(prepared.rdb)
        if before_write is not None:
            before_write()
        with plane.hold_writes() as hold:
            existing = plane.count_keys() - _own_marks(plane, owner)  # again: the download took time
            refuse_non_empty(existing, shown, replace=replace, late=True)
            snapshot = plane.snapshot(Path(tmp)) if existing else None
            if snapshot is not None:
                log.warning("target %s snapshotted to %s before restore", shown, snapshot.location)
            if prepared.force_reason:
                log.warning("restore of %s into %s forced despite: %s", backup_id, shown, prepared.force_reason)
            try:
                hold.check("before the first write")
                written = plane.write(prepared.rdb, replace=bool(existing), hold=hold)
                hold.check("while restoring")
            except BaseException as exc:
                _put_back(plane, snapshot, exc)
                raise
        if owner:
            plane.mark_owner(REDIS_CLAIM_KEY, owner)
        keys = plane.count_keys() - _own_marks(plane, owner)
    return RestoreResult(
        backup_id=backup_id, strategy=plane.name, target=shown, keys_restored=keys,
        seconds=time.monotonic() - started, forced=prepared.force_reason is not None,
        force_reason=prepared.force_reason, snapshot=snapshot.location if snapshot else None,
        started_at=started_at, finished_at=datetime.now(UTC), rdb_sha256=prepared.sha256,
        rdb_bytes=prepared.size, phases=written.phases, keys_from_backup=written.keys_from_backup,
        verified_again=prepared.verified_again, others_keys_before=existing)


def _put_back(plane: RestorePlane, snapshot: Snapshot | None, exc: BaseException) -> None:
    """Put the target back after a failed write, then raise what failed (RestoreFailed names the put-back)."""
    try:
        how = plane.put_back(snapshot)
    except DrillError as put_back_error:
        raise RestoreFailed(f"restore into {plane.describe()} failed ({_reason(exc)}) and putting the target back "
                            f"failed too: {put_back_error.message}",
                            fix="restore the snapshot by hand (see the log for its location)") from None
    if isinstance(exc, RestoreRefused):  # the same refusal (OthersWrote stays OthersWrote), with the put-back
        raise type(exc)(f"{exc.message}; {how}", fix=exc.fix) from None
    if isinstance(exc, (DrillError, OSError)) or exc.__class__.__module__.startswith("redis"):
        raise RestoreFailed(f"restore into {plane.describe()} failed ({_reason(exc)}); the target was put back: "
                            f"{how}", fix="see the reason; the target holds what it held before") from None


def _reason(exc: BaseException) -> str:
    return exc.message if isinstance(exc, DrillError) else f"{exc.__class__.__name__}: {exc}"


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
    """`sentinel-drill restore`: `backup_id` into the Redis at `target_url`, by `strategy`.

    `network` streams into any Redis; `file` replaces the RDB of a harness-managed server (`managed`, else the
    one `find_managed` finds behind the URL). Snapshots go to `snapshot_store` (default: `snapshots/` in `store`).
    """
    if strategy not in STRATEGIES:
        raise UsageError(f"unknown restore strategy {strategy!r}", fix="use --strategy network or file")
    target_url, url_password = split_redis_url(target_url)
    target_password = target_password or url_password
    plane: RestorePlane
    if strategy == "network":
        plane = NetworkPlane(target_url, target_password, snapshot_store=snapshot_store or store, work_dir=work_dir)
    else:
        if managed is None:
            managed = find_managed(connect(target_url, target_password), target_url, password=target_password)
        plane = LocalProcessPlane(managed, target_url, target_password, snapshot_store=snapshot_store or store)
    return restore_to(plane, store, backup_id, replace=replace, force=force, trusted_keys=trusted_keys,
                      work_dir=work_dir, before_write=before_write)
