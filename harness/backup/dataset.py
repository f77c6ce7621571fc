"""Describe a dataset loaded from an RDB: key counts, type histogram, sample digests, canary.

Take and verify both load the file into a scratch redis-server and describe it
with these functions, so the manifest and the check use one definition. Digests
are computed over a canonical form of type + value (not DUMP bytes, whose
encoding may change with server version or config), so a key still matches after
a restore into another Redis 7 server.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from harness.backup.manifest import KeySample
from harness.measure.canary import CANARY_LAST, canary_high_water, canary_key
from harness.redis_process import RedisProcess, ScratchRedis

SAMPLE_SIZE = 64
CORE_TYPES = ("string", "list", "set", "zset", "hash", "stream")


@dataclass(frozen=True)
class DatasetSummary:
    """`key_count` = keys in the file (loaded + already expired when loaded)."""

    key_count: int
    keys_expired_on_load: int
    keyspace: dict[int, int]
    types: dict[str, int]
    samples: tuple[KeySample, ...]
    canary_high_water: int | None



@contextmanager
def loaded_scratch(rdb: Path, *, load_timeout: float = 300.0) -> Iterator[ScratchRedis]:
    """A scratch redis-server (random password, loopback only) that has loaded `rdb`."""
    scratch = ScratchRedis(rdb, password=secrets.token_hex(16))
    with scratch:
        scratch.start(load_timeout=load_timeout)
        yield scratch


def encode_key(key: bytes) -> str:
    """UTF-8 text when possible, otherwise `b64:` + base64 (so JSON can carry any key)."""
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or text.startswith("b64:"):
        return "b64:" + base64.b64encode(key).decode()
    return text


def decode_key(text: str) -> bytes:
    return base64.b64decode(text[4:]) if text.startswith("b64:") else text.encode("utf-8")


def keyspace(client: redis.Redis) -> dict[int, int]:
    """Live keys per database, from INFO keyspace."""
    info = client.info("keyspace")
    return {int(name[2:]): int(v["keys"]) for name, v in info.items() if name.startswith("db")}


def _feed(h: Any, *parts: Any) -> None:
    for part in parts:
        raw = _as_bytes(part)
        h.update(b"%d:" % len(raw))
        h.update(raw)


def key_digest(client: redis.Redis, key: bytes, type_name: str) -> str:
    """SHA-256 over a canonical form of the key's type and value ('' when the key is gone)."""
    h = hashlib.sha256()
    _feed(h, type_name.encode())
    if type_name == "string":
        value = client.get(key)
        if value is None:
            return ""
        _feed(h, value)
    elif type_name == "list":
        _feed(h, *client.lrange(key, 0, -1))
    elif type_name == "set":
        _feed(h, *sorted(client.smembers(key)))
    elif type_name == "zset":
        pairs: list[tuple[bytes, float]] = client.zrange(key, 0, -1, withscores=True)  # type: ignore[assignment]
        for member, score in pairs:
            _feed(h, member, repr(float(score)).encode())
    elif type_name == "hash":
        for fld, value in sorted(client.hgetall(key).items()):
            _feed(h, fld, value)
    elif type_name == "stream":
        for entry_id, fields in client.xrange(key, "-", "+") or []:
            _feed(h, entry_id, *[p for kv in (fields or {}).items() for p in kv])
        for group in client.xinfo_groups(key) or []:
            _feed(h, group["name"], group["last-delivered-id"])
    else:  # module types: DUMP minus its 10-byte trailer (RDB version + CRC64)
        payload = client.dump(key)
        if payload is None:
            return ""
        _feed(h, bytes(payload)[:-10])
    return h.hexdigest()


def _as_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


