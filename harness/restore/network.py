"""The `network` strategy: stream keys from a scratch server into the target with DUMP/RESTORE.

Works against any Redis we can reach (no access to its disk needed). Keys are
read with SCAN, DUMP and PTTL in pipelined batches and written with
`RESTORE key ttl payload [REPLACE]`, so types, values and remaining TTLs carry
over. Every key the target confirmed is appended to a journal file, so a failed
restore can remove exactly what it wrote (harness.restore.network_plane) and
never flushes a database. `flush_targets` empties the target databases first,
only for an explicit `--replace`, after the target was snapshotted.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import hiredis
import redis

from harness.backup.dataset import db_client, keyspace
from harness.config import redact_url
from harness.errors import DrillError, UsageError
from harness.redis_client import connect
from harness.redis_process import RedisProcess
from harness.resp import reply_text

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
    scratch: RedisProcess, target_url: str, *, password: str | None, replace: bool, batch: int = BATCH,
    journal: IO[bytes] | None = None, skip_existing: bool = False,
) -> StreamResult:
    """Copy every key of `scratch` into the target; RestoreFailed naming the first key it refused.

    Three processes share the work and overlap: the scratch server DUMPs the next trip while this process
    packs the RESTOREs of the last one, and the target restores up to two batches in flight. Requests and
    replies are packed and parsed here in bulk (one %-format per command, one hiredis call per trip):
    redis-py's per-command bookkeeping cost more than both servers' work.

    `journal` receives every key the target confirmed; `skip_existing` (a put-back) leaves a key the target
    already holds as it is instead of failing (counted as skipped)."""
    space = keyspace(db_client(scratch, 0))
    mapping = db_mapping(sorted(space), _url_db(target_url), url=target_url)
    with _uncompressed_dumps(scratch):
        return _stream(scratch, target_url, mapping, password=password, replace=replace, batch=batch,
                       journal=journal, skip_existing=skip_existing)


@contextmanager
def _uncompressed_dumps(scratch: RedisProcess) -> Iterator[None]:
    """DUMP without LZF while we stream (`rdbcompression no` on our scratch server, put back after): a
    fifth of the scratch's CPU at 1 M keys, and the target has nothing to decompress. Same data, more bytes
    on a loopback or LAN link."""
    client = db_client(scratch, 0)
    before = next(iter(client.config_get("rdbcompression").values()), None) or "yes"
    client.config_set("rdbcompression", "no")
    try:
        yield
    finally:
        client.config_set("rdbcompression", before)


def _stream(scratch: RedisProcess, target_url: str, mapping: dict[int, int], *, password: str | None,
            replace: bool, batch: int, journal: IO[bytes] | None, skip_existing: bool) -> StreamResult:
    restored = skipped = 0
    for src_db, dst_db in mapping.items():
        client = db_client(scratch, src_db)
        source = _Source(client, batch=batch, dedupe=scan_may_repeat(client, src_db))
        writer = _RestoreWriter(connect(_with_db(target_url, dst_db), password, timeout=30.0), target_url,
                                journal=journal, db=dst_db, skip_existing=skip_existing)
        try:
            in_flight = source.send_next_trip()
            while in_flight is not None:
                keys, answers = source.receive(in_flight)
                in_flight = source.send_next_trip()  # the scratch DUMPs it while this one is packed
                written, blob = _restore_commands(keys, answers, replace=replace)
                if written:
                    writer.send(written, blob)
                restored += len(written)
                skipped += len(keys) - len(written)
            writer.wait()
            restored, skipped = restored - writer.existing_skipped, skipped + writer.existing_skipped
        finally:
            writer.close()
            source.close()
    return StreamResult(restored, skipped)


def flush_targets(scratch: RedisProcess, target_url: str, *, password: str | None) -> list[int]:
    """FLUSHDB every target database the backup maps to; return their numbers."""
    space = keyspace(db_client(scratch, 0))
    mapping = db_mapping(sorted(space), _url_db(target_url), url=target_url)
    for dst_db in sorted(set(mapping.values())):
        connect(_with_db(target_url, dst_db), password, timeout=30.0).flushdb()
    return sorted(set(mapping.values()))


def _fingerprint(key: bytes) -> bytes:
    return hashlib.blake2b(key, digest_size=12).digest()


#: a table at least this full (Redis shrinks below 1/10 before 7.2, 1/8 after) is far from shrinking
_SAFE_FILL = 0.25


def scan_may_repeat(client: redis.Redis, db: int) -> bool:
    """Whether SCAN over this db of our scratch server can return a key twice.

    SCAN repeats keys only when the table shrinks (or is already rehashing). Nothing writes to the
    scratch; keys only leave it by expiry. So when the table stays ≥ 1/4 full even after every key
    with a TTL is gone, it cannot shrink during the stream, and the per-key fingerprint set
    (≈ 100 B per key) is not needed. `DEBUG HTSTATS` gives the table's size; a server that refuses
    it (not one we started) keeps the set.
    """
    try:
        stats = client.execute_command("DEBUG", "HTSTATS", db)
    except redis.RedisError:
        return True
    main = reply_text(stats).split("[Expires HT]")[0]
    size, used = re.search(r"table size: (\d+)", main), re.search(r"number of elements: (\d+)", main)
    if "rehashing target" in main or size is None or used is None:
        return True
    keys = int(used.group(1))
    space = client.info("keyspace").get(f"db{db}")
    can_expire = int(space.get("expires", keys)) if isinstance(space, dict) else keys
    return keys - can_expire < _SAFE_FILL * int(size.group(1))


def _fresh(keys: list[bytes], seen: set[bytes]) -> list[bytes]:
    """`keys` without those already sent; records them in `seen` (12-byte fingerprints, not the keys)."""
    fingerprints = [_fingerprint(k) for k in keys]
    if seen.isdisjoint(fingerprints) and len(set(fingerprints)) == len(fingerprints):
        seen.update(fingerprints)
        return keys
    fresh = []
    for key, fingerprint in zip(keys, fingerprints):
        if fingerprint not in seen:
            seen.add(fingerprint)
            fresh.append(key)
    return fresh


_SCAN = b"*4\r\n$4\r\nSCAN\r\n$%d\r\n%s\r\n$5\r\nCOUNT\r\n$%d\r\n%s\r\n"
_DUMP_PTTL = b"*2\r\n$4\r\nDUMP\r\n$%d\r\n%s\r\n*2\r\n$4\r\nPTTL\r\n$%d\r\n%s\r\n"
_RESTORE = b"*4\r\n$7\r\nRESTORE\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
_RESTORE_REPLACE = b"*5\r\n$7\r\nRESTORE\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$7\r\nREPLACE\r\n"


@dataclass(frozen=True)
class _Trip:
    keys: list[bytes]
    scans: bool  # a SCAN rides at the end of the trip


class _Source:
    """The scratch server's side: SCAN, and DUMP + PTTL in trips, one trip in flight on one connection,
    spoken to in packed RESP and read with a bare hiredis Reader."""

    def __init__(self, client: redis.Redis, *, batch: int, dedupe: bool = True) -> None:
        self.client, self.pool = client, client.connection_pool  # the client closes its pool when collected
        self.conn: Any = self.pool.get_connection()
        self.conn.connect()  # (redis-py may hand it out unconnected) AUTH and SELECT happen here
        self.reader = hiredis.Reader()
        self.batch, self.count = batch, b"%d" % batch
        self.per_trip = min(batch, 16)  # until the values' size is known
        self.cursor: bytes | None = b"0"  # where the next SCAN starts; None once SCAN returned 0
        self.queue: list[bytes] = []  # scanned, not yet sent
        # SCAN may repeat a key while a hash table shrinks; RESTORE it once (None: that cannot happen here)
        self.seen: set[bytes] | None = set() if dedupe else None

    def send_next_trip(self) -> _Trip | None:
        """Send DUMP + PTTL for the next keys (≈ BYTES_PER_TRIP of payloads), and SCAN on once the queue
        runs dry; None when everything was sent."""
        if not self.queue and self.cursor is None:
            return None
        keys, self.queue = self.queue[:self.per_trip], self.queue[self.per_trip:]
        request = b"".join([_DUMP_PTTL % (len(k), k, len(k), k) for k in keys])
        scans = not self.queue and self.cursor is not None
        if scans and self.cursor is not None:
            request += _SCAN % (len(self.cursor), self.cursor, len(self.count), self.count)
            self.cursor = None  # until the reply says where to go on
        try:
            self.conn._sock.sendall(request)  # handshake done; redis-py's parser holds nothing unread
        except OSError as exc:
            raise redis.ConnectionError(f"writing to the scratch server failed: {exc.__class__.__name__}") from None
        return _Trip(keys, scans)

    def receive(self, trip: _Trip) -> tuple[list[bytes], list[Any]]:
        """The trip's keys and their DUMP/PTTL replies; queues what its SCAN found. The replies are read as
        one array (a RESP array header fed to the Reader first): one C call builds the whole list."""
        self.reader.feed(b"*%d\r\n" % (2 * len(trip.keys) + trip.scans))
        try:
            while (answers := self.reader.gets()) is False:
                chunk = self.conn._sock.recv(1 << 20)
                if not chunk:
                    raise redis.ConnectionError("the scratch server closed the connection")
                self.reader.feed(chunk)
        except OSError as exc:
            raise redis.ConnectionError(f"reading the scratch server failed: {exc.__class__.__name__}") from None
        if hiredis.ReplyError in set(map(type, answers)):  # one C pass over the trip, not an isinstance per reply
            error = next(r for r in answers if isinstance(r, hiredis.ReplyError))
            raise redis.ResponseError(str(error))  # the scratch is ours: a bug, not the target's refusal
        if trip.scans:
            cursor, found = answers.pop()
            self.cursor = None if cursor == b"0" else cursor
            self.queue.extend(found if self.seen is None else _fresh(found, self.seen))
        if trip.keys:  # size the next trips from this one's largest value
            largest = max(map(len, filter(None, answers[::2])), default=1)
            self.per_trip = max(1, min(self.batch, BYTES_PER_TRIP // (largest + 64)))
        return trip.keys, answers

    def close(self) -> None:
        self.conn.disconnect()
        self.pool.release(self.conn)


def _restore_commands(keys: list[bytes], answers: list[Any], *, replace: bool) -> tuple[list[bytes], bytes]:
    """(the keys still there, their RESTORE commands as one string) from DUMP/PTTL replies in pairs."""
    template = _RESTORE_REPLACE if replace else _RESTORE
    kept = [(k, p, b"%d" % t if t > 0 else b"0") for k, p, t in zip(keys, answers[::2], answers[1::2])
            if p is not None and t != -2]  # PTTL -1: no TTL (RESTORE ttl 0); -2 or no DUMP: expired since SCAN
    return [k for k, _, _ in kept], b"".join([template % (len(k), k, len(t), t, len(p), p) for k, p, t in kept])


#: replies of a batch that the target restored in full
_OK = b"+OK\r\n"


class _RestoreWriter:
    """RESTOREs in flight on the target, one connection: a batch is sent, and the replies of the batch
    before it are read only then, so the target restores while the scratch packs the next batch. The
    connection is used raw after redis-py's handshake (AUTH, SELECT): `_first_refusal` reads the replies."""

    IN_FLIGHT = 2

    def __init__(self, target: redis.Redis, url: str, *, journal: IO[bytes] | None = None, db: int = 0,
                 skip_existing: bool = False) -> None:
        self.target, self.pool, self.url = target, target.connection_pool, url  # the client closes its pool when collected
        self.conn: Any = None
        self.in_flight: deque[list[bytes]] = deque()
        self.journal, self.db = journal, db
        self.skip_existing, self.existing_skipped = skip_existing, 0
        self.reader = hiredis.Reader()  # the slow path's: it may hold replies read ahead of a batch

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
        reader = self.reader
        try:
            refusal = self._refusal(keys)
            if refusal is not None:
                self._journal([k for i, k in enumerate(keys) if i not in refusal[2]])  # the rest of the batch ran
                while self.in_flight:  # so did the batches sent after it: journal what they wrote
                    later = self.in_flight.popleft()
                    failed = read_refusals(self.conn, len(later), reader)
                    self._journal([k for i, k in enumerate(later) if i not in failed])
        except BaseException:
            self.close()
            raise
        if refusal is not None:
            self.close()
            key, error = keys[refusal[0]], refusal[1]
            hint = "pass --replace to overwrite keys" if "BUSYKEY" in error else "check the target's log"
            raise RestoreFailed(f"{redact_url(self.url)} refused RESTORE of key {key[:80]!r}: {error}", fix=hint)
        if not self.skip_existing:
            self._journal(keys)

    def _refusal(self, keys: list[bytes]) -> tuple[int, str, set[int]] | None:
        """The batch's first refusal (index, error, every refused index); BUSYKEY refusals are not refusals
        under `skip_existing` (their keys are left as the target holds them)."""
        if not self.skip_existing:
            return _first_refusal(self.conn, len(keys), self.reader)
        failed = read_refusals(self.conn, len(keys), self.reader)
        others = {i: e for i, e in failed.items() if not e.startswith("BUSYKEY")}
        self.existing_skipped += len(failed) - len(others)
        if not others:
            self._journal([k for i, k in enumerate(keys) if i not in failed])
            return None
        return min(others), others[min(others)], set(failed)

    def _journal(self, keys: list[bytes]) -> None:
        """Append the keys the target confirmed (`<db> <length>\n<key>` each) for an exact rollback."""
        if self.journal is not None and keys:
            self.journal.write(b"".join([b"%d %d\n%s" % (self.db, len(k), k) for k in keys]))

    def close(self) -> None:
        """Drop batches still in flight (after an error): the connection is not reused."""
        if self.conn is not None:
            self.conn.disconnect()
            self.pool.release(self.conn)
            self.conn, self.in_flight = None, deque()


