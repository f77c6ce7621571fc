"""A tiny RESP client over a socket: AUTH, PING and a few commands per connection (no pip in the image)."""

from __future__ import annotations

import socket
from typing import BinaryIO

#: what a RESP reply decodes to: simple/bulk strings, integers, nil, arrays
Reply = str | int | None | list["Reply"]


class RedisCheckFailed(Exception):
    """Redis did not answer as a healthy, authenticated server would; the text says why."""


class RedisErrorReply(RedisCheckFailed):
    """Redis answered a command with an error (`code`: its first word, e.g. WRONGTYPE)."""

    def __init__(self, code: str) -> None:
        super().__init__(f"redis answered an error: {code}")
        self.code = code


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


def read_reply(stream: BinaryIO) -> Reply:
    """Read one reply; an error reply raises RedisCheckFailed with its first word (never our arguments)."""
    line = read_line(stream)
    kind, rest = line[:1], line[1:]
    if kind == "+":
        return rest
    if kind == "-":
        raise RedisErrorReply(rest.split(" ", 1)[0])
    if kind == ":":
        return int(rest)
    if kind == "$":
        size = int(rest)
        if size < 0:
            return None
        data = stream.read(size + 2)
        if len(data) != size + 2:
            raise RedisCheckFailed("redis closed the connection mid-reply")
        return data[:-2].decode("utf-8", "replace")
    if kind == "*":
        count = int(rest)
        return None if count < 0 else [read_reply(stream) for _ in range(count)]
    raise RedisCheckFailed(f"redis answered {line[:60]!r}")


def execute(host: str, port: int, password: str, commands: list[tuple[str, ...]], *, timeout_s: float,
            db: int = 0) -> list[Reply]:
    """AUTH (when a password is set), SELECT `db` (when not 0), then `commands` pipelined; their replies.

    Raises RedisCheckFailed when Redis is unreachable, refuses AUTH or answers any command with an
    error. The password is never part of an error's text.
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
            setup = [("SELECT", str(db))] if db else []
            sock.sendall(b"".join(encode(*command) for command in [*setup, *commands]))
            replies = [read_reply(stream) for _ in range(len(setup) + len(commands))]
            return replies[len(setup):]
    except OSError as exc:
        raise RedisCheckFailed(f"redis at {host}:{port} unreachable: {exc.__class__.__name__}: {exc}") from None
    except ValueError:
        raise RedisCheckFailed(f"redis at {host}:{port} sent a malformed reply") from None


def ping(host: str, port: int, password: str, *, timeout_s: float) -> None:
    """AUTH (when a password is set) and PING; raise RedisCheckFailed unless both succeed."""
    (answer,) = execute(host, port, password, [("PING",)], timeout_s=timeout_s)
    if answer != "PONG":
        raise RedisCheckFailed(f"redis answered PING with {str(answer)[:60]!r}")
