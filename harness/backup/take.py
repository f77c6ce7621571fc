"""Take a backup: fetch a fresh RDB (the server's BGSAVE for our SYNC), describe it, upload.

Where the server refuses SYNC (a hardened ACL, SYNC renamed), the file comes the
runbook's way instead — BGSAVE, LASTSAVE, a copy out of the server's container
or pod (harness.backup.copy_out) — when the caller says where that is.

The file comes from the replication fetch: the server forks and saves for it, so
that save is the backup's BGSAVE (an extra BGSAVE first, as the runbook did,
doubled the fork and the disk write on the source and added 2 s at 1 M keys).
A save already running is waited for by the server itself, which then saves
again for us. `point_in_time` is the LASTSAVE of our save, `rdb_ctime` the
second its fork started. The manifest is computed from the fetched file loaded
into a scratch server, so it states exactly what the file holds; the RDB upload
runs meanwhile and the manifest is written last.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis

from harness import __version__
from harness.backup import layout
from harness.backup.copy_out import RdbFileSource, save_and_copy
from harness.backup.dataset import DatasetSummary, describe_dataset, loaded_scratch
from harness.backup.errors import BackupFailed, SyncRefused
from harness.backup.fetch import fetch_snapshot
from harness.backup.manifest import PIPELINE, FetchMethod, Manifest, Origin, SourceInfo
from harness.backup.rdb import HeaderInvalid, read_header
from harness.backup.store import BackupStore
from harness.config import redact_url, split_redis_url
from harness.errors import ConfigError, ConnectionFailed
from harness.redis_client import connect, host_port
from harness.redis_process import RedisLoadFailed
from harness.resp import reply_text


@dataclass(frozen=True)
class BackupResult:
    """A backup that is in the store: its manifest, where it went, and how long each step took."""

    id: str
    manifest: Manifest
    rdb_location: str
    manifest_location: str
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "rdb": self.rdb_location,
            "manifest": self.manifest_location,
            "seconds": round(self.seconds, 3),
            "phases": {k: round(v, 3) for k, v in self.phases.items()},
            "point_in_time": self.manifest.point_in_time.isoformat(),
            "key_count": self.manifest.key_count,
            "size": self.manifest.size,
            "sha256": self.manifest.sha256,
            "canary_high_water": self.manifest.canary_high_water,
            "origin": self.manifest.origin,
            "fetch_method": self.manifest.fetch_method,
            "copied_from": self.manifest.copied_from,
        }


def _persistence(client: redis.Redis) -> dict[str, Any]:
    return dict(client.info("persistence"))


def _save_failure(client: redis.Redis, where: str) -> BackupFailed | None:
    """The save behind a failed fetch, named when the server says it failed (its status is set before it drops us)."""
    try:
        status = str(_persistence(client).get("rdb_last_bgsave_status", "ok"))
    except redis.RedisError:
        return None
    if status == "ok":
        return None
    return BackupFailed(
        f"BGSAVE on {where} failed (rdb_last_bgsave_status:{status})",
        fix="check the server's log: disk full, data dir not writable, or fork refused (vm.overcommit_memory)",
    )


def _streams_while_saving(client: redis.Redis) -> bool:
    """True when the server starts a diskless transfer at once (`repl-diskless-sync yes`, delay 0): the
    transfer then overlaps the save (2.8 s of 24 at 2 GB) and the source writes nothing to its disk. With
    the default 5 s delay, or where CONFIG is not allowed, the disk-based snapshot is the quicker one."""
    try:
        conf = {reply_text(k): reply_text(v) for k, v in client.config_get("repl-diskless-sync*").items()}
    except redis.RedisError:
        return False
    return conf.get("repl-diskless-sync") == "yes" and conf.get("repl-diskless-sync-delay") == "0"


def _point_in_time(before: dict[str, Any], after: dict[str, Any], ctime: int | None) -> int:
    """LASTSAVE of the save made for our fetch (the counter moved); else (a diskless save does not move it)
    the file's own ctime, the second its fork started."""
    if int(after.get("rdb_saves", 0)) > int(before.get("rdb_saves", 0)):
        return int(after["rdb_last_save_time"])
    return ctime if ctime else int(after["rdb_last_save_time"])


def _timed(fn: Callable[..., object], *args: object) -> float:
    t = time.monotonic()
    fn(*args)
    return time.monotonic() - t


def _describe(rdb: Path, where: str, rdb_version: int) -> DatasetSummary:
    try:
        with loaded_scratch(rdb) as scratch:
            return describe_dataset(scratch)
    except RedisLoadFailed as exc:
        raise BackupFailed(
            f"the RDB fetched from {where} does not load: {exc.message}",
            fix="check the source and this machine's redis-server version (must read RDB "
            f"version {rdb_version}); the uploaded RDB object has no manifest, so it is never listed as a backup",
        ) from None


@dataclass(frozen=True)
class _Fetched:
    """The RDB on disk and how it got there."""

    size: int
    sha256: str
    save_seconds: float
    transfer_seconds: float
    lastsave: int | None  # our save's LASTSAVE (copy-out), None: decided from INFO and the file (SYNC)
    method: FetchMethod
    copied_from: str | None = None


