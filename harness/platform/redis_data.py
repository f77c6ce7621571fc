"""The Redis data seam: put an RDB where the target's Redis loads it, one interface, two implementations.

Scenario code calls `RedisDataPlane.restore_rdb(path)` and never asks what the
target is. `KubernetesRedisData` is the runbook's file restore for a cluster
(scale the StatefulSet to 0 → copy dump.rdb into its volume through a helper
pod → scale back → wait Ready); `LocalProcessRedisData` does the same for the
sandbox's managed redis-server (stop → place the file → start → wait loaded).
`redis_data_plane(settings)` picks the one that fits the target.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from harness.config import Settings
from harness.errors import DrillError, RestoreRefused
from harness.platform.pod_exec import sha256_file
from harness.redis_process import RedisProcess


@dataclass(frozen=True)
class DataRestoreResult:
    """What was placed where, its checksum, and how long each step took."""

    target: str
    rdb_sha256: str
    rdb_bytes: int
    phases: tuple[tuple[str, float], ...]
    started_at: datetime
    ended_at: datetime
    keys: int | None = None  # DBSIZE after start, when the implementation can reach the server
    keys_from_backup: int | None = None  # keys the backup held as written (None: ask the loaded server)

    @property
    def seconds(self) -> float:
        return sum(s for _, s in self.phases)

    def to_json(self) -> dict[str, object]:
        return {
            "target": self.target, "rdb_sha256": self.rdb_sha256, "rdb_bytes": self.rdb_bytes,
            "phases": [{"name": n, "seconds": round(s, 3)} for n, s in self.phases],
            "started_at": self.started_at.isoformat(), "ended_at": self.ended_at.isoformat(), "keys": self.keys,
            "keys_from_backup": self.keys_from_backup,
        }


class RedisDataPlane(Protocol):
    """Where the target's Redis keeps its RDB, and how to replace it."""

    def describe(self) -> str:
        """One line naming the target (for logs and evidence)."""
        ...

    def restore_rdb(self, rdb: Path, *, timeout: float = 300.0) -> DataRestoreResult:
        """Stop Redis, make `rdb` its data file, start it and wait until it has loaded."""
        ...


class _Phases:
    def __init__(self) -> None:
        self.items: list[tuple[str, float]] = []
        self.mark = time.monotonic()
        self.started_at = datetime.now(UTC)

    def done(self, name: str) -> None:
        now = time.monotonic()
        self.items.append((name, now - self.mark))
        self.mark = now


def _check_source(rdb: Path) -> tuple[str, int]:
    if not rdb.is_file() or rdb.stat().st_size == 0:
        raise RestoreRefused(f"RDB file {rdb} is missing or empty", fix="pass a verified backup's RDB file")
    return sha256_file(rdb), rdb.stat().st_size


# ----------------------------------------------------------------------------- local process


@dataclass(frozen=True)
class LocalProcessRedisData:
    """A redis-server on this machine that the harness started (the sandbox's): restarted in place.

    The running server is found through the `drill-managed` marker in its data
    dir (whoever restarted it last), so the stop works from any process. It is
    started again with the password currently in `password_file` — rotation
    updates that file — never with a stale one from an old config.
    """

    data_dir: Path
    port: int
    password_file: Path
    dbfilename: str = "dump.rdb"

    def describe(self) -> str:
        return f"local redis-server on 127.0.0.1:{self.port} (data {self.data_dir / self.dbfilename})"

    def restore_rdb(self, rdb: Path, *, timeout: float = 300.0) -> DataRestoreResult:
        """Stop the server, swap in `rdb` atomically, restart and wait until loaded.

        If the server cannot load `rdb`, the previous file is put back and the
        server restarted on it before RestoreFailed is raised (harness.restore.file).
        """
        from harness.restore.file import place_and_restart  # the one local file-swap procedure

        sha, size = _check_source(rdb)
        phases = _Phases()
        password = self.password_file.read_text().strip() or None
        server = RedisProcess(data_dir=self.data_dir, port=self.port, password=password, dbfilename=self.dbfilename)
        place_and_restart(server, rdb, load_timeout=timeout)
        phases.done("restarted")
        if sha256_file(server.rdb_path) != sha:
            raise DrillError(f"the RDB in {self.data_dir} does not match {rdb} after the restore",
                             fix="check the disk and run the restore again")
        keys = int(server.client(timeout=5.0).dbsize())
        phases.done("verified")
        return DataRestoreResult(self.describe(), sha, size, tuple(phases.items), phases.started_at,
                                 datetime.now(UTC), keys)


# ----------------------------------------------------------------------------- network


