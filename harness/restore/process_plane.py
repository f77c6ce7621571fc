"""The local-process plane: a redis-server the harness started, stopped, given the file, started again.

The targets: the sandbox's Redis (a process on this machine) and, from the
command line, a server found through the `drill-managed` marker the harness
writes when it starts one (harness.restore.managed): the harness never stops a
Redis it did not start. The RDB is downloaded straight beside the server's data
file (same filesystem), so the swap while the server is down is one atomic
rename. Before the stop, writes are paused and a non-empty server snapshotted;
after a failure the snapshot (or, when the server was empty, no file) is put
back and the server started on it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import redis

from harness.backup.dataset import loaded_scratch
from harness.backup.store import BackupStore
from harness.config import redact_url
from harness.errors import DrillError, RestoreRefused
from harness.redaction import child_environment
from harness.redis_client import connect
from harness.redis_process import redis_server_binary
from harness.resp import reply_text
from harness.restore.compat import target_redis_version
from harness.restore.managed import ManagedRedis
from harness.restore.plane import (
    PlaneWrite,
    RestorePhases,
    Snapshot,
    WriteHold,
    paused_or_watched,
    take_snapshot,
    total_keys,
)


def stage_path(dest: Path) -> Path:
    """Where a restore stages the RDB for `dest`: beside it (same filesystem, so the swap is a rename)."""
    return dest.with_name(f".{dest.name}.restore-{os.getpid()}")


def _durable_copy(src: Path, dest: Path) -> None:
    with src.open("rb") as inp, dest.open("wb") as out:
        shutil.copyfileobj(inp, out, 1024 * 1024)
        out.flush()
        os.fsync(out.fileno())


class _Unwatched:
    """A stopped server: nobody can write to it, so there is nothing to pause or watch."""

    def count_own(self, n: int = 1) -> None:
        """Nothing to count."""

    def check(self, phase: str) -> None:
        """Nothing to check."""


@dataclass
class LocalProcessPlane:
    """A harness-started redis-server on this machine."""

    server: ManagedRedis = field(repr=False)
    url: str
    password: str | None = field(default=None, repr=False)
    snapshot_store: BackupStore | None = None
    load_timeout: float = 300.0
    _stopped: bool = False

    @property
    def name(self) -> str:
        return "local process"

    def describe(self) -> str:
        return f"local redis-server at {redact_url(self.url)} (data {self.server.rdb_path})"

    def _client(self) -> redis.Redis | None:
        """A client when the server answers, None when it is down (a lost sandbox's Redis)."""
        try:
            return connect(self.url, self.password, timeout=5.0)
        except DrillError as exc:
            if "rejected the password" in exc.message or "requires a valid password" in exc.message:
                raise
            return None

    def redis_version(self) -> str:
        client = self._client()
        if client is not None:
            return target_redis_version(client)
        out = subprocess.run([redis_server_binary(), "--version"], capture_output=True, text=True, check=False,
                             env=child_environment(), timeout=30)
        found = re.search(r"v=(\d+\.\d+\.\d+)", out.stdout)
        return found.group(1) if found else ""

    def count_keys(self) -> int:
        client = self._client()
        if client is not None:
            return total_keys(client)
        rdb = self.server.rdb_path
        if not rdb.is_file() or rdb.stat().st_size == 0:
            return 0
        with loaded_scratch(rdb) as scratch:  # a stopped server's file holds what it would load
            return total_keys(scratch.client())

    def staging_path(self, work_dir: Path) -> Path:
        return stage_path(self.server.rdb_path)

    def stage(self, rdb: Path) -> None:
        """A server with appendonly yes would load its AOF and ignore the restored RDB: refused."""
        client = self._client()
        if client is None:
            return
        try:
            value = client.config_get("appendonly")
        except redis.ResponseError:
            return
        flag = value.get("appendonly", value.get(b"appendonly"))  # type: ignore[call-overload]
        if flag in ("yes", b"yes"):
            raise RestoreRefused(f"{self.describe()} runs with appendonly yes, so it would load its AOF and "
                                 "ignore the restored RDB", fix="use --strategy network")

    @contextmanager
    def hold_writes(self) -> Iterator[WriteHold]:
        client = self._client()
        with (paused_or_watched(client, self.describe(), timeout_s=self.load_timeout) if client is not None
              else nullcontext(_Unwatched())) as hold:
            yield hold

    def snapshot(self, work_dir: Path) -> Snapshot:
        keys = self.count_keys()
        if self._client() is None:  # stopped: its file is what it holds
            local = work_dir / "target-before.rdb"
            _durable_copy(self.server.rdb_path, local)
            return Snapshot(local, None, keys)
        return take_snapshot(self.url, self.password, self.snapshot_store, work_dir, keys=keys, what=self.describe())

    def _place(self, rdb: Path) -> None:
        """Stop the server and make `rdb` its data file (a rename when it was staged beside it)."""
        dest = self.server.rdb_path
        staged = stage_path(dest)
        if rdb != staged:
            _durable_copy(rdb, staged)
        else:
            with staged.open("rb+") as out:
                os.fsync(out.fileno())
        self.server.stop()
        self._stopped = True
        os.replace(staged, dest)

    def write(self, rdb: Path, *, replace: bool, hold: WriteHold) -> PlaneWrite:
        phases = RestorePhases()
        self._place(rdb)
        self.server.start()
        self.server.wait_loaded(timeout=self.load_timeout)
        phases.done("restarted")
        return PlaneWrite(0, 0, tuple(phases.items))

    def put_back(self, snapshot: Snapshot | None) -> str:
        """The snapshot's file (or no file, when the server was empty) back, and the server started on it."""
        if not self._stopped:
            return "nothing had been written (the server was not stopped)"
        self.server.stop()
        dest = self.server.rdb_path
        if snapshot is not None:
            _durable_copy(snapshot.rdb, stage_path(dest))
            os.replace(stage_path(dest), dest)
            what = f"snapshot {snapshot.location or '(local copy)'} put back"
        else:
            dest.unlink(missing_ok=True)
            what = "the restored file removed (the server was empty)"
        self.server.start()
        self.server.wait_loaded(timeout=self.load_timeout)
        return f"{what}; the server runs on it again"

    def mark_owner(self, key: str, run_id: str) -> None:
        client = self._client()
        if client is not None:
            client.set(key, run_id)

    def owner_mark(self, key: str) -> str | None:
        client = self._client()
        value = client.get(key) if client is not None else None
        return reply_text(value) if value is not None else None

    def close(self) -> None:
        """Nothing was started."""
