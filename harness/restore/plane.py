"""The three ways a backup reaches a Redis, behind one interface the restore gate drives.

`harness.restore.gate.restore_to` is the only code that puts a backup into a
Redis. It holds the guarantees; a plane supplies the operations they need:

- `count_keys` — what the server holds now (every database), for the emptiness
  look before the download and again right before the first write;
- `hold_writes` — others' writes paused (`CLIENT PAUSE WRITE` where the server
  stops for the restore) or watched (`WriteWatch`, where we write over the
  network and cannot pause ourselves), so nothing written by someone else
  during the restore is lost without the restore saying so;
- `snapshot` — a copy of what is there before any overwrite;
- `write` — the restore itself;
- `put_back` — after a failure: the snapshot back, and nothing flushed that
  the restore did not write.

Planes: network (DUMP/RESTORE into any reachable Redis), Kubernetes volume (the
runbook's scale 0 → copy → scale back), local process (a harness-started
redis-server restarted on the file).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import redis

from harness.backup.store import BackupStore
from harness.errors import RestoreRefused
from harness.resp import reply_text


@dataclass(frozen=True)
class Snapshot:
    """What the target held before the restore: a local RDB copy and where it was stored."""

    rdb: Path
    location: str | None
    keys: int


@dataclass(frozen=True)
class PlaneWrite:
    """What a plane's write did, for the result and the evidence."""

    keys_written: int
    keys_skipped: int = 0  # expired between the scratch's SCAN and DUMP (network plane)
    phases: tuple[tuple[str, float], ...] = ()
    keys_from_backup: int | None = None  # keys the backup held as written (None: ask the loaded server)


class RestorePhases:
    """Named steps of a restore and how long each took."""

    def __init__(self) -> None:
        self.items: list[tuple[str, float]] = []
        self.mark = time.monotonic()
        self.started_at = datetime.now(UTC)

    def done(self, name: str) -> None:
        now = time.monotonic()
        self.items.append((name, now - self.mark))
        self.mark = now


class UndoNotes(Protocol):
    """Where a plane writes down how to undo a destructive step before taking it (the run's undo ledger)."""

    def before(self, kind: str, *, action: str, **params: Any) -> str: ...

    def done(self, entry_id: str, *, how: str = "undone") -> None: ...


class WriteHold(Protocol):
    """Others' writes held off while the restore writes (paused), or watched (refused if they happen)."""

    def count_own(self, n: int = 1) -> None:
        """Tell the hold about writes the restore itself made (the watch subtracts them)."""
        ...

    def check(self, phase: str) -> None:
        """RestoreRefused naming `phase` when someone else wrote since the hold began."""
        ...


class RestorePlane(Protocol):
    """A Redis the gate can restore into."""

    @property
    def name(self) -> str:
        """The plane's kind, for the result (network, kubernetes volume, local process)."""
        ...

    def describe(self) -> str: ...

    def staging_path(self, work_dir: Path) -> Path:
        """Where the backup is downloaded to (the local process plane: beside the server's data file)."""
        ...

    def stage(self, rdb: Path) -> None:
        """What loads before others' writes are held (the network plane's scratch server)."""
        ...

    def redis_version(self) -> str: ...

    def count_keys(self) -> int: ...

    def hold_writes(self) -> AbstractContextManager[WriteHold]: ...

    def snapshot(self, work_dir: Path) -> Snapshot: ...

    def write(self, rdb: Path, *, replace: bool, hold: WriteHold) -> PlaneWrite: ...

    def put_back(self, snapshot: Snapshot | None) -> str: ...

    def mark_owner(self, key: str, run_id: str) -> None: ...

    def owner_mark(self, key: str) -> str | None: ...

    def close(self) -> None:
        """Release what the plane started (a scratch server); a plane serves one restore."""
        ...


# ----------------------------------------------------------------------------- others' writes


def total_keys(client: redis.Redis) -> int:
    """Keys in every database of the server (`INFO keyspace`), not only the connection's."""
    return sum(int(db.get("keys", 0)) for db in client.info("keyspace").values() if isinstance(db, dict))


def _write_commands(client: redis.Redis, names: list[str]) -> set[str]:
    """Which of `names` (commandstats names, e.g. `set`, `client|setname`) change data or are replicated."""
    if not names:
        return set()
    answer = client.execute_command("COMMAND", "INFO", *names) or {}
    # redis-py parses COMMAND replies into {name: {"flags": [...], ...}}; a raw reply is a list of arrays
    described = (((reply_text(k).lower(), v.get("flags") or []) for k, v in answer.items() if v)
                 if isinstance(answer, dict) else
                 ((reply_text(info[0]).lower(), info[2] or []) for info in answer if info))
    return {name for name, flags in described
            if {reply_text(f).lower() for f in flags} & {"write", "may_replicate"}}


