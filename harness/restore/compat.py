"""Refuse a backup whose RDB version the target Redis cannot load, before anything is written.

An RDB file is forward compatible only: a Redis loads its own RDB version and older ones and
refuses newer ones ("Can't handle RDB format version"). Restoring a backup from a newer Redis
into an older one would otherwise fail half-way: after `--replace` flushed the target, in the
middle of a RESTORE stream (DUMP payloads carry the RDB version), or after a file swap stopped
the server. The check compares the backup's RDB version (its header, also in its manifest) with
the highest version the target's `redis_version` (INFO server) can load.

RDB_VERSION per Redis release (src/rdb.h): 7.0 → 10, 7.2 → 11, 7.4 → 12 (checked in redis's
source at the 7.0.15/7.2.6/7.4.1 tags); 8.0 writes 12 (checked: Debian trixie's 8.0.2 writes
REDIS0012); 8.6 → 13 and 8.8 → 14 (RDB parsers' release notes). A target newer than the table
is assumed to load at least the table's last version; older than 4.0 is not judged.
"""

from __future__ import annotations

import re
from pathlib import Path

import redis

from harness.backup.rdb import HeaderInvalid, read_header
from harness.errors import RestoreRefused

#: (major, minor) of a Redis release → the highest RDB version it loads, oldest first
RDB_VERSION_BY_REDIS: tuple[tuple[tuple[int, int], int], ...] = (
    ((4, 0), 8),
    ((5, 0), 9),
    ((7, 0), 10),
    ((7, 2), 11),
    ((7, 4), 12),
    ((8, 6), 13),
    ((8, 8), 14),
)
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)")


def loadable_rdb_version(redis_version: str) -> int | None:
    """The highest RDB version a Redis of `redis_version` ("7.0.15") loads; None when unknown."""
    m = _VERSION_RE.match(redis_version.strip())
    if not m:
        return None
    release = (int(m.group(1)), int(m.group(2)))
    known = [rdb for since, rdb in RDB_VERSION_BY_REDIS if since <= release]
    return known[-1] if known else None


def _first_redis_loading(rdb_version: int) -> str | None:
    for (major, minor), rdb in RDB_VERSION_BY_REDIS:
        if rdb >= rdb_version:
            return f"{major}.{minor}"
    return None


def check_rdb_loadable(
    backup_rdb_version: int,
    target_redis_version: str,
    *,
    backup: str,
    target: str,
    written_by: str | None = None,
) -> None:
    """Raise RestoreRefused when a Redis of `target_redis_version` cannot load `backup_rdb_version`.

    `backup` and `target` name the two in the message (a backup id or file; a redacted URL);
    `written_by` is the Redis version that wrote the backup, when known (the manifest's).
    Returns quietly when the target's version is not in the table (Redis then judges the load).
    """
    highest = loadable_rdb_version(target_redis_version)
    if highest is None or backup_rdb_version <= highest:
        return
    source = f" (written by Redis {written_by})" if written_by else ""
    newer = _first_redis_loading(backup_rdb_version)
    raise RestoreRefused(
        f"backup {backup} is RDB version {backup_rdb_version}{source}, but {target} runs Redis "
        f"{target_redis_version}, which loads RDB versions up to {highest}: refused before any write",
        fix=(f"restore into Redis {newer} or newer" if newer else "restore into a newer Redis")
        + f", or restore a backup taken from a Redis that writes RDB version {highest} or older",
    )


def target_redis_version(client: redis.Redis) -> str:
    """The target's `redis_version` from INFO server (empty when it does not say)."""
    return str(client.info("server").get("redis_version", ""))


def check_rdb_file_loadable(rdb: Path, client: redis.Redis, *, backup: str, target: str) -> None:
    """`check_rdb_loadable` for an RDB file on disk and a live target; a missing file or one
    without a valid header is left to the callers' own checks (they name it better)."""
    try:
        header = read_header(rdb)
    except (HeaderInvalid, OSError):
        return
    check_rdb_loadable(header.version, target_redis_version(client), backup=backup, target=target,
                       written_by=header.aux.get("redis-ver"))
