"""Take a backup: BGSAVE, wait until it is done and ok, fetch the RDB, describe it, upload.

The manifest is computed from the fetched file loaded into a scratch server, so
it states exactly what the file holds. The file comes from the replication fetch
(a fresh fork just after our BGSAVE); `point_in_time` is the LASTSAVE of that
save, `rdb_ctime` the second its fork started.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis

from harness import __version__
from harness.backup import layout
from harness.backup.dataset import describe_dataset, loaded_scratch
from harness.backup.errors import BackupFailed
from harness.backup.fetch import fetch_rdb
from harness.backup.manifest import PIPELINE, Manifest, Origin, SourceInfo
from harness.backup.rdb import HeaderInvalid, file_digest, read_header
from harness.backup.store import BackupStore
from harness.config import redact_url, split_redis_url
from harness.errors import ConfigError
from harness.polling import Backoff, wait_until
from harness.redis_client import connect, host_port
from harness.redis_process import RedisLoadFailed

#: INFO persistence is cheap: start at 20 ms, double up to 0.1 s (10 INFO/s does not hammer a big save;
#: a 0.5 s cap added up to half a second to every backup, bench/ at 1 M keys)
SAVE_POLL = Backoff(0.02, factor=2.0, cap=0.1)


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
        }


def _persistence(client: redis.Redis) -> dict[str, Any]:
    return dict(client.info("persistence"))


@dataclass(frozen=True)
class SaveTicket:
    """The save counters from just before our BGSAVE, and whether it forked at once."""

    saves_before: int
    lastsave_before: int
    forked: bool


def trigger_bgsave(client: redis.Redis, *, where: str, timeout: float) -> SaveTicket:
    """Start a BGSAVE of our own.

    A save already in progress started before we asked, so it may miss recent
    writes: wait for it to end, then start ours. `SCHEDULE` queues the save behind
    an AOF rewrite instead of failing.
    """
    for _ in range(3):
        info = _persistence(client)
        saves, lastsave = int(info.get("rdb_saves", 0)), int(info["rdb_last_save_time"])
        try:
            reply = client.execute_command("BGSAVE", "SCHEDULE")
        except redis.ResponseError as exc:
            if "already in progress" not in str(exc):
                raise BackupFailed(f"BGSAVE refused by {where}: {exc}", fix="check the server's log") from None
            _wait_idle(client, where=where, timeout=timeout)
            continue
        text = reply.decode() if isinstance(reply, bytes) else str(reply)
        return SaveTicket(saves, lastsave, forked="started" in text.lower())
    raise BackupFailed(f"{where} kept starting other saves; our BGSAVE never ran", fix="retry the backup")


def _wait_idle(client: redis.Redis, *, where: str, timeout: float) -> None:
    def idle() -> bool | None:
        return True if not int(_persistence(client).get("rdb_bgsave_in_progress", 0)) else None

    wait_until(idle, timeout=timeout, interval=SAVE_POLL, what=f"no BGSAVE running on {where}", describe=lambda: "",
               timed_out=lambda _: BackupFailed(
                   f"a BGSAVE already running on {where} did not finish within {timeout:g}s",
                   fix="check the server's load and log; raise the save timeout"))


def wait_for_bgsave(client: redis.Redis, ticket: SaveTicket, *, where: str, timeout: float) -> int:
    """Poll INFO persistence until our save is done and ok; return its LASTSAVE (unix seconds).

    Done = no save in progress after ours ran (it forked before BGSAVE replied,
    or we saw it running, or the save counter / LASTSAVE moved). Then
    `rdb_last_bgsave_status` must be ok, else BackupFailed; so is the timeout.
    LASTSAVE alone has one-second resolution, hence the `rdb_saves` counter.
    """
    ran = [ticket.forked]

    def finished() -> int | None:
        info = _persistence(client)
        running = bool(int(info.get("rdb_bgsave_in_progress", 0)))
        advanced = (
            int(info.get("rdb_saves", 0)) > ticket.saves_before
            or int(info["rdb_last_save_time"]) > ticket.lastsave_before
        )
        ran[0] = ran[0] or running or advanced
        if not ran[0] or running:
            return None
        status = str(info.get("rdb_last_bgsave_status", "ok"))
        if status != "ok":
            raise BackupFailed(
                f"BGSAVE on {where} failed (rdb_last_bgsave_status:{status})",
                fix="check the server's log: disk full, data dir not writable, or fork refused "
                "(vm.overcommit_memory)",
            )
        return int(info["rdb_last_save_time"])

    return wait_until(finished, timeout=timeout, interval=SAVE_POLL, what=f"BGSAVE on {where}", describe=lambda: "",
                      timed_out=lambda _: BackupFailed(
                          f"BGSAVE on {where} did not finish within {timeout:g}s",
                          fix="check the server's load and log; raise the save timeout for large datasets"))


def take_backup(
    redis_url: str,
    store: BackupStore,
    *,
    password: str | None,
    save_timeout: float = 600.0,
    work_dir: Path | None = None,
    keep_copy: Path | None = None,
    origin: Origin = PIPELINE,
) -> BackupResult:
    """Back up the Redis at `redis_url` into `store`; return the manifest and locations.

    `keep_copy`, when given, receives a local copy of the RDB (restore keeps the
    target's snapshot to fall back on). `origin` is recorded in the manifest:
    the CLI and the CronJob are the pipeline; a drill taking a backup for
    itself passes "drill", so it never stands in for the pipeline's freshness. Raises ConnectionFailed/AuthFailed
    (Redis), StoreError and friends (store), BackupFailed (save failed or timed
    out, fetched file unusable).
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

    t = time.monotonic()
    ticket = trigger_bgsave(client, where=where, timeout=save_timeout)
    lastsave = wait_for_bgsave(client, ticket, where=where, timeout=save_timeout)
    phases["bgsave"] = time.monotonic() - t

    with tempfile.TemporaryDirectory(prefix="drill-backup-", dir=work_dir) as tmp:
        rdb = Path(tmp) / "backup.rdb"
        t = time.monotonic()
        saves_before_fetch = int(_persistence(client).get("rdb_saves", 0))
        fetch_rdb(host, port, rdb, password=password, username=urlsplit(redis_url).username)
        after = _persistence(client)
        if int(after.get("rdb_saves", 0)) > saves_before_fetch:
            lastsave = int(after["rdb_last_save_time"])  # the save that produced the file we hold
        phases["fetch"] = time.monotonic() - t

        t = time.monotonic()
        try:
            header = read_header(rdb)
        except HeaderInvalid as exc:
            raise BackupFailed(f"the RDB fetched from {where} is unusable: {exc}", fix="retry the backup") from None
        size, sha256 = file_digest(rdb)
        try:
            with loaded_scratch(rdb) as scratch:
                summary = describe_dataset(scratch)
        except RedisLoadFailed as exc:
            raise BackupFailed(
                f"the RDB fetched from {where} does not load: {exc.message}",
                fix="check the source and this machine's redis-server version (must read RDB "
                f"version {header.version})",
            ) from None
        phases["describe"] = time.monotonic() - t

        point_in_time = datetime.fromtimestamp(lastsave, UTC)
        backup_id = layout.new_backup_id(point_in_time)
        manifest = Manifest(
            id=backup_id,
            point_in_time=point_in_time,
            rdb_ctime=datetime.fromtimestamp(header.ctime, UTC) if header.ctime else None,
            source=SourceInfo(host=host, port=port, role=role, run_id=str(server.get("run_id", ""))),
            redis_version=str(server.get("redis_version", "")),
            rdb_version=header.version,
            size=size,
            sha256=sha256,
            key_count=summary.key_count,
            keys_expired_at_backup=summary.keys_expired_on_load,
            keyspace=summary.keyspace,
            types=summary.types,
            samples=summary.samples,
            canary_high_water=summary.canary_high_water,
            created_at=datetime.now(UTC),
            tool_version=__version__,
            origin=origin,
        )
        t = time.monotonic()
        store.put_file(layout.rdb_key(backup_id), rdb)
        store.put_bytes(layout.manifest_key(backup_id), manifest.to_json())
        phases["upload"] = time.monotonic() - t
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
