"""The `network` strategy: stream keys from a scratch server into the target with DUMP/RESTORE.

Works against any Redis we can reach (no access to its disk needed). Keys are
read with SCAN, DUMP and PTTL in pipelined batches and written with
`RESTORE key ttl payload [REPLACE]`, so types, values and remaining TTLs carry
over. `flush_targets` empties the target databases first (an exact
`--replace`), and `put_back` returns a target to a snapshot RDB after a failed
restore.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis

from harness.backup.dataset import db_client, keyspace
from harness.config import redact_url
from harness.errors import DrillError, UsageError
from harness.redis_client import connect
from harness.redis_process import RedisProcess
from harness.resp import encode_command
from harness.restore.compat import check_rdb_file_loadable

BATCH = 1000
#: DUMP payloads read per round trip (two such batches are in memory at once: one read, one in flight)
BYTES_PER_TRIP = 16 * 1024 * 1024


class RestoreFailed(DrillError):
    """Keys could not be written to the target (exit 1: the target is not what the backup holds)."""

    exit_code = 1


@dataclass(frozen=True)
class StreamResult:
    keys_restored: int
    keys_skipped: int  # expired between SCAN and DUMP


def db_mapping(source_dbs: list[int], target_db: int, *, url: str) -> dict[int, int]:
    """Source db → target db: a one-db backup goes to the URL's db, several keep their numbers."""
    if len(source_dbs) <= 1:
        return {db: target_db for db in source_dbs}
    if target_db != 0:
        raise UsageError(
            f"the backup holds databases {source_dbs}; restoring them into db {target_db} of "
            f"{redact_url(url)} would merge them",
            fix="give --to without a /db (or /0): each database is restored into its own number",
        )
    return {db: db for db in source_dbs}


