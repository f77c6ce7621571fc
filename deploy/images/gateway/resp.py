"""A tiny RESP client over a socket: enough to AUTH and PING a Redis (no pip in the image)."""

from __future__ import annotations

import socket
from typing import BinaryIO


class RedisCheckFailed(Exception):
    """Redis did not answer as a healthy, authenticated server would; the text says why."""


def encode(*parts: str) -> bytes:
    """Encode one command as a RESP array of bulk strings."""
    out = [f"*{len(parts)}\r\n".encode()]
    for part in parts:
        data = part.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def read_line(stream: BinaryIO) -> str:
    line = stream.readline(4096)
    if not line:
        raise RedisCheckFailed("redis closed the connection")
    return line.decode("utf-8", "replace").rstrip("\r\n")


def ping(host: str, port: int, password: str, *, timeout_s: float) -> None:
    """AUTH (when a password is set) and PING; raise RedisCheckFailed unless both succeed.

    The password is never part of an error's text.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            stream = sock.makefile("rb")
            if password:
                sock.sendall(encode("AUTH", password))
                answer = read_line(stream)
                if answer != "+OK":
                    raise RedisCheckFailed(f"redis refused AUTH: {answer.split(' ', 1)[0].lstrip('-')}")
            sock.sendall(encode("PING"))
            answer = read_line(stream)
            if answer != "+PONG":
                raise RedisCheckFailed(f"redis answered PING with {answer[:60]!r}")
    except OSError as exc:
        raise RedisCheckFailed(f"redis at {host}:{port} unreachable: {exc.__class__.__name__}: {exc}") from None
