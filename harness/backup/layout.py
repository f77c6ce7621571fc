"""Where backups live in a store: ids, object keys and the runbook's legacy names.

New backups: `redis/YYYY/MM/DD/<id>.rdb` + `<id>.manifest.json`, with ids like
`20261126T061500Z-1a2b3c` that sort by point in time. Legacy backups from the
runbook's CronJob: `redis/YYYYMMDD-HHMM.rdb`, no manifest, point in time taken from
the name (the CronJob's `date` runs in UTC).

Verification records live apart, under `verifications/redis/YYYY/MM/DD/<id>.verify.json`
(both layouts): a prefix the backup job's credentials may not write (deploy/iam/), so
whoever holds those cannot plant a "passed". They are read from there only: a
`<id>.verify.json` beside the backup under `redis/` (`stray_verify_key`; where records
were written before that prefix existed, and where the backup writer may write) is
listed as an ignored record, never read as one.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from harness.errors import UsageError

REDIS_PREFIX = "redis/"
#: where verification records live; the backup job's IAM policy denies writes here (deploy/iam/backup-writer.json)
VERIFICATIONS_PREFIX = "verifications/"
VERIFY_RECORDS_PREFIX = f"{VERIFICATIONS_PREFIX}{REDIS_PREFIX}"
SNAPSHOTS_PREFIX = "snapshots"

Layout = Literal["manifest", "legacy"]
#: "stray_verify": a record beside its backup under redis/, which the backup writer may write: never read
Kind = Literal["rdb", "manifest", "verify", "stray_verify"]

_ID_RE = re.compile(r"^(\d{8}T\d{6}Z)-([0-9a-f]{6})$")
_LEGACY_ID_RE = re.compile(r"^(\d{8}-\d{4})$")
_NEW_KEY_RE = re.compile(
    r"^redis/(\d{4})/(\d{2})/(\d{2})/(\d{8}T\d{6}Z-[0-9a-f]{6})\.(rdb|manifest\.json|verify\.json)$"
)
_LEGACY_KEY_RE = re.compile(r"^redis/(\d{8}-\d{4})\.(rdb|verify\.json)$")
_RECORD_KEY_RE = re.compile(
    r"^verifications/redis/(\d{4})/(\d{2})/(\d{2})/(\d{8}T\d{6}Z-[0-9a-f]{6}|\d{8}-\d{4})\.verify\.json$"
)
_SUFFIX_KIND: dict[str, Kind] = {"rdb": "rdb", "manifest.json": "manifest", "verify.json": "stray_verify"}


@dataclass(frozen=True)
class KeyInfo:
    """What an object key says about itself."""

    backup_id: str
    kind: Kind
    layout: Layout


def new_backup_id(point_in_time: datetime, *, suffix: str | None = None) -> str:
    """A sortable id: the point in time (UTC, to the second) plus 6 random hex digits."""
    pit = point_in_time.astimezone(UTC)
    return f"{pit:%Y%m%dT%H%M%SZ}-{suffix or secrets.token_hex(3)}"


def layout_of(backup_id: str) -> Layout:
    """Which layout an id belongs to; UsageError for anything else."""
    if _ID_RE.match(backup_id):
        return "manifest"
    if _LEGACY_ID_RE.match(backup_id):
        return "legacy"
    raise UsageError(
        f"{backup_id!r} is not a backup id",
        fix="use an id like 20261126T061500Z-1a2b3c (or legacy 20241214-1200); see `sentinel-drill backups`",
    )


def point_in_time_of(backup_id: str) -> datetime:
    """The point in time encoded in the id (seconds for new ids, minutes for legacy ones)."""
    if layout_of(backup_id) == "manifest":
        return datetime.strptime(backup_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return datetime.strptime(backup_id, "%Y%m%d-%H%M").replace(tzinfo=UTC)


def _dir(backup_id: str) -> str:
    if layout_of(backup_id) == "legacy":
        return REDIS_PREFIX
    return f"{REDIS_PREFIX}{backup_id[0:4]}/{backup_id[4:6]}/{backup_id[6:8]}/"


def rdb_key(backup_id: str) -> str:
    return f"{_dir(backup_id)}{backup_id}.rdb"


def manifest_key(backup_id: str) -> str:
    """Key of the manifest; legacy backups have none, asking for one is a bug."""
    if layout_of(backup_id) == "legacy":
        raise UsageError(f"legacy backup {backup_id} has no manifest", fix="this is a harness bug; report it")
    return f"{_dir(backup_id)}{backup_id}.manifest.json"


def verify_key(backup_id: str) -> str:
    """Where a backup's verification record is written: under VERIFICATIONS_PREFIX, dated like the backup."""
    layout_of(backup_id)  # UsageError for a malformed id
    return f"{VERIFY_RECORDS_PREFIX}{backup_id[0:4]}/{backup_id[4:6]}/{backup_id[6:8]}/{backup_id}.verify.json"


def stray_verify_key(backup_id: str) -> str:
    """A record beside the backup, under the prefix the backup writer may write: reported as ignored, never read."""
    return f"{_dir(backup_id)}{backup_id}.verify.json"


def parse_key(key: str) -> KeyInfo | None:
    """Classify a store key (relative to the store root); None for keys that are not ours.

    A record under VERIFICATIONS_PREFIX is kind "verify"; one beside its backup is "stray_verify".
    """
    m = _RECORD_KEY_RE.match(key)
    if m:
        year, month, day, backup_id = m.groups()
        if backup_id[:8] != f"{year}{month}{day}":
            return None
        try:
            point_in_time_of(backup_id)
        except ValueError:
            return None
        return KeyInfo(backup_id, "verify", layout_of(backup_id))
    m = _NEW_KEY_RE.match(key)
    if m:
        year, month, day, backup_id, suffix = m.groups()
        if backup_id[:8] != f"{year}{month}{day}":
            return None
        return KeyInfo(backup_id, _SUFFIX_KIND[suffix], "manifest")
    m = _LEGACY_KEY_RE.match(key)
    if m:
        backup_id, suffix = m.groups()
        try:
            point_in_time_of(backup_id)
        except ValueError:
            return None
        return KeyInfo(backup_id, _SUFFIX_KIND[suffix], "legacy")
    return None