def _url_db(url: str) -> int:
    path = urlsplit(url).path.strip("/")
    return int(path) if path.isdigit() else 0


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def stream_restore(
    scratch: RedisProcess, target_url: str, *, password: str | None, replace: bool, batch: int = BATCH
) -> StreamResult:
    """Copy every key of `scratch` into the target; RestoreFailed naming the first key it refused."""
    space = keyspace(db_client(scratch, 0))
    mapping = db_mapping(sorted(space), _url_db(target_url), url=target_url)
    restored = skipped = 0
    for src_db, dst_db in mapping.items():
        source = db_client(scratch, src_db)
        target = connect(_with_db(target_url, dst_db), password, timeout=30.0)
        seen: set[bytes] = set()  # SCAN may repeat a key while a hash table rehashes; RESTORE it once
        writer = _RestoreWriter(target, target_url)
        per_trip = min(batch, 16)  # until the values' size is known
        cursor = 0
        try:
            while True:
                cursor, found = source.scan(cursor=cursor, count=batch)
                keys = [k if isinstance(k, bytes) else k.encode() for k in found]
                fresh = [k for k in keys if _fingerprint(k) not in seen]
                seen.update(_fingerprint(k) for k in fresh)
                while fresh:  # trips sized from the last trip's largest value: ≈ BYTES_PER_TRIP when values are alike
                    trip, fresh = fresh[:per_trip], fresh[per_trip:]
                    written, commands, gone = _read_batch(source, trip, replace=replace)
                    if written:
                        writer.send(written, commands)
                        largest = max(map(len, commands))
                        per_trip = max(1, min(batch, BYTES_PER_TRIP // largest))
                    restored += len(written)
                    skipped += gone
                if int(cursor) == 0:
                    break
            writer.wait()
        finally:
            writer.close()
    return StreamResult(restored, skipped)


def flush_targets(scratch: RedisProcess, target_url: str, *, password: str | None) -> list[int]:
    """FLUSHDB every target database the backup maps to; return their numbers."""
    space = keyspace(db_client(scratch, 0))
    mapping = db_mapping(sorted(space), _url_db(target_url), url=target_url)
    for dst_db in sorted(set(mapping.values())):
        connect(_with_db(target_url, dst_db), password, timeout=30.0).flushdb()
    return sorted(set(mapping.values()))


def put_back(target_url: str, *, password: str | None, previous: Path) -> None:
    """Return the target to what it held: exactly the keys of `previous`, its snapshot RDB.

    Every database the snapshot holds, and the URL's, is flushed and refilled.
    """
    from harness.backup.dataset import loaded_scratch

    with loaded_scratch(previous) as snapshot:
        held = keyspace(db_client(snapshot, 0))
        for db in {*held, _url_db(target_url)}:
            connect(_with_db(target_url, db), password, timeout=30.0).flushdb()
        stream_restore(snapshot, _with_db(target_url, 0) if len(held) > 1 else target_url,
                       password=password, replace=True)


def stream_or_put_back(scratch: RedisProcess, target_url: str, password: str | None, *, replace: bool,
                        previous: Path | None, snapshot: str | None) -> StreamResult:
    """Network restore, exact under `replace`; on failure the target is put back to `previous`, its snapshot
    RDB, or emptied again when it was empty (`previous` None): never left half-written.

    First of all, a target that cannot load the scratch's RDB version is refused (RestoreRefused) before
    any write: RESTORE would reject the payloads one by one, after `replace` flushed the target."""
    check_rdb_file_loadable(scratch.rdb_path, connect(target_url, password, timeout=30.0),
                            backup="to restore", target=redact_url(target_url))
    if replace:
        flush_targets(scratch, target_url, password=password)
    try:
        return stream_restore(scratch, target_url, password=password, replace=replace)
    except (RestoreFailed, redis.RedisError) as exc:
        reason = exc.message if isinstance(exc, RestoreFailed) else f"{exc.__class__.__name__}: {exc}"
        if previous is None:
            flush_targets(scratch, target_url, password=password)  # it was empty: empty again
        else:
            put_back(target_url, password=password, previous=previous)
        where = f"its snapshot {snapshot}" if snapshot else "empty, as it was"
        raise RestoreFailed(f"restore into {redact_url(target_url)} failed ({reason}); the target was put back "
                            f"to {where}", fix="see the reason; the target holds what it held before") from None


def _fingerprint(key: bytes) -> bytes:
    return hashlib.blake2b(key, digest_size=12).digest()


def _dump_pttl(key: bytes) -> bytes:
    """DUMP key + PTTL key, packed here: redis-py's Pipeline spent most of a 1 M-key restore on its bookkeeping."""
    return encode_command(b"DUMP", key) + encode_command(b"PTTL", key)


def _restore_command(key: bytes, ttl: bytes, payload: bytes, replace: bool) -> bytes:
    return encode_command(b"RESTORE", key, ttl, payload, *((b"REPLACE",) if replace else ()))


def _read_replies(conn: Any, count: int) -> list[Any]:
    """`count` replies; an error reply is returned in its place (the rest must still be read)."""
    replies: list[Any] = []
    for _ in range(count):
        try:
            replies.append(conn.read_response(disable_decoding=True))
        except redis.ResponseError as exc:
            replies.append(exc)
    return replies


def _read_batch(source: redis.Redis, keys: list[bytes], *, replace: bool) -> tuple[list[bytes], list[bytes], int]:
    """DUMP and PTTL every key in one round trip: (keys still there, their RESTORE commands, keys gone)."""
    pool = source.connection_pool
    conn = pool.get_connection()
    try:
        conn.send_packed_command([b"".join(_dump_pttl(k) for k in keys)], check_health=False)
        answers = _read_replies(conn, 2 * len(keys))
    except BaseException:
        conn.disconnect()
        raise
    finally:
        pool.release(conn)
    written: list[bytes] = []
    commands: list[bytes] = []
    for i, key in enumerate(keys):
        payload, pttl = answers[2 * i], answers[2 * i + 1]
        if isinstance(payload, Exception) or isinstance(pttl, Exception):
            raise payload if isinstance(payload, Exception) else pttl
        if payload is None or pttl == -2:
            continue
        commands.append(_restore_command(key, b"%d" % max(int(pttl), 0), payload, replace))
        written.append(key)
    return written, commands, len(keys) - len(written)


class _RestoreWriter:
    """RESTOREs in flight on the target: a batch is sent, and its replies are read only before the next
    batch goes out, so the target restores one batch while the next is read from the scratch server."""

    def __init__(self, target: redis.Redis, url: str) -> None:
        self.pool, self.url = target.connection_pool, url
        self.conn: Any = None
        self.keys: list[bytes] = []

    def send(self, keys: list[bytes], commands: list[bytes]) -> None:
        self.wait()
        conn = self.pool.get_connection()
        try:
            conn.send_packed_command([b"".join(commands)], check_health=False)
        except BaseException:
            conn.disconnect()
            self.pool.release(conn)
            raise
        self.conn, self.keys = conn, keys

    def wait(self) -> None:
        """Read the replies of the batch in flight; RestoreFailed naming the first key the target refused."""
        if self.conn is None:
            return
        conn, keys, self.conn, self.keys = self.conn, self.keys, None, []
        try:
            results = _read_replies(conn, len(keys))
        except BaseException:
            conn.disconnect()
            raise
        finally:
            self.pool.release(conn)
        for key, result in zip(keys, results):
            if isinstance(result, Exception):
                hint = "pass --replace to overwrite keys" if "BUSYKEY" in str(result) else "check the target's log"
                raise RestoreFailed(f"{redact_url(self.url)} refused RESTORE of key {key[:80]!r}: {result}", fix=hint)

    def close(self) -> None:
        """Drop a batch still in flight (after an error elsewhere): its connection is not reused."""
        if self.conn is not None:
            self.conn.disconnect()
            self.pool.release(self.conn)
            self.conn, self.keys = None, []