#: Runs inside the scratch server (ours, loopback, throwaway): one pass over every key of the selected db,
#: counting TYPEs and keeping the `ARGV[1]` keys with the smallest SHA-1. KEYS, not SCAN:
#: its iterator pauses rehashing, so each key is seen exactly once. Replies: {type, count, …, "", rank, key, type, …}.
_DESCRIBE_SCRIPT = """
local counts, top, worst = {}, {}, nil
local size = tonumber(ARGV[1])
local function by_rank(a, b) return a[1] < b[1] end
for _, key in ipairs(redis.call("KEYS", "*")) do
  local kind = redis.call("TYPE", key)["ok"]
  counts[kind] = (counts[kind] or 0) + 1
  local rank = redis.sha1hex(key)
  if #top < size then
    top[#top + 1] = {rank, key, kind}
    if #top == size then table.sort(top, by_rank); worst = top[size][1] end
  elseif rank < worst then
    top[size] = {rank, key, kind}
    table.sort(top, by_rank); worst = top[size][1]
  end
end
local out = {}
for kind, n in pairs(counts) do out[#out + 1] = kind; out[#out + 1] = n end
out[#out + 1] = ""
for _, item in ipairs(top) do out[#out + 1] = item[1]; out[#out + 1] = item[2]; out[#out + 1] = item[3] end
return out
"""


def _describe_db(client: redis.Redis, db: int, sample_size: int) -> tuple[dict[str, int], list[tuple[bytes, int, bytes, str]]]:
    """(type → live keys, the db's `sample_size` lowest-ranked (rank, db, key, type)) from one server-side pass."""
    reply = client.eval(_DESCRIBE_SCRIPT, 0, sample_size)
    split = reply.index(b"")
    counts = {_as_bytes(reply[i]).decode(): int(reply[i + 1]) for i in range(0, split, 2)}
    ranked = reply[split + 1 :]
    return counts, [(_as_bytes(ranked[i]), db, _as_bytes(ranked[i + 1]), _as_bytes(ranked[i + 2]).decode())
                    for i in range(0, len(ranked), 3)]


def describe_dataset(server: RedisProcess, *, sample_size: int = SAMPLE_SIZE) -> DatasetSummary:
    """Count, classify and sample every key of a freshly loaded server.

    The per-key work (TYPE, ranking) runs as one Lua script per database inside the
    scratch server: a Python loop over SCAN replies cost ~15 µs per key (16 s at
    1 M keys, bench/), the script ~3. Keys of module types count as "other". The
    sample is the `sample_size` keys with the smallest SHA-1 of the key (the db breaks
    ties): deterministic, independent of iteration order, and spread over the keyspace.
    """
    client = db_client(server, 0)
    persistence = client.info("persistence")
    loaded = int(persistence.get("rdb_last_load_keys_loaded", 0))
    expired = int(persistence.get("rdb_last_load_keys_expired", 0))
    space = keyspace(client)
    if "rdb_last_load_keys_loaded" not in persistence:  # servers before 7.0: no load counters
        loaded, expired = sum(space.values()), 0
    types: dict[str, int] = {}
    ranked: list[tuple[bytes, int, bytes, str]] = []
    for db in sorted(space):
        counts, candidates = _describe_db(db_client(server, db, socket_timeout=None), db, sample_size)
        for type_name, n in counts.items():
            name = type_name if type_name in CORE_TYPES else "other"
            types[name] = types.get(name, 0) + n
        ranked.extend(candidates)
    chosen = sorted(ranked)[:sample_size]
    samples = tuple(_sample(db_client(server, db), db, key, type_name) for _, db, key, type_name in chosen)
    high = canary_high_water(db_client(server, 0)) if 0 in space else None
    return DatasetSummary(loaded + expired, expired, space, dict(sorted(types.items())), samples, high)


def _sample(client: redis.Redis, db: int, key: bytes, type_name: str) -> KeySample:
    expires = client.execute_command("PEXPIRETIME", key)
    return KeySample(
        key=encode_key(key),
        db=db,
        type=type_name,
        digest=key_digest(client, key, type_name),
        expires_at_ms=int(expires) if expires is not None and int(expires) > 0 else None,
    )


def db_client(server: RedisProcess, db: int, *, socket_timeout: float | None = 30.0) -> redis.Redis:
    """A client of one database of a server we started (None: wait as long as a whole-keyspace script runs)."""
    return redis.Redis(
        host="127.0.0.1",
        port=server.port,
        password=server.password,
        db=db,
        socket_timeout=socket_timeout,
        retry=Retry(NoBackoff(), 0),
    )


def canary_present(client: redis.Redis, high_water: int) -> bool:
    """True when the canary `high_water` and the matching `last` pointer are both there."""
    last = client.get(CANARY_LAST)
    return client.exists(canary_key(high_water)) == 1 and last is not None and int(last) == high_water
