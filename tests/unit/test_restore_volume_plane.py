"""KubernetesRedisData follows the runbook's order and always gives Redis back, through a fake of RedisVolumeOps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.digests import sha256_file
from harness.errors import DrillError, RestoreRefused
from harness.platform.redis_data import KubernetesRedisData


@dataclass
class FakeVolumeOps:
    """Records every call; `fail_on` makes that step raise, `corrupt` makes the pod report another checksum."""

    replicas: int = 1
    fail_on: str | None = None
    corrupt: bool = False
    calls: list[str] = field(default_factory=list)

    def _step(self, name: str) -> None:
        self.calls.append(name)
        if self.fail_on == name.split(" ")[0]:
            raise DrillError(f"{name} failed")

    def scale(self, statefulset: str, replicas: int) -> int:
        self._step(f"scale {statefulset} {replicas}")
        previous, self.replicas = self.replicas, replicas
        return previous

    def wait_stopped(self, statefulset: str, timeout: float) -> None:
        self._step(f"wait_stopped {statefulset}")

    def wait_ready(self, statefulset: str, timeout: float) -> None:
        self._step(f"wait_ready {statefulset}")

    def start_helper(self, claim: str, mount_path: str, timeout: float) -> str:
        self._step(f"start_helper {claim} {mount_path}")
        return "helper-1"

    def upload(self, pod: str, src: Path, dest: str, timeout: float) -> str:
        self._step(f"upload {pod} {dest}")
        return "0" * 64 if self.corrupt else sha256_file(src)

    def move_aside_aof(self, pod: str, mount_path: str) -> None:
        self._step(f"move_aside_aof {pod}")

    def delete_helper(self, pod: str) -> None:
        self._step(f"delete_helper {pod}")


@pytest.fixture
def rdb(tmp_path: Path) -> Path:
    path = tmp_path / "backup.rdb"
    path.write_bytes(b"REDIS0010" + b"\x00" * 100)
    return path


def plane(ops: FakeVolumeOps) -> KubernetesRedisData:
    return KubernetesRedisData(ops, namespace="sentinel")


def test_file_restore_scales_to_zero_copies_through_a_helper_and_scales_back(rdb: Path) -> None:
    ops = FakeVolumeOps()
    result = plane(ops).restore_rdb(rdb)
    assert ops.calls == [
        "scale redis 0", "wait_stopped redis", "start_helper data-redis-0 /data", "move_aside_aof helper-1",
        "upload helper-1 /data/dump.rdb", "delete_helper helper-1", "scale redis 1", "wait_ready redis",
    ]
    assert result.rdb_sha256 == sha256_file(rdb) and [n for n, _ in result.phases] == ["stopped", "placed", "started"]


def test_a_failed_copy_still_deletes_the_helper_and_gives_redis_back(rdb: Path) -> None:
    ops = FakeVolumeOps(replicas=1, fail_on="upload")
    with pytest.raises(DrillError, match="upload"):
        plane(ops).restore_rdb(rdb)
    assert ops.calls[-2:] == ["delete_helper helper-1", "scale redis 1"]
    assert ops.replicas == 1


def test_a_copy_with_the_wrong_checksum_is_an_error_and_redis_comes_back(rdb: Path) -> None:
    ops = FakeVolumeOps(corrupt=True)
    with pytest.raises(DrillError, match="sha256"):
        plane(ops).restore_rdb(rdb)
    assert "wait_ready redis" not in ops.calls and ops.calls[-1] == "scale redis 1"


def test_a_redis_that_was_already_down_is_started_by_the_restore(rdb: Path) -> None:
    ops = FakeVolumeOps(replicas=0)
    plane(ops).restore_rdb(rdb)
    assert ops.replicas == 1


def test_an_empty_rdb_is_refused_before_anything_is_touched(tmp_path: Path) -> None:
    empty = tmp_path / "empty.rdb"
    empty.write_bytes(b"")
    ops = FakeVolumeOps()
    with pytest.raises(RestoreRefused):
        plane(ops).restore_rdb(empty)
    assert ops.calls == []
