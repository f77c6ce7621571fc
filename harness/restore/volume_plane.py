"""The Kubernetes volume plane: the runbook's restore of Redis in a StatefulSet, its data in a PersistentVolumeClaim.

Scale the StatefulSet to 0, copy dump.rdb into its volume through a helper pod
(a ReadWriteOnce volume cannot be shared), scale back, wait Ready. Before the
stop, every client's writes are paused (`CLIENT PAUSE WRITE`: none lands between
the last look and the stop) and a non-empty server is snapshotted. The scale to
0 and the helper pod are written into the undo ledger before they happen, so a
killed run leaves `recover` a Redis to scale back and a pod to delete. A failure
after the stop puts the snapshot's file back (or removes the restored one when
the server was empty) and scales Redis back: never left at 0 replicas.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import redis

from harness.backup.store import BackupStore
from harness.digests import sha256_file
from harness.errors import DrillError
from harness.ownership import run_labels
from harness.polling import wait_until
from harness.resp import reply_text
from harness.restore.compat import target_redis_version
from harness.restore.plane import (
    PlaneWrite,
    RestorePhases,
    Snapshot,
    UndoNotes,
    WriteHold,
    paused_or_watched,
    take_snapshot,
    total_keys,
)


class RedisVolumeOps(Protocol):
    """The cluster operations the volume plane needs; harness.platform.redis_volume.ClusterRedisVolumeOps is the real one."""

    def replicas(self, statefulset: str) -> int:
        """The StatefulSet's desired replica count now."""
        ...

    def scale(self, statefulset: str, replicas: int) -> int:
        """Set replicas; return the previous count."""
        ...

    def wait_stopped(self, statefulset: str, timeout: float) -> None:
        """Wait until the StatefulSet has no pods (its volume is free)."""
        ...

    def wait_ready(self, statefulset: str, timeout: float) -> None:
        """Wait until the StatefulSet's rollout is complete."""
        ...

    def start_helper(self, claim: str, mount_path: str, timeout: float, *, name: str,
                     labels: dict[str, str]) -> str:
        """Run helper pod `name` mounting `claim` at `mount_path`; return its name once Running."""
        ...

    def upload(self, pod: str, src: Path, dest: str, timeout: float) -> str:
        """Copy `src` to `dest` in the pod; return the sha256 the pod computed."""
        ...

    def remove(self, pod: str, path: str) -> None:
        """Remove `path` in the pod (a restored file, when the server was empty before)."""
        ...

    def move_aside_aof(self, pod: str, mount_path: str) -> None:
        """Rename an appendonlydir (it would win over the RDB at start) so the restore is what loads."""
        ...

    def delete_helper(self, pod: str) -> None:
        ...


