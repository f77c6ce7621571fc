"""Daily log archives: a day's log files of one type, tarred, stored with a manifest, and checked.

The runbook ships logs to `sentinel-logs` with Filebeat; what an auditor needs
is that every day of every type is there and intact. A day's archive is
`logs/<type>/YYYY/MM/DD/<type>-YYYYMMDD.tar.gz` and its manifest (every file's
name, size and sha256, and the archive's own sha256) is written after it, so a
manifest marks a complete archive. A file belongs to a day when its name carries
the date (2026-11-28 or 20261128), otherwise by its modification time (UTC).
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from harness.backup.store import BackupStore
from harness.digests import sha256_file
from harness.errors import CheckFailed, StoreError, UsageError
from harness.retention import LOG_TYPES
from harness.safe_paths import UnsafeName, member_path_under, shown, write_under

SCHEMA_VERSION = 1
LOGS_PREFIX = "logs/"
_DAY_IN_NAME = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")
_MANIFEST_KEY = re.compile(r"^logs/([a-z]+)/(\d{4})/(\d{2})/(\d{2})/[a-z]+-\d{8}\.manifest\.json$")


@dataclass(frozen=True)
class LogFile:
    name: str
    size: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class LogManifest:
    """What one day's archive holds."""

    log_type: str
    day: date
    files: tuple[LogFile, ...]
    archive_key: str
    archive_sha256: str
    archive_size: int
    created_at: datetime

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "log_type": self.log_type, "day": self.day.isoformat(),
                "files": [f.to_json() for f in self.files], "archive_key": self.archive_key,
                "archive_sha256": self.archive_sha256, "archive_size": self.archive_size,
                "created_at": self.created_at.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LogManifest:
        return cls(data["log_type"], date.fromisoformat(data["day"]),
                   tuple(LogFile(f["name"], int(f["size"]), f["sha256"]) for f in data["files"]),
                   data["archive_key"], data["archive_sha256"], int(data["archive_size"]),
                   datetime.fromisoformat(data["created_at"]))


@dataclass(frozen=True)
class LogDayCheck:
    """`verify logs`: a day's archive against its manifest; `problems` empty when it passed."""

    log_type: str
    day: date
    files: int
    bytes: int
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"log_type": self.log_type, "day": self.day.isoformat(), "files": self.files, "bytes": self.bytes,
                "passed": self.passed, "problems": list(self.problems)}


def require_log_type(log_type: str) -> str:
    if log_type not in LOG_TYPES:
        raise UsageError(f"unknown log type {log_type!r}", fix=f"use one of {', '.join(LOG_TYPES)}")
    return log_type


def day_dir(log_type: str, day: date) -> str:
    return f"{LOGS_PREFIX}{log_type}/{day:%Y/%m/%d}/"


def archive_key(log_type: str, day: date) -> str:
    return f"{day_dir(log_type, day)}{log_type}-{day:%Y%m%d}.tar.gz"


def manifest_key(log_type: str, day: date) -> str:
    return f"{day_dir(log_type, day)}{log_type}-{day:%Y%m%d}.manifest.json"


def _day_of(path: Path) -> date:
    m = _DAY_IN_NAME.search(path.name)
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            pass
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).date()


def files_of_day(source: Path, day: date) -> list[Path]:
    """The regular files under `source` that belong to `day`, sorted by their relative path."""
    if not source.is_dir():
        raise UsageError(f"log directory {source} does not exist", fix="pass the directory the log shipper writes to")
    return sorted((p for p in source.rglob("*") if p.is_file() and _day_of(p) == day),
                  key=lambda p: p.relative_to(source).as_posix())


def archive_logs(source: Path, log_type: str, day: date, store: BackupStore) -> LogManifest:
    """Tar the day's files of `log_type` from `source`, upload the archive, then its manifest."""
    require_log_type(log_type)
    paths = files_of_day(source, day)
    if not paths:
        raise CheckFailed(f"no {log_type} log files for {day.isoformat()} in {source}",
                          fix="check that the log shipper writes there, or pass --day")
    files = tuple(LogFile(p.relative_to(source).as_posix(), p.stat().st_size, sha256_file(p)) for p in paths)
    with tempfile.TemporaryDirectory(prefix="sentinel-logs-") as tmp:
        tar_path = Path(tmp) / "day.tar.gz"
        with tarfile.open(tar_path, "w:gz") as tar:
            for path, entry in zip(paths, files, strict=True):
                info = tar.gettarinfo(str(path), arcname=entry.name)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
        key = archive_key(log_type, day)
        manifest = LogManifest(log_type, day, files, key, sha256_file(tar_path), tar_path.stat().st_size,
                               datetime.now(UTC))
        store.put_file(key, tar_path)
    store.put_bytes(manifest_key(log_type, day), json.dumps(manifest.to_json(), indent=2).encode())
    return manifest


