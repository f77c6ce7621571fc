"""The Redis data seam: put an RDB where the target's Redis loads it, one interface, one implementation per target.

Scenario code calls `target.redis_data().restore_rdb(path)` and never asks what
the target is; the Target picks the implementation. Here are the cluster's:
`KubernetesRedisData` is the runbook's file restore (scale the StatefulSet to 0
→ copy dump.rdb into its volume through a helper pod → scale back → wait
Ready) and `NetworkRedisData` streams into a Redis whose volume the harness
cannot reach. The sandbox's local redis-server has its own
(harness.sandbox.redis_data.LocalProcessRedisData).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from harness.digests import sha256_file
from harness.errors import DrillError, RestoreRefused


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


class RestorePhases:
    """Named steps of a restore and how long each took (for DataRestoreResult.phases)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, float]] = []
        self.mark = time.monotonic()
        self.started_at = datetime.now(UTC)

    def done(self, name: str) -> None:
        now = time.monotonic()
        self.items.append((name, now - self.mark))
        self.mark = now


def check_rdb_source(rdb: Path) -> tuple[str, int]:
    """(sha256, size) of a restore's source RDB; RestoreRefused when it is missing or empty."""
    if not rdb.is_file() or rdb.stat().st_size == 0:
        raise RestoreRefused(f"RDB file {rdb} is missing or empty", fix="pass a verified backup's RDB file")
    return sha256_file(rdb), rdb.stat().st_size


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

        sha, size = check_rdb_source(rdb)
        phases = RestorePhases()
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
    # the runbook's last step, "redis-cli DBSIZE": asks the restarted server through its Service until it
    # answers (the Service's endpoints follow the new pod a moment after it is Ready)
    dbsize: Callable[[float], int] | None = field(default=None, repr=False)

    def describe(self) -> str:
        return f"statefulset {self.namespace}/{self.statefulset} (claim {self.claim}, {self.mount_path}/{self.dbfilename})"

    def restore_rdb(self, rdb: Path, *, timeout: float = 300.0) -> DataRestoreResult:
        """Scale to 0, copy through a helper pod, scale back to the previous count (also on failure)."""
        sha, size = check_rdb_source(rdb)
        phases = RestorePhases()
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
        keys = None
        if self.dbsize is not None:
            keys = self.dbsize(timeout)
            phases.done("verified")
        return DataRestoreResult(self.describe(), sha, size, tuple(phases.items), phases.started_at,
                                 datetime.now(UTC), keys)
