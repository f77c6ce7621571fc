"""The Kubernetes volume plane follows the runbook's order, writes its undo first, and always gives Redis back,
through a fake of RedisVolumeOps (the real ops run on real nodes: tests/integration/nodes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.digests import sha256_file
from harness.errors import DrillError
from harness.restore.plane import Snapshot
from harness.restore.volume_plane import KubernetesVolumePlane


@dataclass
class FakeVolumeOps:
    """Records every call; `fail_on` makes that step raise, `corrupt` makes the pod report another checksum."""

    replicas_now: int = 1
    fail_on: str | None = None
    corrupt: bool = False
    calls: list[str] = field(default_factory=list)

    def _step(self, name: str) -> None:
        self.calls.append(name)
        if self.fail_on == name.split(" ")[0]:
            raise DrillError(f"{name} failed")

    def replicas(self, statefulset: str) -> int:
        return self.replicas_now

    def scale(self, statefulset: str, replicas: int) -> int:
        self._step(f"scale {statefulset} {replicas}")
        previous, self.replicas_now = self.replicas_now, replicas
        return previous

    def wait_stopped(self, statefulset: str, timeout: float) -> None:
        self._step(f"wait_stopped {statefulset}")

    def wait_ready(self, statefulset: str, timeout: float) -> None:
        self._step(f"wait_ready {statefulset}")

    def start_helper(self, claim: str, mount_path: str, timeout: float, *, name: str,
                     labels: dict[str, str]) -> str:
        self._step(f"start_helper {claim} {mount_path} {sorted(labels.values())}")
        return name

    def upload(self, pod: str, src: Path, dest: str, timeout: float) -> str:
        self._step(f"upload {src.name} {dest}")
        return "0" * 64 if self.corrupt else sha256_file(src)

    def remove(self, pod: str, path: str) -> None:
        self._step(f"remove {path}")

    def move_aside_aof(self, pod: str, mount_path: str) -> None:
        self._step("move_aside_aof")

    def delete_helper(self, pod: str) -> None:
        self._step("delete_helper")


@dataclass
class FakeNotes:
    """The undo ledger as the plane sees it: what was noted, in order, with the ops' calls interleaved."""

    ops: FakeVolumeOps
    pending: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)

    def before(self, kind: str, *, action: str, **params: Any) -> str:
        entry = f"e{len(self.pending) + 1}"
        self.pending[entry] = (kind, params)
        self.ops.calls.append(f"undo noted: {kind}")
        return entry

    def done(self, entry_id: str, *, how: str = "undone") -> None:
        self.pending.pop(entry_id)


class NoHold:
    def count_own(self, n: int = 1) -> None:
        pass

    def check(self, phase: str) -> None:
        pass


@pytest.fixture
def rdb(tmp_path: Path) -> Path:
    path = tmp_path / "backup.rdb"
    path.write_bytes(b"REDIS0010" + b"\x00" * 100)
    return path


def plane(ops: FakeVolumeOps, notes: FakeNotes | None = None) -> KubernetesVolumePlane:
    return KubernetesVolumePlane(ops, "sentinel", client=lambda: None, url=lambda: "redis://x",  # type: ignore[arg-type,return-value]
                                 undo=notes, run_id="run-1")


def test_the_restore_notes_its_undo_before_scaling_to_zero_and_before_the_helper_pod(rdb: Path) -> None:
    ops = FakeVolumeOps()
    notes = FakeNotes(ops)
    plane(ops, notes).write(rdb, replace=False, hold=NoHold())
    assert ops.calls == [
        "undo noted: scale_statefulset", "scale redis 0", "wait_stopped redis",
        "undo noted: delete_pod", "start_helper data-redis-0 /data ['run-1']", "move_aside_aof",
        "upload backup.rdb /data/dump.rdb", "delete_helper", "scale redis 1", "wait_ready redis",
    ]
    assert notes.pending == {}  # each undo settled once its step was given back


def test_a_run_killed_while_redis_is_down_leaves_the_count_to_scale_back_to_in_the_ledger(rdb: Path) -> None:
    ops = FakeVolumeOps(replicas_now=3, fail_on="upload")
    notes = FakeNotes(ops)
    with pytest.raises(DrillError, match="upload"):
        plane(ops, notes).write(rdb, replace=False, hold=NoHold())
    kinds = {kind: params for kind, params in notes.pending.values()}
    assert kinds["scale_statefulset"] == {"namespace": "sentinel", "name": "redis", "replicas": 3}


def test_a_failed_copy_deletes_the_helper_and_the_put_back_removes_the_file_and_gives_redis_back(rdb: Path) -> None:
    ops = FakeVolumeOps(replicas_now=1, fail_on="upload")
    notes = FakeNotes(ops)
    restore = plane(ops, notes)
    with pytest.raises(DrillError, match="upload"):
        restore.write(rdb, replace=False, hold=NoHold())
    assert ops.calls[-1] == "delete_helper"
    ops.fail_on = None
    said = restore.put_back(None)
    assert ops.calls[-4:] == ["remove /data/dump.rdb", "delete_helper", "scale redis 1", "wait_ready redis"]
    assert ops.replicas_now == 1 and "removed" in said
    assert notes.pending == {}


def test_the_put_back_of_a_replaced_redis_uploads_its_snapshot(rdb: Path, tmp_path: Path) -> None:
    ops = FakeVolumeOps(corrupt=True)
    restore = plane(ops, FakeNotes(ops))
    with pytest.raises(DrillError, match="sha256"):
        restore.write(rdb, replace=True, hold=NoHold())
    assert "wait_ready redis" not in ops.calls  # Redis is still down: the put-back brings it up
    before = tmp_path / "before.rdb"
    before.write_bytes(b"REDIS0010snapshot")
    ops.corrupt = False
    restore.put_back(Snapshot(before, "s3://b/snapshots/x.rdb", 5))
    assert "upload before.rdb /data/dump.rdb" in ops.calls and ops.calls[-2:] == ["scale redis 1", "wait_ready redis"]


def test_a_redis_that_was_already_down_is_started_by_the_restore(rdb: Path) -> None:
    ops = FakeVolumeOps(replicas_now=0)
    plane(ops).write(rdb, replace=False, hold=NoHold())
    assert ops.replicas_now == 1


def test_nothing_is_put_back_when_redis_was_never_stopped(rdb: Path) -> None:
    ops = FakeVolumeOps()
    assert "nothing" in plane(ops).put_back(None) and ops.calls == []