def write_calls(client: redis.Redis, known: dict[str, bool]) -> int:
    """Executed calls of data-changing commands so far (`INFO commandstats`), every client together.

    `known` caches each command's write flag across calls (COMMAND INFO once per name).
    """
    stats: Mapping[str, Any] = client.info("commandstats")
    calls: dict[str, int] = {}
    for stat, values in stats.items():
        name = stat.removeprefix("cmdstat_").lower()
        if isinstance(values, dict):  # `calls` counts executions, failed ones too; a refused write changed nothing
            calls[name] = int(values.get("calls", 0)) - int(values.get("failed_calls", 0))
    unknown = [n for n in calls if n not in known]
    flagged = _write_commands(client, unknown)
    known.update({n: n in flagged for n in unknown})
    return sum(count for name, count in calls.items() if known.get(name))


@dataclass
class WriteWatch:
    """Refuse the restore when anyone else writes to the target while it runs (we cannot pause them and write).

    Counts data-changing command calls on the server from the start of the hold,
    minus the writes the restore itself reports; anything left over was someone
    else's.
    """

    client: redis.Redis
    what: str
    _known: dict[str, bool] = field(default_factory=dict)
    _start: int = 0
    _own: int = 0

    def __post_init__(self) -> None:
        self._start = write_calls(self.client, self._known)

    def count_own(self, n: int = 1) -> None:
        self._own += n

    def others(self) -> int:
        # the INFO and COMMAND calls this watch makes are not data-changing, so they never count
        return write_calls(self.client, self._known) - self._start - self._own

    def check(self, phase: str) -> None:
        others = self.others()
        if others > 0:
            raise OthersWrote(f"{self.what}: {others} write(s) by another client during the restore ({phase})",
                              fix="stop the writers (the application, a CronJob) and restore again; what they "
                                  "wrote was kept, what the restore wrote was removed")


class OthersWrote(RestoreRefused):
    """Someone else wrote to the target while the restore ran: refused, and the restore's own writes removed."""


@dataclass
class PausedWrites:
    """`CLIENT PAUSE <ms> WRITE` on a server that is about to stop for the restore: writes from every client
    wait (and die with the server), none lands between the last look and the stop."""

    client: redis.Redis
    what: str
    paused: bool = False

    def count_own(self, n: int = 1) -> None:
        """Nothing to count: the server stops before the restore writes."""

    def check(self, phase: str) -> None:
        """Nothing to check: writes are paused, not watched."""

    def pause(self, timeout_s: float) -> None:
        self.client.execute_command("CLIENT", "PAUSE", int(timeout_s * 1000), "WRITE")
        self.paused = True

    def release(self) -> None:
        if self.paused:
            try:
                self.client.execute_command("CLIENT", "UNPAUSE")
            except (redis.RedisError, OSError):
                pass  # the server stopped: the pause ended with it
            self.paused = False


@contextmanager
def paused_or_watched(client: redis.Redis, what: str, *, timeout_s: float) -> Iterator[WriteHold]:
    """Pause every client's writes until the server stops, or, where CLIENT PAUSE is refused (ACL, managed
    Redis), watch them instead so a write that would be lost refuses the restore."""
    paused = PausedWrites(client, what)
    try:
        paused.pause(timeout_s)
    except redis.ResponseError:
        yield WriteWatch(client, what)
        return
    try:
        yield paused
    finally:
        paused.release()


def take_snapshot(url: str, password: str | None, store: BackupStore | None, work_dir: Path, *, keys: int,
                  what: str) -> Snapshot:
    """The live server at `url` backed up into the store's `snapshots/` (origin drill) with a local copy to put
    back; RestoreRefused when no store was given (a restore over data always keeps what it overwrites)."""
    from harness.backup import layout
    from harness.backup.manifest import DRILL
    from harness.backup.take import take_backup

    if store is None:
        raise RestoreRefused(f"{what} holds {keys} keys and no store was given for its snapshot",
                             fix="a restore over data needs a store to snapshot it into")
    local = work_dir / "target-before.rdb"
    taken = take_backup(url, store.child(layout.SNAPSHOTS_PREFIX), password=password, work_dir=work_dir,
                        keep_copy=local, origin=DRILL)
    return Snapshot(local, taken.rdb_location, keys)


def refuse_non_empty(existing: int, shown: str, *, replace: bool, late: bool = False) -> None:
    """A restore never overwrites data without `replace` (and then only after a snapshot)."""
    if existing and not replace:
        when = " (written to while the backup was being prepared)" if late else ""
        raise RestoreRefused(
            f"target {shown} is not empty ({existing} keys){when}",
            fix="pass --replace to overwrite it (the target is snapshotted into the store first)",
        )
