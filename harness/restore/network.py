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
from harness.restore.compat import check_rdb_file_loadable

BATCH = 1000


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
        cursor = 0
        while True:
            cursor, found = source.scan(cursor=cursor, count=batch)
            keys = [k if isinstance(k, bytes) else k.encode() for k in found]
            fresh = [k for k in keys if _fingerprint(k) not in seen]
            seen.update(_fingerprint(k) for k in fresh)
            if fresh:
                done, gone = _copy_batch(source, target, fresh, replace=replace, url=target_url)
                restored += done
                skipped += gone
            if int(cursor) == 0:
                break
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


def _pack(*args: bytes) -> bytes:
    """One command in RESP (what redis-py's pipeline builds, without its per-command bookkeeping)."""
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def _round_trip(client: redis.Redis, commands: list[bytes]) -> list[Any]:
    """Send packed `commands` in one write, then read every reply; error replies are returned, not raised.

    redis-py's Pipeline spends most of a network restore packing and bookkeeping
    per command (profiled at 1 M keys, bench/); this is the same exchange.
    """
    pool = client.connection_pool
    conn = pool.get_connection()
    try:
        conn.send_packed_command([b"".join(commands)], check_health=False)
        replies: list[Any] = []
        for _ in commands:
            try:
                replies.append(conn.read_response(disable_decoding=True))
            except redis.ResponseError as exc:
                replies.append(exc)
        return replies
    except BaseException:
        conn.disconnect()
        raise
    finally:
        pool.release(conn)


def _copy_batch(
    source: redis.Redis, target: redis.Redis, keys: list[bytes], *, replace: bool, url: str
) -> tuple[int, int]:
    reads = [cmd for key in keys for cmd in (_pack(b"DUMP", key), _pack(b"PTTL", key))]
    answers = _round_trip(source, reads)
    for answer in answers:
        if isinstance(answer, Exception):
            raise answer
    flag = (b"REPLACE",) if replace else ()
    writes: list[bytes] = []
    written: list[bytes] = []
    skipped = 0
    for i, key in enumerate(keys):
        payload, pttl = answers[2 * i], int(answers[2 * i + 1])
        if payload is None or pttl == -2:
            skipped += 1
            continue
        writes.append(_pack(b"RESTORE", key, b"%d" % max(pttl, 0), payload, *flag))
        written.append(key)
    if not written:
        return 0, skipped
    results = _round_trip(target, writes)
    for key, result in zip(written, results):
        if isinstance(result, Exception):
            hint = "pass --replace to overwrite keys" if "BUSYKEY" in str(result) else "check the target's log"
            raise RestoreFailed(
                f"{redact_url(url)} refused RESTORE of key {key[:80]!r}: {result}", fix=hint
            )
    return len(written), skipped
