"""Shared fixtures: one moto S3 server and one source Redis per session, fresh state per test.

Real processes only (redis-server on free loopback ports, moto's server over
HTTP); per test a flushed source, a fresh bucket and fresh target servers.
"""

from __future__ import annotations

import logging
import math
import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from harness.redis_process import RedisProcess, free_port

#: the source's password: long and random so a leak anywhere is unmistakable
SOURCE_PASSWORD = "src-" + secrets.token_hex(16)
TARGET_PASSWORD = "tgt-" + secrets.token_hex(16)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1, shared by the session."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one INFO line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No DRILL_*, REDIS_PASSWORD or AWS settings leak in from the developer's shell."""
    import os

    for name in list(os.environ):
        if name.startswith(("DRILL_", "AWS_")) or name in ("REDIS_PASSWORD", "REDISCLI_AUTH"):
            monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def aws_env(clean_env: pytest.MonkeyPatch, moto_endpoint: str) -> str:
    """boto3 pointed at moto through the standard variables (fake credentials)."""
    clean_env.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    clean_env.setenv("AWS_ACCESS_KEY_ID", "testing")
    clean_env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    clean_env.setenv("AWS_DEFAULT_REGION", "us-east-1")
    clean_env.setenv("AWS_CONFIG_FILE", "/dev/null")
    clean_env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    return moto_endpoint


@pytest.fixture
def s3(aws_env: str) -> Any:
    import boto3

    return boto3.client("s3")


@pytest.fixture
def bucket(s3: Any) -> str:
    """A fresh, empty bucket for this test."""
    name = f"drill-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def file_store_url(tmp_path: Path) -> str:
    root = tmp_path / "store"
    root.mkdir()
    return f"file://{root}"


@pytest.fixture(params=["s3", "file"])
def store_url(request: pytest.FixtureRequest, aws_env: str, file_store_url: str) -> str:
    """Each store kind in turn: moto S3 (fresh bucket) and a local directory."""
    if request.param == "s3":
        return f"s3://{request.getfixturevalue('bucket')}/drill"
    return file_store_url


@pytest.fixture(scope="session")
def source_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    proc = RedisProcess(tmp_path_factory.mktemp("source"), password=SOURCE_PASSWORD).start()
    yield proc
    proc.stop()


@pytest.fixture
def source(source_server: RedisProcess) -> RedisProcess:
    """The session's password-protected source Redis, flushed for this test."""
    source_server.client().flushall()
    return source_server


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[Callable[..., RedisProcess]]:
    """Start extra redis-servers for this test (stopped afterwards, restarted successors too)."""
    started: list[RedisProcess] = []

    def make(password: str | None = TARGET_PASSWORD, **kwargs: Any) -> RedisProcess:
        proc = RedisProcess(tmp_path / f"redis-{len(started)}", password=password, **kwargs).start()
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()


def seed(client: redis.Redis, *, n: int = 20) -> None:
    """Every core type, binary data, and keys with and without TTLs."""
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        pipe.set(f"session:{i}", f"user-{i}", ex=3600 + i)
        pipe.set(f"cache:{i}", secrets.token_bytes(8) + b"\x00\xff")
        pipe.hset(f"user:{i}", mapping={"name": f"n{i}", "plan": "pro", "n": i})
        pipe.rpush(f"queue:{i}", *[f"job-{j}" for j in range(5)])
        pipe.sadd(f"tags:{i}", *[f"t{j}" for j in range(4)])
        pipe.zadd(f"rank:{i}", {f"m{j}": j * 1.5 for j in range(4)})
        pipe.xadd(f"events:{i}", {"kind": "login", "i": str(i)})
    pipe.set("ratelimit:a", 5, px=900_000)
    pipe.hset("ttl-hash", mapping={"a": "1"})
    pipe.expire("ttl-hash", 7200)
    pipe.set(b"bin\x00key\xff", b"\x01\x02")
    pipe.execute()
    client.xgroup_create("events:0", "workers", id="0")


def dataset(client: redis.Redis) -> dict[bytes, tuple[str, Any, float]]:
    """Every key as (type, canonical value, expiry as unix seconds or -1): comparable across servers."""
    out: dict[bytes, tuple[str, Any, float]] = {}
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        value: Any
        if kind == "string":
            value = client.get(key)
        elif kind == "hash":
            value = sorted(client.hgetall(key).items())
        elif kind == "list":
            value = client.lrange(key, 0, -1)
        elif kind == "set":
            value = sorted(client.smembers(key))
        elif kind == "zset":
            value = client.zrange(key, 0, -1, withscores=True)
        elif kind == "stream":
            value = (client.xrange(key), [g["name"] for g in client.xinfo_groups(key)])
        else:
            value = client.dump(key)
        expires_ms = int(client.execute_command("PEXPIRETIME", key))  # absolute: comparable at any later time
        out[key] = (kind, value, expires_ms / 1000 if expires_ms > 0 else -1)
    return out


def assert_same_dataset(expected: dict[bytes, tuple[str, Any, float]], actual: dict[bytes, tuple[str, Any, float]]) -> None:
    """Same keys, types and values; expiry times within ±2 s."""
    assert sorted(actual) == sorted(expected)
    for key, (kind, value, ttl) in expected.items():
        got_kind, got_value, got_ttl = actual[key]
        assert (got_kind, got_value) == (kind, value), key
        if ttl == -1:
            assert got_ttl == -1, key
        else:
            assert math.isclose(got_ttl, ttl, abs_tol=2.0), (key, ttl, got_ttl)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run `sentinel-drill` in-process: (exit code, stdout, stderr)."""
    from harness.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


class DataTools:
    """The dataset helpers above, handed to tests as the `data` fixture."""

    seed = staticmethod(seed)
    dataset = staticmethod(dataset)
    assert_same = staticmethod(assert_same_dataset)
    source_password = SOURCE_PASSWORD
    target_password = TARGET_PASSWORD


@pytest.fixture
def data() -> type[DataTools]:
    return DataTools
