"""Connect to Redis with errors the CLI can explain and no hidden retry storms.

redis-py 8 retries with backoff by default, so a ping to a dead server takes
seconds; drills and probes need a fast, explicit answer instead.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from harness.config import redact_url, split_redis_url
from harness.errors import AuthFailed, ConnectionFailed
from harness.resp import encode_command


def connect(
    url: str,
    password: str | None = None,
    *,
    timeout: float = 5.0,
    decode_responses: bool = False,
    check: bool = True,
) -> redis.Redis:
    """Return a client for `url`, pinged when `check`; raise ConnectionFailed or AuthFailed."""
    clean, url_password = split_redis_url(url)
    client = redis.Redis.from_url(
        clean,
        password=password or url_password,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        decode_responses=decode_responses,
    )
    if check:
        ping(client, url)
    return client


def ping(client: redis.Redis, url: str) -> None:
    """PING, mapping failures to the harness's error tree (the URL is shown without password)."""
    shown = redact_url(url)
    try:
        client.ping()
    except redis.AuthenticationError:
        raise AuthFailed(
            f"Redis at {shown} rejected the password",
            fix="set REDIS_PASSWORD to the server's current password",
        ) from None
    except redis.ResponseError as exc:
        if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc):
            raise AuthFailed(
                f"Redis at {shown} requires a valid password",
                fix="set REDIS_PASSWORD (or put it in the URL userinfo)",
            ) from None
        raise
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        raise ConnectionFailed(
            f"cannot reach Redis at {shown}: {exc.__class__.__name__}",
            fix="check the host/port in --redis-url and that the server is running",
        ) from None


def host_port(url: str) -> tuple[str, int]:
    """Host and port of a redis:// URL (defaults 127.0.0.1:6379)."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 6379


def auth_reply(url: str, password: str, *, timeout: float = 2.0) -> str:
    """The server's raw reply to `AUTH <password>` on a fresh connection ("+OK", "-WRONGPASS …").

    redis-py hides the reply code behind exception classes (and may send HELLO
    first); a rotation proof wants the server's own words.
    """
    import socket

    host, port = host_port(url)
    secret = password.encode()
    command = encode_command(b"AUTH", secret)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(command)
            reply = sock.makefile("rb").readline()
    except OSError as exc:
        raise ConnectionFailed(f"cannot reach Redis at {host}:{port}: {exc.__class__.__name__}",
                               fix="check that the server is running") from None
    return reply.decode(errors="replace").strip()
