"""Seed the sandbox's Redis with data shaped like SENTINEL's: sessions, rate limits, cache, queues.

Shapes and TTLs follow the runbook ("cache, sessions, rate limits"): session
hashes expire in hours to days, rate-limit counters in minutes, cache entries
in hours; users, config cache, audit queues and tenant sets never expire, so
the key count never falls below a floor however long the sandbox runs. The
same seed always produces the same keys. Written through pipelines in batches.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import redis

BATCH = 2000


@dataclass(frozen=True)
class SeedResult:
    keys: int
    by_type: dict[str, int]
    with_ttl: int
    seconds: float


def _plan(total: int) -> dict[str, int]:
    """How many keys of each family to write for about `total` keys (shares of SENTINEL's keyspace)."""
    shares = {"session": 0.38, "user": 0.08, "ratelimit": 0.24, "cache": 0.22, "config": 0.02,
              "audit": 0.01, "tenant": 0.02, "leaderboard": 0.005, "window": 0.015}
    return {family: max(1, round(total * share)) for family, share in shares.items()}


def _commands(total: int, rng: random.Random, now: int) -> list[tuple[str, str, tuple[Any, ...], int | None]]:
    """(command, key, args, ttl_seconds) for every key to write."""
    plan = _plan(total)
    tenants = [f"t{n:03d}" for n in range(plan["tenant"])]
    out: list[tuple[str, str, tuple[Any, ...], int | None]] = []
    for i in range(plan["user"]):
        out.append(("hset", f"user:{i:06d}", ("email", f"user{i}@example.test", "tenant", rng.choice(tenants),
                                              "role", rng.choice(["analyst", "admin", "viewer"]),
                                              "created_at", str(now - rng.randint(86400, 86400 * 400))), None))
    for _ in range(plan["session"]):
        sid = uuid.UUID(int=rng.getrandbits(128))
        out.append(("hset", f"session:{sid}", (
            "user_id", f"{rng.randrange(plan['user']):06d}", "tenant", rng.choice(tenants),
            "created_at", str(now - rng.randint(0, 86400)), "last_seen", str(now - rng.randint(0, 3600)),
            "ip", f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            "scopes", "analyze:read,analyze:write"), rng.randint(3600, 7 * 86400)))
    for i in range(plan["ratelimit"]):
        key_id = hashlib.sha1(f"k{i}".encode()).hexdigest()[:12]
        out.append(("set", f"ratelimit:{key_id}:{now // 60}", (str(rng.randint(1, 120)),), rng.randint(600, 3600)))
    for i in range(plan["cache"]):
        digest = hashlib.sha256(f"doc{i}".encode()).hexdigest()[:32]
        verdict = {"verdict": rng.choice(["benign", "suspicious", "malicious"]), "score": round(rng.random(), 4),
                   "model": "brain-2.4", "analyzed_at": now - rng.randint(0, 7200),
                   "signals": [rng.choice(["url", "attachment", "sender", "payload"]) for _ in range(3)]}
        out.append(("set", f"cache:analysis:{digest}", (json.dumps(verdict),), rng.randint(3600, 86400)))
    for i in range(plan["config"]):
        out.append(("set", f"cache:config:feature-{i:03d}", (json.dumps({"enabled": rng.random() < 0.7,
                                                                          "rollout": rng.randint(0, 100)}),), None))
    for i in range(plan["audit"]):
        entries = [json.dumps({"ts": now - j * 37, "actor": f"{rng.randrange(plan['user']):06d}",
                               "action": rng.choice(["login", "analyze", "export", "rotate-key"])})
                   for j in range(rng.randint(20, 50))]
        out.append(("rpush", f"queue:audit:{tenants[i % len(tenants)]}:{i}", tuple(entries), None))
    for tenant in tenants:
        members = {f"{rng.randrange(plan['user']):06d}" for _ in range(rng.randint(3, 30))}
        out.append(("sadd", f"tenant:{tenant}:members", tuple(sorted(members)), None))
    for d in range(plan["leaderboard"]):
        scores: list[Any] = []
        for n in range(50):
            scores += [rng.randint(0, 10_000), f"indicator-{n:03d}"]
        out.append(("zadd_flat", f"leaderboard:threats:{d}", tuple(scores), None))
    for i in range(plan["window"]):
        hits: list[Any] = []
        for n in range(rng.randint(5, 40)):
            hits += [now - rng.randint(0, 60), f"req-{i}-{n}"]
        out.append(("zadd_flat", f"ratelimit:window:{i:05d}", tuple(hits), rng.randint(120, 900)))
    return out


def seed(client: redis.Redis, *, keys: int = 10_500, seed_value: int = 20240611) -> SeedResult:
    """Write about `keys` SENTINEL-like keys (deterministic for `seed_value`); return what was written."""
    start = time.monotonic()
    rng = random.Random(seed_value)
    commands = _commands(keys, rng, int(time.time()))
    pipe = client.pipeline(transaction=False)
    types: Counter[str] = Counter()
    with_ttl = 0
    for n, (cmd, key, args, ttl) in enumerate(commands, 1):
        if cmd == "hset":
            pipe.hset(key, mapping=dict(zip(args[::2], args[1::2])))
            types["hash"] += 1
        elif cmd == "set":
            pipe.set(key, args[0], ex=ttl)
            types["string"] += 1
        elif cmd == "rpush":
            pipe.rpush(key, *args)
            types["list"] += 1
        elif cmd == "sadd":
            pipe.sadd(key, *args)
            types["set"] += 1
        else:
            pipe.zadd(key, {member: score for score, member in zip(args[::2], args[1::2])})
            types["zset"] += 1
        if ttl is not None:
            with_ttl += 1
            if cmd != "set":
                pipe.expire(key, ttl)
        if n % BATCH == 0:
            pipe.execute()
    pipe.execute()
    return SeedResult(keys=len(commands), by_type=dict(types), with_ttl=with_ttl, seconds=time.monotonic() - start)
