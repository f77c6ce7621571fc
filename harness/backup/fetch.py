"""Fetch an RDB from a running Redis over the replication protocol, as `redis-cli --rdb` does.

Done in Python over a socket so the password goes over the connection only (no
child process, no argv, no environment). We send `REPLCONF rdb-only 1`. By default
we do not advertise the `eof` capability, so the server saves a disk-based snapshot
and then streams it with a known length; `redis-cli --rdb` advertises `eof` and
therefore waits `repl-diskless-sync-delay` (5 s by default) before the transfer
starts. With `diskless=True` (for a server whose delay is 0) we do advertise it:
the server streams while it saves, so the transfer no longer follows the save, and
it writes nothing to its own disk. The stream then ends with a 40-byte mark
instead of having a length.

The SYNC is the backup's BGSAVE: the server forks and saves for it (INFO persistence
counts it in `rdb_saves`), so no separate BGSAVE is asked for; the file is hashed as
it is written, so nothing reads it again for its sha256.
"""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from harness.backup.errors import BackupFailed, SyncRefused
from harness.backup.progress import transfer_progress
from harness.errors import AuthFailed, ConnectionFailed
from harness.resp import encode_command

_CHUNK = 1024 * 1024


def _reply(fh: BinaryIO, where: str) -> bytes:
    line = fh.readline()
    if not line:
        raise ConnectionFailed(f"Redis at {where} closed the connection", fix="check the server's log")
    return line.rstrip(b"\r\n")


@dataclass(frozen=True)
class FetchedRdb:
    """The file a fetch wrote: its size and sha256, and how long the server's save and the transfer took."""

    size: int
    sha256: str
    save_seconds: float
    transfer_seconds: float


def fetch_rdb(host: str, port: int, dest: Path, *, password: str | None = None, username: str | None = None) -> int:
    """Write the server's current dataset as an RDB to `dest`; return its size (see `fetch_snapshot`)."""
    return fetch_snapshot(host, port, dest, password=password, username=username).size


def fetch_snapshot(
    host: str,
    port: int,
    dest: Path,
    *,
    password: str | None = None,
    username: str | None = None,
    connect_timeout: float = 5.0,
    idle_timeout: float = 60.0,
    save_timeout: float = 600.0,
    diskless: bool = False,
) -> FetchedRdb:
    """Write the server's current dataset as an RDB to `dest`: a save made for this request.

    Raises ConnectionFailed (unreachable, dropped), AuthFailed (password refused)
    or BackupFailed (the server refused SYNC, its save failed, or it did not
    start sending within `save_timeout` seconds; diskless: did not finish within it).
    """
    where = f"{host}:{port}"
    try:
        sock = socket.create_connection((host, port), timeout=connect_timeout)
    except OSError as exc:
        raise ConnectionFailed(
            f"cannot reach Redis at {where} for the RDB fetch: {exc.__class__.__name__}",
            fix="check the host/port in --redis-url and that the server is running",
        ) from None
    try:
        sock.settimeout(idle_timeout)
        fh = sock.makefile("rb")
        if password:
            auth = (b"AUTH", username.encode(), password.encode()) if username else (b"AUTH", password.encode())
            sock.sendall(encode_command(*auth))
            answer = _reply(fh, where)
            if not answer.startswith(b"+"):
                raise AuthFailed(
                    f"Redis at {where} refused the password for the RDB fetch",
                    fix="set REDIS_PASSWORD to the server's current password",
                )
        sock.sendall(encode_command(b"REPLCONF", b"rdb-only", b"1"))
        answer = _reply(fh, where)
        if answer.startswith((b"-NOAUTH", b"-WRONGPASS")):
            raise AuthFailed(f"Redis at {where} requires a password", fix="set REDIS_PASSWORD")
        # -ERR here means a server older than 7.0: SYNC still works, it just keeps streaming afterwards.
        if diskless:
            sock.sendall(encode_command(b"REPLCONF", b"capa", b"eof"))
            _reply(fh, where)
        sock.sendall(encode_command(b"SYNC"))
        return _receive(sock, fh, dest, where, save_timeout=save_timeout, idle_timeout=idle_timeout,
                        diskless=diskless)
    except TimeoutError:
        raise BackupFailed(
            f"Redis at {where} sent nothing for {idle_timeout:.0f}s during the RDB fetch",
            fix="check the server's log for a failed or slow fork",
        ) from None
    except (ConnectionResetError, BrokenPipeError) as exc:
        raise ConnectionFailed(
            f"Redis at {where} dropped the connection during the RDB fetch: {exc.__class__.__name__}",
            fix="check the server's log (a failed BGSAVE for SYNC closes the connection)",
        ) from None
    finally:
        sock.close()


