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
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import hiredis
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
    """Copy every key of `scratch` into the target; RestoreFailed naming the first key it refused.

    The scratch packs each batch itself (`PACK_RESTORES`, one Lua call: SCAN, DUMP, PTTL and the RESTORE
    commands' RESP), so Python handles one string per batch, not three replies and an encode per key."""
    space = keyspace(db_client(scratch, 0))
    mapping = db_mapping(sorted(space), _url_db(target_url), url=target_url)
    restored = skipped = 0
    for src_db, dst_db in mapping.items():
        source = db_client(scratch, src_db)
        pack = source.register_script(PACK_RESTORES)
        target = connect(_with_db(target_url, dst_db), password, timeout=30.0)
        seen: set[bytes] = set()  # SCAN may repeat a key while a hash table rehashes; RESTORE it once
        writer = _RestoreWriter(target, target_url)
        per_trip = min(batch, 16)  # until the values' size is known
        cursor = b"0"
        try:
            while True:
                cursor, blob, keys, largest, gone = pack(args=[cursor, per_trip, int(replace)])
                skipped += int(gone)
                fingerprints = [_fingerprint(k) for k in keys]
                if not seen.isdisjoint(fingerprints) or len(set(fingerprints)) != len(fingerprints):
                    keys, blob = _drop_repeats(keys, blob, fingerprints, seen)
                seen.update(fingerprints)
                if keys:
                    writer.send(keys, blob)
                    restored += len(keys)
                    # trips sized from the last trip's largest command: ≈ BYTES_PER_TRIP when values are alike
                    per_trip = max(1, min(batch, BYTES_PER_TRIP // max(int(largest), 1)))
                if cursor in (b"0", 0, "0"):
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


def _drop_repeats(keys: list[bytes], blob: bytes, fingerprints: list[bytes],
                  seen: set[bytes]) -> tuple[list[bytes], bytes]:
    """The batch without keys already sent (rare: SCAN repeats keys only across a rehash): re-encoded here."""
    reader = hiredis.Reader()
    reader.feed(blob)
    kept_keys: list[bytes] = []
    kept: list[bytes] = []
    batch_seen: set[bytes] = set()
    for key, fingerprint in zip(keys, fingerprints):
        command = reader.gets()
        if fingerprint in seen or fingerprint in batch_seen:
            continue
        batch_seen.add(fingerprint)
        kept_keys.append(key)
        kept.append(encode_command(*command))
    return kept_keys, b"".join(kept)


#: one batch, packed by the scratch server: ARGV cursor, count, replace (1/0) → {cursor, RESTORE commands
#: as RESP, their keys, the largest command's length, keys gone (expired) since SCAN}
PACK_RESTORES = r"""
local scan = redis.call('SCAN', ARGV[1], 'COUNT', ARGV[2])
local head = ARGV[3] == '1' and '*5\r\n$7\r\nRESTORE\r\n$' or '*4\r\n$7\r\nRESTORE\r\n$'
local tail = ARGV[3] == '1' and '$7\r\nREPLACE\r\n' or ''
local out, keys, largest, gone = {}, {}, 0, 0
for _, key in ipairs(scan[2]) do
  local payload = redis.call('DUMP', key)
  local ttl = payload and redis.call('PTTL', key) or -2
  if ttl == -2 then
    gone = gone + 1
  else
    local t = string.format('%d', ttl < 0 and 0 or ttl)
    local command = head .. #key .. '\r\n' .. key .. '\r\n$' .. #t .. '\r\n' .. t .. '\r\n$' .. #payload
      .. '\r\n' .. payload .. '\r\n' .. tail
    out[#out + 1] = command
    keys[#keys + 1] = key
    if #command > largest then largest = #command end
  end
end
return {scan[1], table.concat(out), keys, largest, gone}
"""

#: replies of a batch that the target restored in full
_OK = b"+OK\r\n"


class _RestoreWriter:
    """RESTOREs in flight on the target, one connection: a batch is sent, and the replies of the batch
    before it are read only then, so the target restores while the scratch packs the next batch."""

    IN_FLIGHT = 2

    def __init__(self, target: redis.Redis, url: str) -> None:
        self.pool, self.url = target.connection_pool, url
        self.conn: Any = None
        self.in_flight: deque[list[bytes]] = deque()

    def send(self, keys: list[bytes], blob: bytes) -> None:
        if len(self.in_flight) >= self.IN_FLIGHT:
            self._read_oldest()
        if self.conn is None:
            self.conn = self.pool.get_connection()
        try:
            self.conn.send_packed_command([blob], check_health=False)
        except BaseException:
            self.close()
            raise
        self.in_flight.append(keys)

    def wait(self) -> None:
        """Read the replies of every batch in flight; RestoreFailed naming the first key the target refused."""
        while self.in_flight:
            self._read_oldest()
        if self.conn is not None:
            self.pool.release(self.conn)
            self.conn = None

    def _read_oldest(self) -> None:
        keys = self.in_flight.popleft()
        try:
            refusal = _first_refusal(self.conn, len(keys))
        except BaseException:
            self.close()
            raise
        if refusal is not None:
            self.close()
            key, error = keys[refusal[0]], refusal[1]
            hint = "pass --replace to overwrite keys" if "BUSYKEY" in error else "check the target's log"
            raise RestoreFailed(f"{redact_url(self.url)} refused RESTORE of key {key[:80]!r}: {error}", fix=hint)

    def close(self) -> None:
        """Drop batches still in flight (after an error): the connection is not reused."""
        if self.conn is not None:
            self.conn.disconnect()
            self.pool.release(self.conn)
            self.conn, self.in_flight = None, deque()


def _first_refusal(conn: Any, count: int) -> tuple[int, str] | None:
    """Read `count` RESTORE replies: None when all are +OK (checked as one byte string), else the index and
    text of the first error. Never reads past them: the next batch's replies follow on the same socket."""
    sock = conn._sock  # the handshake is done and redis-py's parser holds nothing unread
    expected = _OK * count
    data = bytearray()
    try:
        while len(data) < len(expected):
            chunk = sock.recv(len(expected) - len(data))
            if not chunk:
                raise redis.ConnectionError("the target closed the connection during RESTORE")
            data += chunk
            if b"-" in chunk:
                break
        if data == expected:
            return None
        reader = hiredis.Reader()
        reader.feed(bytes(data))
        for index in range(count):
            while (reply := reader.gets()) is False:
                chunk = sock.recv(65536)  # an error: the connection is dropped after it, read freely
                if not chunk:
                    raise redis.ConnectionError("the target closed the connection during RESTORE")
                reader.feed(chunk)
            if isinstance(reply, hiredis.ReplyError):
                return index, str(reply)
        return None
    except OSError as exc:
        raise redis.ConnectionError(f"reading RESTORE replies failed: {exc.__class__.__name__}") from None
