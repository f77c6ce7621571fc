"""Where the bench keeps its backups: moto's S3 server over HTTP, or a directory (the 2 GB size's default).

moto serves every ranged GET by reading the whole object (a 2 GB download took 6 min here, for the
harness and for boto3's plain `download_file` alike), so at 2 GB the bench would measure moto. Each
transport gives the harness its store and gives the floors the same transfer done by a plain tool:
boto3 `upload_file`/`download_file` for S3, a copy (+ fsync for the upload, as the file store does) for
a directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from bench import floors
from harness.backup import open_store
from harness.backup.store import BackupStore
from harness.redis_process import free_port
from harness.sandbox.aws import aws_client, create_bucket, moto_server_binary, sandbox_aws
from harness.sandbox.processes import port_listening

KINDS = ("s3", "file")


class Transport(Protocol):
    kind: str
    upload_floor: str
    download_floor: str

    def store(self, name: str) -> BackupStore: ...

    def upload_seconds(self, path: Path) -> float: ...

    def download_seconds(self, location: str, dest: Path) -> float: ...

    def purge(self, store: BackupStore) -> None: ...


class S3Transport:
    """A bucket with Object Lock on moto's server; the floor's client waits as long as the harness's store."""

    kind, upload_floor, download_floor = "s3", "boto3 upload_file", "boto3 download_file"

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.bucket = f"bench-{uuid.uuid4().hex[:10]}"
        create_bucket(endpoint, self.bucket)
        self.s3: Any = aws_client("s3", endpoint, read_timeout=60)

    def store(self, name: str) -> BackupStore:
        return open_store(f"s3://{self.bucket}/bench/{name}", aws=sandbox_aws(self.endpoint))

    def upload_seconds(self, path: Path) -> float:
        return floors.upload_seconds(self.s3, self.bucket, "floor/dump.rdb", path)

    def download_seconds(self, location: str, dest: Path) -> float:
        return floors.download_seconds(self.s3, location, dest)

    def purge(self, store: BackupStore) -> None:
        floors.purge(self.s3, self.bucket, store.url.split("/", 3)[3])


class FileTransport:
    """A directory beside the bench's work files (same disk as the floors' copies)."""

    kind, upload_floor, download_floor = "file", "copy + fsync", "copy"

    def __init__(self, root: Path) -> None:
        self.root = root

    def store(self, name: str) -> BackupStore:
        (self.root / name).mkdir(parents=True, exist_ok=True)
        return open_store(f"file://{self.root / name}")

    def upload_seconds(self, path: Path) -> float:
        dest = self.root / "floor.rdb"
        t = time.monotonic()
        with path.open("rb") as src, dest.open("wb") as out:
            shutil.copyfileobj(src, out, 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        seconds = time.monotonic() - t
        dest.unlink()
        return seconds

    def download_seconds(self, location: str, dest: Path) -> float:
        t = time.monotonic()
        shutil.copyfile(location.removeprefix("file://"), dest)
        seconds = time.monotonic() - t
        dest.unlink()
        return seconds

    def purge(self, store: BackupStore) -> None:
        shutil.rmtree(store.url.removeprefix("file://"), ignore_errors=True)


@contextmanager
def moto_server(work: Path) -> Iterator[str]:
    """moto's server over HTTP on 127.0.0.1, in its own process (its objects must not count in our RSS)."""
    port = free_port()
    with (work / "moto.log").open("wb") as log:
        proc = subprocess.Popen([str(moto_server_binary()), "-H", "127.0.0.1", "-p", str(port)],
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not port_listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto server did not start; see {work / 'moto.log'}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def transport(kind: str, work: Path) -> Iterator[Transport]:
    """The store the bench uses; an S3 one runs moto's server in its own process for the whole run."""
    if kind == "file":
        yield FileTransport(work / "store")
        return
    with moto_server(work) as endpoint:
        yield S3Transport(endpoint)