def _first_refusal(conn: Any, count: int, reader: Any) -> tuple[int, str, set[int]] | None:
    """Read `count` RESTORE replies: None when all are +OK (checked as one byte string), else the index and
    text of the first error and the indexes of every refused one (the others were written). The fast path
    never reads past them (the next batch's replies follow on the same socket); after an error, `reader`
    keeps what was read beyond this batch for the batches still in flight."""
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
    except OSError as exc:
        raise redis.ConnectionError(f"reading RESTORE replies failed: {exc.__class__.__name__}") from None
    if data == expected:
        return None
    reader.feed(bytes(data))
    refused = read_refusals(conn, count, reader)
    if not refused:
        return None
    first = min(refused)
    return first, refused[first], set(refused)


def read_refusals(conn: Any, count: int, reader: Any) -> dict[int, str]:
    """Read `count` replies through `reader` (fed from the socket as needed); {index: error} of the refused."""
    sock = conn._sock
    refused: dict[int, str] = {}
    try:
        for index in range(count):  # every reply of the batch: which keys were written must be known exactly
            while (reply := reader.gets()) is False:
                chunk = sock.recv(65536)
                if not chunk:
                    raise redis.ConnectionError("the target closed the connection during RESTORE")
                reader.feed(chunk)
            if isinstance(reply, hiredis.ReplyError):
                refused[index] = str(reply)
    except OSError as exc:
        raise redis.ConnectionError(f"reading RESTORE replies failed: {exc.__class__.__name__}") from None
    return refused