def _read_by(deadline: float, sock: socket.socket, read: Callable[[], bytes], *, idle_timeout: float, where: str,
             save_timeout: float) -> bytes:
    """`read()`, the socket timing out at the save's deadline or after `idle_timeout`, whichever comes first:
    BackupFailed once the deadline has passed, TimeoutError (the caller's "sent nothing") before it."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise BackupFailed(f"the save on {where} for the RDB fetch did not finish within {save_timeout:g}s",
                               fix="check the server's load and log; raise the save timeout for large datasets")
        sock.settimeout(min(idle_timeout, left))
        try:
            return read()
        except TimeoutError:
            if time.monotonic() < deadline:
                raise


def _receive(sock: socket.socket, fh: BinaryIO, dest: Path, where: str, *, save_timeout: float,
             idle_timeout: float, diskless: bool) -> FetchedRdb:
    asked = time.monotonic()
    deadline = asked + save_timeout
    while True:  # the server sends bare newlines as keep-alives (about one a second) while it forks and saves
        line = _read_by(deadline, sock, fh.readline, idle_timeout=idle_timeout, where=where, save_timeout=save_timeout)
        if not line:
            raise BackupFailed(
                f"Redis at {where} closed the connection before sending the RDB",
                fix="check the server's log; its BGSAVE for SYNC probably failed (disk full, fork refused)",
            )
        if line not in (b"\n", b"\r\n"):
            break
    header = line.rstrip(b"\r\n")
    if header.startswith(b"-"):
        raise SyncRefused(
            f"Redis at {where} refused SYNC: {header[1:].decode(errors='replace')}",
            fix="the fetch needs a master or a connected replica that allows SYNC for this user",
        )
    if not header.startswith(b"$"):
        raise BackupFailed(f"unexpected reply to SYNC from {where}: {header[:40]!r}", fix="report this")
    if header.startswith(b"$EOF:"):  # only sent to replicas that advertise `capa eof`
        if not diskless or len(header) != 45:
            raise BackupFailed(f"Redis at {where} started a diskless transfer we did not ask for", fix="report this")
        return _receive_marked(sock, fh, dest, where, mark=header[5:], asked=asked, deadline=deadline,
                               idle_timeout=idle_timeout, save_timeout=save_timeout)
    size = int(header[1:])
    started = time.monotonic()
    sock.settimeout(idle_timeout)
    remaining = size
    digest = hashlib.sha256()
    with dest.open("wb") as out, transfer_progress(f"fetch RDB from {where}", size) as advance:
        while remaining:
            chunk = fh.read(min(_CHUNK, remaining))
            if not chunk:
                raise ConnectionFailed(
                    f"Redis at {where} closed the connection after {size - remaining} of {size} bytes "
                    f"({time.monotonic() - started:.1f}s)",
                    fix="retry; check the network and the server's log",
                )
            out.write(chunk)
            digest.update(chunk)
            remaining -= len(chunk)
            advance(len(chunk))
    return FetchedRdb(size, digest.hexdigest(), started - asked, time.monotonic() - started)



def _receive_marked(sock: socket.socket, fh: BinaryIO, dest: Path, where: str, *, mark: bytes, asked: float,
                    deadline: float, idle_timeout: float, save_timeout: float) -> FetchedRdb:
    """A diskless stream: everything up to the 40-byte `mark` it ends with (checked after each read, as a
    replica does). The save is the transfer here, so `save_timeout` bounds the whole of it."""
    started = time.monotonic()
    digest = hashlib.sha256()
    size = 0
    tail = b""  # the last bytes read, held back until we know they are not the mark
    with dest.open("wb") as out, transfer_progress(f"fetch RDB from {where}", None) as advance:
        while True:
            chunk = _read_by(deadline, sock, lambda: fh.read1(_CHUNK),  # type: ignore[attr-defined]
                             idle_timeout=idle_timeout, where=where, save_timeout=save_timeout)
            if not chunk:
                raise ConnectionFailed(
                    f"Redis at {where} closed the connection after {size} bytes of a diskless transfer, "
                    "before its end mark", fix="retry; check the network and the server's log")
            data = tail + chunk
            done = data.endswith(mark)
            body, tail = (data[: -len(mark)], b"") if done else (data[: -len(mark)], data[-len(mark):])
            out.write(body)
            digest.update(body)
            size += len(body)
            advance(len(body))
            if done:
                return FetchedRdb(size, digest.hexdigest(), started - asked, time.monotonic() - started)
