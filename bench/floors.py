"""The floors: what the plain tools take for the same work on the same data, measured in the same run."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.dataset import pipe_env, redis_cli_pipe
from harness.redaction import child_environment
from harness.redis_process import RedisProcess, free_port, redis_server_binary


def rdb_fetch_seconds(server: RedisProcess, dest: Path) -> float:
    """`redis-cli --rdb FILE` (the server's repl-diskless-sync-delay is 0, so it starts at once)."""
    t = time.monotonic()
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(server.port), "--rdb", str(dest)],
                   check=True, capture_output=True, env=pipe_env(server.password))
    return time.monotonic() - t


def upload_seconds(s3: Any, bucket: str, key: str, path: Path) -> float:
    """A plain boto3 `upload_file` (default transfer settings) of `path`; the object is deleted afterwards."""
    t = time.monotonic()
    s3.upload_file(str(path), bucket, key)
    seconds = time.monotonic() - t
    purge(s3, bucket, key)
    return seconds


def download_seconds(s3: Any, location: str, dest: Path) -> float:
    """A plain boto3 `download_file` (default transfer settings) of the object at `location` (s3://bucket/key)."""
    bucket, key = location.removeprefix("s3://").split("/", 1)
    t = time.monotonic()
    s3.download_file(bucket, key, str(dest))
    seconds = time.monotonic() - t
    dest.unlink()
    return seconds


def purge(s3: Any, bucket: str, prefix: str) -> None:
    """Delete every version under `prefix` (moto keeps them on disk; the 2 GB size must not pile them up)."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"])


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def load_seconds(rdb: Path, *, timeout: float = 600.0) -> float:
    """`redis-server` started on a copy of `rdb` until it answers PING (a loading server answers -LOADING)."""
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        data = Path(tmp) / "dump.rdb"
        try:
            os.link(rdb, data)
        except OSError:
            shutil.copyfile(rdb, data)
        port = free_port()
        t = time.monotonic()
        proc = subprocess.Popen([redis_server_binary(), "--bind", "127.0.0.1", "--port", str(port), "--dir", tmp,
                                 "--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_environment())
        try:
            while not _pong(port):
                if proc.poll() is not None or time.monotonic() - t > timeout:
                    raise RuntimeError(f"redis-server did not load {rdb} (exit {proc.returncode})")
                time.sleep(0.005)
            return time.monotonic() - t
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def pipe_seconds(server: RedisProcess, resp_file: Path) -> float:
    """`redis-cli --pipe` of the RESTORE commands in `resp_file` into `server` (emptied before, not timed)."""
    server.client().flushall()
    t = time.monotonic()
    proc = redis_cli_pipe(server, source=resp_file)
    output = proc.communicate()[0].decode(errors="replace")
    seconds = time.monotonic() - t
    if proc.returncode != 0 or "errors: 0" not in output:
        raise RuntimeError(f"redis-cli --pipe reported errors: {output.strip()[-300:]}")
    return seconds
