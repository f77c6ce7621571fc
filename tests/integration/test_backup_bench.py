"""Benchmark: backup, verify and both restores of a 100k-key dataset (run with `-m slow -s`)."""

from __future__ import annotations

import time

import pytest

from harness.backup import open_store, take_backup, verify_backup
from harness.restore import restore_backup

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEYS = 100_000


def _seed_100k(client) -> None:  # type: ignore[no-untyped-def]
    """SENTINEL-like: sessions with TTLs, rate limits, cache strings, user hashes, a few lists/sets/zsets/streams."""
    pipe = client.pipeline(transaction=False)
    for i in range(KEYS):
        kind = i % 10
        if kind < 4:
            pipe.set(f"session:{i}", f"user-{i}:" + "x" * 64, ex=3600 + i % 600)
        elif kind < 6:
            pipe.set(f"ratelimit:{i}", i % 100, px=600_000)
        elif kind < 8:
            pipe.set(f"cache:{i}", "v" * 200)
        elif kind == 8:
            pipe.hset(f"user:{i}", mapping={"name": f"n{i}", "plan": "pro", "seen": i})
        else:
            sub = i % 4
            if sub == 0:
                pipe.rpush(f"queue:{i}", "a", "b", "c")
            elif sub == 1:
                pipe.sadd(f"tags:{i}", "a", "b")
            elif sub == 2:
                pipe.zadd(f"rank:{i}", {"a": 1, "b": 2})
            else:
                pipe.xadd(f"events:{i}", {"k": "v"})
        if i % 5000 == 4999:
            pipe.execute()
    pipe.execute()


def test_bench_100k_keys(file_store_url, aws_env, bucket, source, redis_factory, data):
    _seed_100k(source.client())
    assert source.client().dbsize() == KEYS
    figures: dict[str, float] = {}
    for kind, url in (("file", file_store_url), ("s3", f"s3://{bucket}/bench")):
        store = open_store(url)
        t = time.monotonic()
        backup = take_backup(source.url, store, password=data.source_password)
        figures[f"{kind} backup"] = time.monotonic() - t
        for phase, seconds in backup.phases.items():
            figures[f"{kind} backup.{phase}"] = seconds

        t = time.monotonic()
        report = verify_backup(store, backup.id, min_keys=KEYS)
        figures[f"{kind} verify"] = time.monotonic() - t
        assert report.passed, report.failed_check
        for check in report.checks:
            figures[f"{kind} verify.{check.name}"] = check.seconds

        for strategy in ("network", "file"):
            target = redis_factory()
            t = time.monotonic()
            result = restore_backup(store, backup.id, target_url=target.url,
                                    target_password=data.target_password, strategy=strategy, managed=target)
            figures[f"{kind} restore {strategy}"] = time.monotonic() - t
            assert result.keys_restored == KEYS
            target.stop()
    size_mb = backup.manifest.size / 1e6
    print(f"\n100k-key benchmark (RDB {size_mb:.1f} MB, redis {backup.manifest.redis_version}):")
    for name, seconds in figures.items():
        print(f"  {name:<32} {seconds:7.2f} s")