@dataclass
class KubernetesVolumePlane:
    """Redis in a StatefulSet: its file replaced in the claim, the server restarted on it."""

    ops: RedisVolumeOps = field(repr=False)
    namespace: str
    #: a client of the StatefulSet's Redis (through its Service or a port-forward), and its URL for a snapshot
    client: Callable[[], redis.Redis] = field(repr=False)
    url: Callable[[], str] = field(repr=False)
    password: str | None = field(default=None, repr=False)
    snapshot_store: BackupStore | None = None
    undo: UndoNotes | None = field(default=None, repr=False)
    #: the run whose label the helper pod carries (what `recover` may delete)
    run_id: str | None = None
    statefulset: str = "redis"
    claim: str = "data-redis-0"
    mount_path: str = "/data"
    dbfilename: str = "dump.rdb"
    timeout: float = 300.0
    _stopped_at: int | None = None  # replicas to scale back to, once this plane scaled Redis to 0
    _scale_entry: str | None = None

    @property
    def name(self) -> str:
        return "kubernetes volume"

    def describe(self) -> str:
        return (f"statefulset {self.namespace}/{self.statefulset} (claim {self.claim}, "
                f"{self.mount_path}/{self.dbfilename})")

    def _answering(self) -> redis.Redis:
        """The server through its Service, asked until it answers (it may be starting)."""
        client: list[redis.Redis] = []

        def reached() -> bool | None:
            try:
                candidate = self.client()
                candidate.ping()
            except (DrillError, redis.RedisError):
                return None
            client.append(candidate)
            return True

        wait_until(reached, timeout=self.timeout, interval=0.25, what=f"Redis of {self.describe()} to answer",
                   describe=lambda: "no answer (starting, or the password is not the one it loaded)")
        return client[-1]

    def redis_version(self) -> str:
        return target_redis_version(self._answering())

    def count_keys(self) -> int:
        return total_keys(self._answering())

    def staging_path(self, work_dir: Path) -> Path:
        return work_dir / "backup.rdb"

    def stage(self, rdb: Path) -> None:
        """Nothing to load ahead: the server itself loads the file at start."""

    @contextmanager
    def hold_writes(self) -> Iterator[WriteHold]:
        with paused_or_watched(self._answering(), self.describe(), timeout_s=self.timeout) as hold:
            yield hold

    def snapshot(self, work_dir: Path) -> Snapshot:
        return take_snapshot(self.url(), self.password, self.snapshot_store, work_dir, keys=self.count_keys(),
                             what=self.describe())

    def _note(self, kind: str, action: str, **params: object) -> str | None:
        return self.undo.before(kind, action=action, **params) if self.undo is not None else None

    def _settle(self, entry: str | None, how: str) -> None:
        if entry is not None and self.undo is not None:
            self.undo.done(entry, how=how)

    def _stop(self) -> None:
        back_to = max(self.ops.replicas(self.statefulset), 1)
        self._scale_entry = self._note("scale_statefulset",
                                       f"scale statefulset {self.namespace}/{self.statefulset} to 0",
                                       namespace=self.namespace, name=self.statefulset, replicas=back_to)
        self.ops.scale(self.statefulset, 0)
        self._stopped_at = back_to
        self.ops.wait_stopped(self.statefulset, self.timeout)

    def _start(self) -> None:
        if self._stopped_at is None:
            return
        self.ops.scale(self.statefulset, self._stopped_at)
        self._settle(self._scale_entry, f"scaled back to {self._stopped_at}")
        self._stopped_at = None
        self.ops.wait_ready(self.statefulset, self.timeout)

    def _in_helper(self, act: Callable[[str], None]) -> None:
        """Run `act(pod)` in a helper pod mounting the claim; the pod is in the ledger before it exists."""
        name = f"sentinel-drill-restore-{secrets.token_hex(3)}"
        entry = self._note("delete_pod", f"start restore helper pod {self.namespace}/{name}",
                           namespace=self.namespace, name=name, run_id=self.run_id)
        try:
            pod = self.ops.start_helper(self.claim, self.mount_path, self.timeout, name=name,
                                        labels=run_labels(self.run_id) if self.run_id else {})
            act(pod)
        finally:
            self.ops.delete_helper(name)
            self._settle(entry, "deleted after the copy")

    def write(self, rdb: Path, *, replace: bool, hold: WriteHold) -> PlaneWrite:
        sha = sha256_file(rdb)
        phases = RestorePhases()
        self._stop()  # the pause ends with the server; nothing was written since the last look
        phases.done("stopped")
        remote: list[str] = []

        def place(pod: str) -> None:
            self.ops.move_aside_aof(pod, self.mount_path)
            remote.append(self.ops.upload(pod, rdb, f"{self.mount_path}/{self.dbfilename}", self.timeout))

        self._in_helper(place)
        if remote[-1] != sha:
            raise DrillError(f"the RDB copied into claim {self.claim} has sha256 {remote[-1][:12]}…, expected "
                             f"{sha[:12]}…", fix="the copy was corrupted in transit; run the restore again")
        phases.done("placed")
        self._start()
        phases.done("started")
        return PlaneWrite(0, 0, tuple(phases.items))

    def put_back(self, snapshot: Snapshot | None) -> str:
        """After a failure: the snapshot's file (or none, when the server was empty) back in the claim, Redis up."""
        if self._stopped_at is None:
            return "nothing had been written (Redis was not stopped)"
        dest = f"{self.mount_path}/{self.dbfilename}"
        if snapshot is not None:
            def upload(pod: str) -> None:
                self.ops.upload(pod, snapshot.rdb, dest, self.timeout)

            self._in_helper(upload)
            what = f"snapshot {snapshot.location} put back"
        else:
            self._in_helper(lambda pod: self.ops.remove(pod, dest))
            what = "the restored file removed (Redis was empty)"
        self._start()
        return f"{what}; Redis scaled back and ready"

    def mark_owner(self, key: str, run_id: str) -> None:
        self._answering().set(key, run_id)

    def owner_mark(self, key: str) -> str | None:
        value = self._answering().get(key)
        return reply_text(value) if value is not None else None

    def close(self) -> None:
        """Nothing was started."""
