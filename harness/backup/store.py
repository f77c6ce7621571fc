"""Backup stores: one small interface, two implementations chosen by URL scheme.

`s3://bucket/prefix` goes through boto3 (`harness.backup.s3`: AWS_ENDPOINT_URL and
the normal credential chain apply; uploads carry SHA-256 checksums and, when
configured, object-lock retention). `file:///abs/dir` is a directory on this
machine, written atomically; its keys, given or listed, become paths only through
`harness.safe_paths.path_under`, so a key like `../x` or a symbolic link planted in the
directory never leads outside it. Both map failures to the error tree with one line
and a fix.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from harness.aws import DEFAULT_ACCESS, AwsAccess
from harness.backup.progress import transfer_progress
from harness.errors import ConfigError, StoreError
from harness.safe_paths import UnsafeName, path_under

LockMode = Literal["GOVERNANCE", "COMPLIANCE"]
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_CHUNK = 1024 * 1024

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fetched:
    """What `get_file_hashed` downloaded: the version, and the size and SHA-256 of the bytes written."""

    version_id: str | None
    size: int
    sha256: str


class HashingWriter:
    """A write-only, non-seekable file wrapper that hashes and counts what passes through, so the
    digest of a download costs no second read of the file (boto3 then writes its parts in order)."""

    def __init__(self, out: Any) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self.size += len(data)
        return int(self._out.write(data))

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        self._out.flush()

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: datetime


class BackupStore(Protocol):
    """What backup code needs from a store; keys are relative to the store's root."""

    @property
    def url(self) -> str:
        """The store's URL (s3://bucket/prefix or file:///dir)."""

    def check(self) -> None:
        """Raise StoreError/ConnectionFailed/AuthFailed unless the store is usable."""

    def put_file(self, key: str, path: Path) -> None: ...

    def put_bytes(self, key: str, data: bytes) -> None: ...

    def get_file(self, key: str, path: Path, *, version_id: str | None = None) -> str | None:
        """Download `key` (that version, when given) to `path`; return the version downloaded (None: unversioned).

        StoreError when it does not exist."""

    def get_file_hashed(self, key: str, path: Path, *, version_id: str | None = None) -> Fetched:
        """`get_file` that also returns the size and SHA-256 of what it wrote, hashed while writing."""

    def get_bytes(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def list(self, prefix: str) -> list[StoredObject]:
        """Every object whose key starts with `prefix`, keys relative to the root."""

    def location(self, key: str) -> str:
        """A URL naming `key` in this store, for messages and results."""

    def child(self, sub: str) -> BackupStore:
        """A store rooted at `sub` inside this one (used for pre-restore snapshots)."""


def open_store(
    url: str, *, retention_days: int | None = None, lock_mode: LockMode = "COMPLIANCE", aws: AwsAccess | None = None
) -> BackupStore:
    """Open the store named by `url`; ConfigError naming the expected forms for anything else."""
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc or not _BUCKET_RE.match(parts.netloc):
            raise ConfigError(
                f"store URL {url!r} has no valid bucket name",
                fix="use s3://bucket/prefix (bucket: 3-63 lowercase letters, digits, dots, hyphens)",
            )
        from harness.backup.s3 import S3Store

        return S3Store(parts.netloc, parts.path.strip("/"), retention_days=retention_days, lock_mode=lock_mode,
                       aws=aws or DEFAULT_ACCESS)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ConfigError(
                f"store URL {url!r} is not an absolute file URL", fix="use file:///absolute/dir (three slashes)"
            )
        return FileStore(Path(parts.path))
    raise ConfigError(
        f"store URL {url!r} has an unsupported scheme {parts.scheme or '(none)'!r}",
        fix="use s3://bucket/prefix or file:///absolute/dir (DRILL_STORE_URL or --store)",
    )


def join_key(prefix: str, key: str) -> str:
    return f"{prefix}/{key}" if prefix else key


@dataclass
class FileStore:
    """A directory used as a store; the directory must exist (like a bucket)."""

    root: Path

    @property
    def url(self) -> str:
        return f"file://{self.root}"

    def check(self) -> None:
        if not self.root.is_dir():
            raise StoreError(
                f"store directory {self.root} does not exist",
                fix=f"create it (mkdir -p {self.root}) or fix --store / DRILL_STORE_URL",
            )
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StoreError(f"store directory {self.root} is not writable", fix="fix its permissions")

    def _path(self, key: str) -> Path:
        """Every key, given or listed, becomes a path only through `path_under` (UnsafeName otherwise)."""
        return path_under(self.root, key, what="store key")

    def _write(self, key: str, write: Any) -> None:
        self.check()
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, key: str, path: Path) -> None:
        size = path.stat().st_size

        def write(out: Any) -> None:
            with path.open("rb") as src, transfer_progress(f"store {key}", size) as advance:
                while chunk := src.read(_CHUNK):
                    out.write(chunk)
                    advance(len(chunk))

        self._write(key, write)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._write(key, lambda out: out.write(data))

    def get_file(self, key: str, path: Path, *, version_id: str | None = None) -> str | None:
        return self.get_file_hashed(key, path, version_id=version_id).version_id

    def get_file_hashed(self, key: str, path: Path, *, version_id: str | None = None) -> Fetched:
        self.check()
        if version_id is not None:
            raise StoreError(f"{self.location(key)}: a file store keeps no object versions (asked for {version_id})",
                             fix="verify the backup again in this store")
        src = self._path(key)
        if not src.is_file():
            raise StoreError(f"{self.location(key)} does not exist", fix="list backups with `sentinel-drill backups`")
        with src.open("rb") as fin, path.open("wb") as out, transfer_progress(
            f"fetch {key}", src.stat().st_size
        ) as advance:
            writer = HashingWriter(out)
            while chunk := fin.read(_CHUNK):
                writer.write(chunk)
                advance(len(chunk))
        return Fetched(None, writer.size, writer.hexdigest())

    def get_bytes(self, key: str) -> bytes:
        self.check()
        src = self._path(key)
        if not src.is_file():
            raise StoreError(f"{self.location(key)} does not exist", fix="list backups with `sentinel-drill backups`")
        return src.read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[StoredObject]:
        """Regular files only: a symbolic link, device or FIFO in the directory is skipped with a warning."""
        self.check()
        out: list[StoredObject] = []
        for path in sorted(self.root.rglob("*")):
            if path.name.startswith(".") or path.is_dir() and not path.is_symlink():
                continue
            key = path.relative_to(self.root).as_posix()
            if not key.startswith(prefix):
                continue
            try:
                self._path(key)
            except UnsafeName as exc:
                log.warning("skipped in the listing of %s: %s", self.url, exc.message)
                continue
            st = path.stat()
            out.append(StoredObject(key, st.st_size, datetime.fromtimestamp(st.st_mtime, UTC)))
        return out

    def location(self, key: str) -> str:
        return f"{self.url}/{key}"

    def child(self, sub: str) -> FileStore:
        path = path_under(self.root, sub.rstrip("/"), what="store prefix")
        path.mkdir(parents=True, exist_ok=True)
        return FileStore(path)
