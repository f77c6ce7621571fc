"""The runbook's manual backups: `./backups/redis-YYYYMMDD-HHMM.rdb` (after `docker cp` / `kubectl cp`) as a store.

`verify` and `restore` take such a file where they take a backup id. The file is
shown to the catalog, the verifier and the restore gate as the one backup of a
small store: its directory is a `FileStore` and the file appears under the
legacy key `redis/YYYYMMDD-HHMM.rdb`, so it goes through exactly the checks a
store's backup does (header, redis-check-rdb, a scratch load, key count; the
store's date check against the file's mtime; a record under `verifications/`
beside it). The name is the runbook's `redis-$(date +%Y%m%d-%H%M).rdb`, read as
UTC like the CronJob's `date`: off a UTC machine, name the file with `date -u`.
Nothing but that one file is read as a backup; other keys go to the directory's
FileStore, whose keys become paths only through `harness.safe_paths`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from harness.backup import layout
from harness.backup.store import Fetched, FileStore, StoredObject
from harness.errors import StoreError, UsageError
from harness.safe_paths import path_under

#: the runbook's file name: `redis-$(date +%Y%m%d-%H%M).rdb`
RUNBOOK_NAME = re.compile(r"^redis-(\d{8}-\d{4})\.rdb$")
NAME_FORM = "redis-YYYYMMDD-HHMM.rdb"


def looks_like_a_file(argument: str) -> bool:
    """Whether a `verify`/`restore` argument names a local file rather than a backup id."""
    return "/" in argument or argument.endswith(".rdb") or argument.startswith(".")


def backup_id_of(path: Path) -> str:
    """The legacy id the file's runbook name carries; UsageError naming the form otherwise."""
    match = RUNBOOK_NAME.match(path.name)
    if match is None:
        raise UsageError(f"{path.name!r} is not named as the runbook names a backup ({NAME_FORM}, UTC)",
                         fix="copy it as ./backups/redis-$(date -u +%Y%m%d-%H%M).rdb, the time it was taken")
    backup_id = match.group(1)
    try:
        layout.point_in_time_of(backup_id)
    except ValueError:
        raise UsageError(f"{path.name!r} does not hold a valid date and time ({NAME_FORM})",
                         fix="name the file with `date -u +%Y%m%d-%H%M`") from None
    return backup_id


@dataclass
class LocalFileStore:
    """One local RDB file seen as a store holding that one legacy backup (the rest: its directory's FileStore)."""

    path: Path
    backup_id: str
    _dir: FileStore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._dir = FileStore(self.path.parent)

    @property
    def rdb_key(self) -> str:
        return layout.rdb_key(self.backup_id)

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    def check(self) -> None:
        self._dir.check()
        if not self.path.is_file():
            raise StoreError(f"{self.path} does not exist", fix="copy the backup there first, or fix the path")

    def _file(self) -> Path:
        """The file, through `path_under` (a link or device put there instead is refused)."""
        self.check()
        return path_under(self.path.parent, self.path.name, what="backup file")

    def _refuse_write(self, key: str) -> None:
        if key.startswith(layout.REDIS_PREFIX):
            raise StoreError(f"{self.url} is a single local backup file; refusing to write {key} beside it",
                             fix="back up into a store (--store) instead")

    def put_file(self, key: str, path: Path) -> None:
        self._refuse_write(key)
        self._dir.put_file(key, path)

    def put_bytes(self, key: str, data: bytes) -> None:
        self._refuse_write(key)
        self._dir.put_bytes(key, data)

    def get_file(self, key: str, path: Path, *, version_id: str | None = None) -> str | None:
        return self.get_file_hashed(key, path, version_id=version_id).version_id

    def get_file_hashed(self, key: str, path: Path, *, version_id: str | None = None) -> Fetched:
        if key != self.rdb_key:
            return self._dir.get_file_hashed(key, path, version_id=version_id)
        source = self._file()
        return FileStore(source.parent).get_file_hashed(source.name, path, version_id=version_id)

    def get_bytes(self, key: str) -> bytes:
        return self._file().read_bytes() if key == self.rdb_key else self._dir.get_bytes(key)

    def exists(self, key: str) -> bool:
        return self.path.is_file() if key == self.rdb_key else self._dir.exists(key)

    def list(self, prefix: str) -> list[StoredObject]:
        """The file under its legacy key, and what the directory holds under `verifications/` (never other RDBs)."""
        out: list[StoredObject] = []
        if self.rdb_key.startswith(prefix):
            stat = self._file().stat()
            out.append(StoredObject(self.rdb_key, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC)))
        if prefix.startswith(layout.VERIFICATIONS_PREFIX) or layout.VERIFICATIONS_PREFIX.startswith(prefix):
            out += [o for o in self._dir.list(prefix) if o.key.startswith(layout.VERIFICATIONS_PREFIX)]
        return out

    def location(self, key: str) -> str:
        return str(self.path) if key == self.rdb_key else self._dir.location(key)

    def child(self, sub: str) -> FileStore:
        return self._dir.child(sub)


def open_local_file(argument: str) -> LocalFileStore:
    """The local backup file `argument` names, as a one-backup store; UsageError/StoreError naming what is wrong."""
    path = Path(argument).expanduser().absolute()
    store = LocalFileStore(path, backup_id_of(path))
    if not path.parent.is_dir():
        raise StoreError(f"{path.parent} (for {path.name}) does not exist", fix="fix the path to the backup file")
    store.check()
    return store