@dataclass(frozen=True)
class NetworkRedisData:
    """Any Redis the harness can reach but whose volume it cannot (a managed or remote DR Redis).

    The backup is loaded into a scratch server and streamed with DUMP/RESTORE
    (TTLs kept) into the target, which must be empty: a drill restores into an
    environment of its own, never over data.
    """

    url: str
    password: str | None = field(repr=False)

    def describe(self) -> str:
        from harness.config import redact_url

        return f"Redis {redact_url(self.url)} (network restore)"

    def restore_rdb(self, rdb: Path, *, timeout: float = 300.0) -> DataRestoreResult:
        from harness.backup.dataset import loaded_scratch
        from harness.redis_client import connect
        from harness.restore.network import stream_or_put_back

        sha, size = _check_source(rdb)
        phases = _Phases()
        target = connect(self.url, self.password, timeout=30.0)
        existing = int(target.dbsize())
        if existing:
            raise RestoreRefused(f"{self.describe()} is not empty ({existing} keys)",
                                 fix="a drill restores into an empty environment; empty it or run `sentinel-drill recover`")
        with loaded_scratch(rdb, load_timeout=timeout) as scratch:
            phases.done("loaded")
            streamed = stream_or_put_back(scratch, self.url, self.password, replace=False, previous=None,
                                          snapshot=None)  # a failure leaves the target empty again
        phases.done("streamed")
        keys = int(target.dbsize())
        phases.done("verified")
        return DataRestoreResult(self.describe(), sha, size, tuple(phases.items), phases.started_at,
                                 datetime.now(UTC), keys, keys_from_backup=streamed.keys_restored + streamed.keys_skipped)


# ----------------------------------------------------------------------------- kubernetes


class RedisVolumeOps(Protocol):
    """The cluster operations a file restore needs; ClusterRedisVolumeOps is the real one."""

    def scale(self, statefulset: str, replicas: int) -> int:
        """Set replicas; return the previous count."""
        ...

    def wait_stopped(self, statefulset: str, timeout: float) -> None:
        """Wait until the StatefulSet has no pods (its volume is free)."""
        ...

    def wait_ready(self, statefulset: str, timeout: float) -> None:
        """Wait until the StatefulSet's rollout is complete."""
        ...

    def start_helper(self, claim: str, mount_path: str, timeout: float) -> str:
        """Run a helper pod mounting `claim` at `mount_path`; return its name once Running."""
        ...

    def upload(self, pod: str, src: Path, dest: str, timeout: float) -> str:
        """Copy `src` to `dest` in the pod; return the sha256 the pod computed."""
        ...

    def move_aside_aof(self, pod: str, mount_path: str) -> None:
        """Rename an appendonlydir (it would win over the RDB at start) so the restore is what loads."""
        ...

    def delete_helper(self, pod: str) -> None:
        ...


@dataclass(frozen=True)
class KubernetesRedisData:
    """The runbook's restore for Redis in a StatefulSet with its data in a PersistentVolumeClaim."""

    ops: RedisVolumeOps = field(repr=False)
    namespace: str
    statefulset: str = "redis"
    claim: str = "data-redis-0"
    mount_path: str = "/data"
    dbfilename: str = "dump.rdb"

    def describe(self) -> str:
        return f"statefulset {self.namespace}/{self.statefulset} (claim {self.claim}, {self.mount_path}/{self.dbfilename})"

    def restore_rdb(self, rdb: Path, *, timeout: float = 300.0) -> DataRestoreResult:
        """Scale to 0, copy through a helper pod, scale back to the previous count (also on failure)."""
        sha, size = _check_source(rdb)
        phases = _Phases()
        previous = self.ops.scale(self.statefulset, 0)
        try:
            self.ops.wait_stopped(self.statefulset, timeout)
            phases.done("stopped")
            helper = self.ops.start_helper(self.claim, self.mount_path, timeout)
            try:
                self.ops.move_aside_aof(helper, self.mount_path)
                remote = self.ops.upload(helper, rdb, f"{self.mount_path}/{self.dbfilename}", timeout)
            finally:
                self.ops.delete_helper(helper)
            if remote != sha:
                raise DrillError(
                    f"the RDB copied into claim {self.claim} has sha256 {remote[:12]}…, expected {sha[:12]}…",
                    fix="the copy was corrupted in transit; run the restore again",
                )
            phases.done("placed")
        finally:
            self.ops.scale(self.statefulset, max(previous, 1))
        self.ops.wait_ready(self.statefulset, timeout)
        phases.done("started")
        return DataRestoreResult(self.describe(), sha, size, tuple(phases.items), phases.started_at,
                                 datetime.now(UTC))


def redis_data_plane(settings: Settings) -> RedisDataPlane:
    """The data plane for the configured target: the sandbox's local process, or the cluster's StatefulSet.

    The sandbox's Redis is a local process exactly when the configured Redis URL
    is the one a running sandbox serves; anything else is restored in-cluster.
    """
    from harness.sandbox.state import sandbox_for_redis_url  # local import: sandbox builds on platform

    local = sandbox_for_redis_url(settings.redis_url, Path(settings.sandbox_dir) if settings.sandbox_dir else None)
    if local is not None:
        return local
    from harness.platform.client import connect_settings
    from harness.platform.redis_volume import ClusterRedisVolumeOps

    cluster = connect_settings(settings)
    return KubernetesRedisData(ClusterRedisVolumeOps(cluster, settings.namespace), namespace=settings.namespace)
