"""The network plane: a backup streamed with DUMP/RESTORE into any Redis the harness can reach.

The target stays up and others may write to it, and we cannot pause them while
we write ourselves (CLIENT PAUSE WRITE holds every client, us included). So
others' writes are *watched* (harness.restore.plane.WriteWatch): a write by
anyone else during the restore refuses it. A failed or refused restore removes
exactly the keys it wrote — every key the target confirmed is journaled
(harness.restore.network) — and, where it replaced data, puts the snapshot's
keys back with RESTORE (never REPLACE: what someone wrote meanwhile wins).
Nothing is ever flushed but what an explicit `--replace` asked for, after the
snapshot.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import redis

from harness.backup.dataset import loaded_scratch
from harness.backup.store import BackupStore
from harness.config import redact_url, split_redis_url
from harness.errors import RestoreRefused
from harness.redis_client import connect
from harness.redis_process import RedisLoadFailed, RedisProcess
from harness.restore.compat import check_rdb_file_loadable, target_redis_version
from harness.restore.network import _url_db, _with_db, flush_targets, stream_restore
from harness.restore.plane import (
    PlaneWrite,
    RestorePhases,
    Snapshot,
    WriteHold,
    WriteWatch,
    take_snapshot,
    total_keys,
)

#: keys removed or put back per round trip during a rollback
ROLLBACK_BATCH = 1000


def _journaled(path: Path) -> Iterator[tuple[int, bytes]]:
    """(db, key) of every key the stream journaled, in order."""
    with path.open("rb") as f:
        while header := f.readline():
            db, length = (int(x) for x in header.split())
            yield db, f.read(length)


def remove_written(target_url: str, password: str | None, journal: Path) -> int:
    """DEL exactly the keys the restore wrote (its journal); return how many were still there."""
    removed = 0
    clients: dict[int, redis.Redis] = {}
    batch: dict[int, list[bytes]] = {}

    def flush(db: int) -> None:
        nonlocal removed
        if batch.get(db):
            removed += int(clients[db].delete(*batch[db]))
            batch[db] = []

    for db, key in _journaled(journal):
        if db not in clients:
            clients[db] = connect(_with_db(target_url, db), password, timeout=30.0)
        batch.setdefault(db, []).append(key)
        if len(batch[db]) >= ROLLBACK_BATCH:
            flush(db)
    for db in list(batch):
        flush(db)
    return removed


@dataclass
class NetworkPlane:
    """Any reachable Redis (a managed or remote DR Redis, a CLI `--to` URL); its volume is out of reach."""

    url: str
    password: str | None = field(repr=False)
    #: where a snapshot of a non-empty target goes (the backup store's snapshots/)
    snapshot_store: BackupStore | None = None
    work_dir: Path | None = None
    _scratch: RedisProcess | None = field(default=None, repr=False)
    _stack: ExitStack = field(default_factory=ExitStack, repr=False)
    _journal: IO[bytes] | None = field(default=None, repr=False)
    _journal_path: Path | None = None
    _flushed: bool = False

    def __post_init__(self) -> None:
        self.url, url_password = split_redis_url(self.url)
        self.password = self.password or url_password

    @property
    def name(self) -> str:
        return "network"

    def describe(self) -> str:
        return f"Redis {redact_url(self.url)} (network restore)"

    def client(self, db: int | None = None) -> redis.Redis:
        return connect(self.url if db is None else _with_db(self.url, db), self.password, timeout=30.0)

    def redis_version(self) -> str:
        return target_redis_version(self.client())

    def count_keys(self) -> int:
        return total_keys(self.client())

    def staging_path(self, work_dir: Path) -> Path:
        return work_dir / "backup.rdb"

    def stage(self, rdb: Path) -> None:
        """Load the backup into a scratch server (before the hold: a long load is not a window for others)."""
        try:
            self._scratch = self._stack.enter_context(loaded_scratch(rdb))
        except RedisLoadFailed as exc:
            raise RestoreRefused(f"the backup does not load into redis-server: {exc.message}",
                                 fix="restore another backup") from None
        check_rdb_file_loadable(self._scratch.rdb_path, self.client(), backup="to restore",
                                target=redact_url(self.url))
        journal_dir = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="drill-journal-",
                                                                                 dir=self.work_dir)))
        self._journal_path = journal_dir / "written.keys"
        self._journal = self._stack.enter_context(self._journal_path.open("wb"))

    @contextmanager
    def hold_writes(self) -> Iterator[WriteHold]:
        yield WriteWatch(self.client(), self.describe())

    def snapshot(self, work_dir: Path) -> Snapshot:
        return take_snapshot(self.url, self.password, self.snapshot_store, work_dir, keys=self.count_keys(),
                             what=self.describe())

    def write(self, rdb: Path, *, replace: bool, hold: WriteHold) -> PlaneWrite:
        if self._scratch is None:
            self.stage(rdb)
        assert self._scratch is not None and self._journal is not None
        phases = RestorePhases()
        if replace:  # an explicit --replace, after the snapshot: exact, the backup's keys and nothing else
            hold.count_own(len(flush_targets(self._scratch, self.url, password=self.password)))
            self._flushed = True
        streamed = stream_restore(self._scratch, self.url, password=self.password, replace=replace,
                                  journal=self._journal)
        self._journal.flush()
        hold.count_own(streamed.keys_restored)
        phases.done("streamed")
        return PlaneWrite(streamed.keys_restored, streamed.keys_skipped, tuple(phases.items),
                          keys_from_backup=streamed.keys_restored + streamed.keys_skipped)

    def put_back(self, snapshot: Snapshot | None) -> str:
        """Remove what the restore wrote; then the snapshot's keys that are absent, RESTOREd without REPLACE."""
        done = []
        if self._journal is not None and self._journal_path is not None:
            self._journal.flush()
            removed = remove_written(self.url, self.password, self._journal_path)
            done.append(f"the {removed} key(s) the restore wrote removed")
        if snapshot is not None:
            with loaded_scratch(snapshot.rdb) as before:
                back = stream_restore(before, _with_db(self.url, 0) if self._multi_db(before) else self.url,
                                      password=self.password, replace=False, skip_existing=True)
            done.append(f"{back.keys_restored} key(s) of the snapshot {snapshot.location} put back "
                        "(keys written meanwhile by others kept)")
        return "; ".join(done) or "nothing had been written"

    @staticmethod
    def _multi_db(server: RedisProcess) -> bool:
        return len(server.client().info("keyspace")) > 1

    def mark_owner(self, key: str, run_id: str) -> None:
        self.client(_url_db(self.url)).set(key, run_id)

    def owner_mark(self, key: str) -> str | None:
        value = self.client(_url_db(self.url)).get(key)
        return value.decode() if isinstance(value, bytes) else value

    def close(self) -> None:
        self._stack.close()