def _fetch(client: redis.Redis, redis_url: str, rdb: Path, *, password: str | None, where: str, save_timeout: float,
           copy_from: RdbFileSource | None) -> _Fetched:
    """SYNC (the server's save streamed to us); where SYNC is refused, BGSAVE + a copy out of `copy_from`."""
    host, port = host_port(redis_url)
    diskless = _streams_while_saving(client)
    try:
        fetched = fetch_snapshot(host, port, rdb, password=password, username=urlsplit(redis_url).username,
                                 save_timeout=save_timeout, diskless=diskless)
    except SyncRefused as exc:
        if copy_from is None:
            raise SyncRefused(f"{exc.message}; no file to copy instead",
                              fix="name where its data file is: `backup --from docker://CONTAINER`, or a "
                                  "k8s://NAMESPACE/pod/NAME:PORT Redis URL (BGSAVE + copy out, the runbook's way)"
                              ) from None
        copied = save_and_copy(client, copy_from, rdb, where=where, save_timeout=save_timeout)
        return _Fetched(copied.size, copied.sha256, copied.save_seconds, copied.transfer_seconds,
                        int(copied.point_in_time.timestamp()), "bgsave-copy", copy_from.describe())
    except (BackupFailed, ConnectionFailed) as exc:
        raise _save_failure(client, where) or exc from None
    return _Fetched(fetched.size, fetched.sha256, fetched.save_seconds, fetched.transfer_seconds, None,
                    "sync-diskless" if diskless else "sync")


def take_backup(
    redis_url: str,
    store: BackupStore,
    *,
    password: str | None,
    save_timeout: float = 600.0,
    work_dir: Path | None = None,
    keep_copy: Path | None = None,
    origin: Origin = PIPELINE,
    copy_from: RdbFileSource | None = None,
) -> BackupResult:
    """Back up the Redis at `redis_url` into `store`; return the manifest and locations.

    `keep_copy`, when given, receives a local copy of the RDB (restore keeps the
    target's snapshot to fall back on). `origin` is recorded in the manifest:
    the CLI and the CronJob are the pipeline; a drill taking a backup for
    itself passes "drill", so it never stands in for the pipeline's freshness.
    `copy_from` is where the server's data file can be copied from when it
    refuses SYNC (harness.backup.copy_out); the manifest records which way the
    file came (`fetch_method`). Raises ConnectionFailed/AuthFailed (Redis),
    StoreError and friends (store), BackupFailed (save failed or timed out,
    fetched file unusable; SyncRefused with no `copy_from`).
    """
    started = time.monotonic()
    phases: dict[str, float] = {}
    if urlsplit(redis_url).scheme != "redis":
        raise ConfigError(
            f"backups fetch over plain TCP; {redact_url(redis_url)} is not a redis:// URL",
            fix="use redis://host:port (rediss:// and unix sockets are not supported for the fetch yet)",
        )
    store.check()
    redis_url, url_password = split_redis_url(redis_url)
    password = password or url_password
    client = connect(redis_url, password)
    host, port = host_port(redis_url)
    where = f"{host}:{port}"
    server = client.info("server")
    role = str(client.info("replication").get("role", "unknown"))

    with tempfile.TemporaryDirectory(prefix="drill-backup-", dir=work_dir) as tmp:
        rdb = Path(tmp) / "backup.rdb"
        before = _persistence(client)
        fetched = _fetch(client, redis_url, rdb, password=password, where=where, save_timeout=save_timeout,
                         copy_from=copy_from)
        after = _persistence(client)
        phases["save"], phases["fetch"] = fetched.save_seconds, fetched.transfer_seconds
        try:
            header = read_header(rdb)
        except HeaderInvalid as exc:
            raise BackupFailed(f"the RDB fetched from {where} is unusable: {exc}", fix="retry the backup") from None
        lastsave = fetched.lastsave or _point_in_time(before, after, header.ctime)
        point_in_time = datetime.fromtimestamp(lastsave, UTC)
        backup_id = layout.new_backup_id(point_in_time)
        # The upload (network, boto3's threads) and the describe (the scratch server's CPU) overlap; the
        # manifest, written last, is what makes the object a backup, so a describe failure leaves at most
        # an RDB object no catalog lists as one.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="backup-upload") as pool:
            upload = pool.submit(_timed, store.put_file, layout.rdb_key(backup_id), rdb)
            t = time.monotonic()
            summary = _describe(rdb, where, header.version)
            phases["describe"] = time.monotonic() - t
            phases["upload"] = upload.result()
        manifest = Manifest(
            id=backup_id,
            point_in_time=point_in_time,
            rdb_ctime=datetime.fromtimestamp(header.ctime, UTC) if header.ctime else None,
            source=SourceInfo(host=host, port=port, role=role, run_id=str(server.get("run_id", ""))),
            redis_version=str(server.get("redis_version", "")),
            rdb_version=header.version,
            size=fetched.size,
            sha256=fetched.sha256,
            key_count=summary.key_count,
            keys_expired_at_backup=summary.keys_expired_on_load,
            keyspace=summary.keyspace,
            types=summary.types,
            samples=summary.samples,
            canary_high_water=summary.canary_high_water,
            created_at=datetime.now(UTC),
            tool_version=__version__,
            origin=origin,
            fetch_method=fetched.method,
            copied_from=fetched.copied_from,
        )
        t = time.monotonic()
        store.put_bytes(layout.manifest_key(backup_id), manifest.to_json())
        phases["upload"] += time.monotonic() - t
        if keep_copy is not None:
            shutil.copyfile(rdb, keep_copy)
    return BackupResult(
        id=backup_id,
        manifest=manifest,
        rdb_location=store.location(layout.rdb_key(backup_id)),
        manifest_location=store.location(layout.manifest_key(backup_id)),
        seconds=time.monotonic() - started,
        phases=phases,
    )