def read_log_manifest(store: BackupStore, log_type: str, day: date) -> LogManifest:
    key = manifest_key(require_log_type(log_type), day)
    if not store.exists(key):
        raise StoreError(f"no {log_type} log archive for {day.isoformat()} in {store.location(day_dir(log_type, day))}",
                         fix="archive it with `sentinel-drill backup logs` (what the log-archive CronJob runs)")
    try:
        return LogManifest.from_json(json.loads(store.get_bytes(key)))
    except (ValueError, KeyError, TypeError):
        raise StoreError(f"log manifest {store.location(key)} is malformed",
                         fix="re-archive the day from the log shipper's copy") from None


def verify_log_day(store: BackupStore, log_type: str, day: date, *, restore_to: Path | None = None) -> LogDayCheck:
    """Fetch a day's archive and check it and every file in it against the manifest.

    With `restore_to`, the checked files are written there (the quarterly restore's fetch). A
    member whose name or kind could write elsewhere (absolute, `..`, a link, a device; see
    harness/safe_paths.py) is never written: it is a problem of the day, and the other members
    are still checked and restored.
    """
    manifest = read_log_manifest(store, log_type, day)
    problems: list[str] = []
    expected_key = archive_key(log_type, day)
    if manifest.archive_key != expected_key:
        problems.append(f"the manifest names the archive {manifest.archive_key!r}, not {expected_key!r}: "
                        "the day's own archive was checked")
    with tempfile.TemporaryDirectory(prefix="sentinel-logs-") as tmp:
        tar_path = Path(tmp) / "day.tar.gz"
        store.get_file(expected_key, tar_path)
        if sha256_file(tar_path) != manifest.archive_sha256:
            problems.append(f"archive {expected_key} sha256 differs from its manifest")
        expected = {f.name: f for f in manifest.files}
        seen: set[str] = set()
        members_root = restore_to if restore_to is not None else Path(tmp) / "members"
        try:
            with tarfile.open(tar_path, "r:gz") as tar:
                for member in tar:
                    if member.isdir():
                        continue
                    seen.add(member.name)
                    problem = _check_member(tar, member, expected.get(member.name), members_root,
                                            restore=restore_to is not None)
                    if problem:
                        problems.append(problem)
        except (tarfile.TarError, EOFError, OSError) as exc:
            problems.append(f"archive {expected_key} cannot be read: {exc.__class__.__name__}")
        problems += [f"{shown(name)} is in the manifest but not in the archive"
                     for name in sorted(set(expected) - seen)]
    return LogDayCheck(log_type, day, len(manifest.files), manifest.total_bytes, tuple(problems))


def _check_member(tar: tarfile.TarFile, member: tarfile.TarInfo, want: LogFile | None, root: Path, *,
                  restore: bool) -> str | None:
    """One member against its manifest entry, written below `root` when `restore`; the problem, or None."""
    try:
        member_path_under(root, member)
    except UnsafeName as exc:
        return exc.message
    data = tar.extractfile(member)
    body = data.read() if data else b""
    if want is None:
        return f"{shown(member.name)} is in the archive but not in the manifest"
    if len(body) != want.size or hashlib.sha256(body).hexdigest() != want.sha256:
        return f"{shown(member.name)} differs from the manifest (size or sha256)"
    if restore:
        try:
            write_under(root, member.name, body, what="archive member")
        except UnsafeName as exc:
            return exc.message
    return None


def archived_days(store: BackupStore, log_type: str) -> list[date]:
    """Every day of `log_type` with a complete archive (its manifest written), oldest first."""
    days = set()
    for obj in store.list(f"{LOGS_PREFIX}{require_log_type(log_type)}/"):
        m = _MANIFEST_KEY.match(obj.key)
        if m and m[1] == log_type:
            days.add(date(int(m[2]), int(m[3]), int(m[4])))
    return sorted(days)
