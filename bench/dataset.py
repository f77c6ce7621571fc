"""Build the bench dataset in a redis-server: mixed types with TTLs, streamed as RESP into `redis-cli --pipe`.

Values are slices of one random pool, so the RDB's LZF compression cannot shrink
them: the RDB size is what the key count promises. Nothing is held in memory
beyond one batch of commands, so the 2 GB size streams like the others.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import redis

from harness.backup.dataset import db_client
from harness.redaction import child_environment
from harness.redis_process import RedisProcess
from harness.resp import encode_command

_POOL = os.urandom(1 << 20)
_TTL_S = 6 * 3600  # far beyond any bench run: no key expires between a step and its floor


@dataclass(frozen=True)
class Size:
    """A dataset size: how many keys and which mix (small SENTINEL-like keys, or fewer larger values)."""

    name: str
    keys: int
    large: bool


SIZES = {
    "quick": Size("quick", 20_000, large=False),
    "1m": Size("1m", 1_000_000, large=False),   # ≈ 100 MB RDB
    "2g": Size("2g", 200_000, large=True),      # ≈ 2 GB RDB (≈ 10 KB per key)
}


def _blob(i: int, n: int) -> bytes:
    start = (i * 7919) % (len(_POOL) - n)
    return _POOL[start : start + n]


def _ttl(i: int) -> bytes:
    return b"%d" % (_TTL_S + i % 3600)


def _small(i: int) -> Iterator[bytes]:
    """SENTINEL-like: sessions with TTLs, rate limits, caches, user hashes, a few lists/sets/zsets/streams."""
    kind = i % 10
    if kind < 4:
        yield encode_command(b"SET", b"session:%d" % i, _blob(i, 60 + i % 40), b"EX", _ttl(i))
    elif kind < 6:
        yield encode_command(b"SET", b"ratelimit:%d" % i, b"%d" % (i % 100), b"PX", b"%d" % (_TTL_S * 1000 + i))
    elif kind < 8:
        yield encode_command(b"SET", b"cache:%d" % i, _blob(i, 100 + i % 100))
    elif kind == 8:
        yield encode_command(b"HSET", b"user:%d" % i, b"name", b"n%d" % i, b"plan", b"pro", b"seen", b"%d" % i)
        if i % 20 == 8:
            yield encode_command(b"EXPIRE", b"user:%d" % i, _ttl(i))
    else:
        sub = (i // 10) % 5
        if sub == 0:
            yield encode_command(b"RPUSH", b"queue:%d" % i, b"job-a", b"job-b", _blob(i, 20))
        elif sub == 1:
            yield encode_command(b"SADD", b"tags:%d" % i, b"a", b"b", b"t%d" % (i % 7))
        elif sub == 2:
            yield encode_command(b"ZADD", b"rank:%d" % i, b"1", b"a", b"2.5", b"b")
        elif sub == 3:
            yield encode_command(b"XADD", b"events:%d" % i, b"*", b"kind", b"login", b"i", b"%d" % i)
        else:
            yield encode_command(b"SET", b"bin\x00%d\xff" % i, _blob(i, 16), b"PX", b"%d" % (_TTL_S * 1000))


def _large(i: int) -> Iterator[bytes]:
    """Fewer, larger values: 8–16 KB blobs, 10 KB hashes and lists, 5 KB sorted sets."""
    kind = i % 10
    if kind < 6:
        args = [b"SET", b"blob:%d" % i, _blob(i, 8192 + (i * 31) % 8192)]
        yield encode_command(*args, *((b"EX", _ttl(i)) if i % 2 else ()))
    elif kind < 8:
        fields = [x for f in range(10) for x in (b"f%d" % f, _blob(i + f, 1024))]
        yield encode_command(b"HSET", b"doc:%d" % i, *fields)
    elif kind == 8:
        yield encode_command(b"RPUSH", b"log:%d" % i, *[_blob(i + j, 1024) for j in range(10)])
        yield encode_command(b"EXPIRE", b"log:%d" % i, _ttl(i))
    else:
        members = [x for m in range(50) for x in (b"%d" % m, _blob(i + m, 100))]
        yield encode_command(b"ZADD", b"board:%d" % i, *members)


def write_seed(out: IO[bytes], size: Size, *, scale: float = 1.0) -> int:
    """Write the dataset's commands to `out` in batches; return the number of keys."""
    keys = max(10, int(size.keys * scale))
    make = _large if size.large else _small
    batch: list[bytes] = []
    for i in range(keys):
        batch.extend(make(i))
        if len(batch) >= 2000:
            out.write(b"".join(batch))
            batch.clear()
    batch.append(encode_command(b"XGROUP", b"CREATE", b"events:39" if not size.large else b"stream:g", b"workers", b"0",
                      b"MKSTREAM"))
    out.write(b"".join(batch))
    return keys + (0 if not size.large else 1)


def pipe_env(password: str | None) -> dict[str, str]:
    """redis-cli reads the password from REDISCLI_AUTH: never argv."""
    return child_environment({"REDISCLI_AUTH": password} if password else None)


def redis_cli_pipe(server: RedisProcess, *, source: Path | None = None) -> subprocess.Popen[bytes]:
    """`redis-cli --pipe` into `server`, reading `source` (a RESP file) or, without one, its stdin."""
    stdin = source.open("rb") if source is not None else subprocess.PIPE
    try:
        return subprocess.Popen(["redis-cli", "-h", "127.0.0.1", "-p", str(server.port), "--pipe"],
                                stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=pipe_env(server.password))
    finally:
        if source is not None and not isinstance(stdin, int):
            stdin.close()


def seed_server(server: RedisProcess, size: Size, *, scale: float = 1.0) -> int:
    """Fill `server` with the dataset of `size`; return its key count (DBSIZE)."""
    proc = redis_cli_pipe(server)
    assert proc.stdin is not None
    write_seed(proc.stdin, size, scale=scale)
    proc.stdin.close()
    output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
    if proc.wait() != 0 or "errors: 0" not in output:
        raise RuntimeError(f"seeding the bench dataset failed: {output.strip()[-300:]}")
    return int(server.client().dbsize())


def write_restore_resp(server: RedisProcess, dest: Path, *, batch: int = 1000) -> tuple[int, int]:
    """Every key of `server` (db 0) as `RESTORE key ttl payload` in RESP; return (keys, bytes written)."""
    client: redis.Redis = db_client(server, 0)
    keys = written = 0
    cursor = 0
    with dest.open("wb") as out:
        while True:
            cursor, found = client.scan(cursor=cursor, count=batch)
            pipe = client.pipeline(transaction=False)
            for key in found:
                pipe.dump(key)
                pipe.pttl(key)
            answers = pipe.execute()
            chunk = []
            for n, key in enumerate(found):
                payload, pttl = answers[2 * n], int(answers[2 * n + 1])
                if payload is None or pttl == -2:
                    continue
                chunk.append(encode_command(b"RESTORE", key if isinstance(key, bytes) else key.encode(), b"%d" % max(pttl, 0), payload))
            data = b"".join(chunk)
            out.write(data)
            keys += len(chunk)
            written += len(data)
            if int(cursor) == 0:
                return keys, written
