"""A backup from a newer Redis is refused by an older one before any write, naming both RDB versions.

Real containers (testcontainers, local images from `make images`): Debian trixie's Redis 8.0
(RDB 12) is backed up with the harness's own `take_backup`; the target is Debian bookworm's
Redis 7.0 (loads RDB ≤ 10). The backup's describe step needs a redis-server that reads RDB 12,
so that step's scratch server runs trixie's binary in a container (tests/containers.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from harness.backup import open_store, take_backup
from harness.errors import RestoreRefused
from harness.restore import restore_backup
from harness.restore.network_plane import NetworkPlane
from tests.containers import REDIS_BOOKWORM, REDIS_TRIXIE, containerised_redis_server

pytestmark = pytest.mark.integration

TARGET_KEYS = {b"session:existing": b"keep-me", b"ratelimit:existing": b"7"}


@pytest.fixture
def trixie_scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], AbstractContextManager[object]]:
    """A context in which the harness's scratch servers start from trixie's image (PATH first)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    containerised_redis_server(REDIS_TRIXIE, bin_dir)

    @contextmanager
    def on_path() -> Iterator[object]:
        with monkeypatch.context() as patch:
            patch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
            yield patch

    return on_path


@pytest.fixture
def newer_backup(redis_in_container, file_store_url, trixie_scratch, tmp_path):
    """(store, backup id, local RDB copy) of a backup taken from Debian trixie's Redis."""
    newer = redis_in_container(REDIS_TRIXIE)
    newer.client().mset({"session:1": "alice", "session:2": "bob", "cache:home": "<html>"})
    store = open_store(file_store_url)
    with trixie_scratch():
        backup = take_backup(newer.url, store, password=newer.password, keep_copy=tmp_path / "newer.rdb")
    assert backup.manifest.rdb_version == 12 and backup.manifest.redis_version.startswith("8.0")
    return store, backup.id, tmp_path / "newer.rdb"


@pytest.fixture
def older_target(redis_in_container):
    target = redis_in_container(REDIS_BOOKWORM)
    target.client().mset(TARGET_KEYS)
    return target


def assert_untouched(target) -> None:
    client = target.client()
    assert client.dbsize() == len(TARGET_KEYS)
    assert {k: client.get(k) for k in TARGET_KEYS} == TARGET_KEYS


def test_restore_refuses_a_newer_rdb_before_any_write(newer_backup, older_target):
    store, backup_id, _ = newer_backup
    assert older_target.client().info("server")["redis_version"] == "7.0.15"
    with pytest.raises(RestoreRefused) as refused:  # --replace and --force: the two overrides would both write
        restore_backup(store, backup_id, target_url=older_target.url, target_password=older_target.password,
                       replace=True, force=True)
    text = str(refused.value)
    assert "\n" not in text
    assert f"backup {backup_id} is RDB version 12 (written by Redis 8.0.2)" in text
    assert "runs Redis 7.0.15, which loads RDB versions up to 10: refused before any write" in text
    assert_untouched(older_target)


def test_cli_restore_refuses_a_newer_rdb_with_one_line_and_exit_1(newer_backup, older_target, cli, clean_env,
                                                                   file_store_url):
    _, backup_id, _ = newer_backup
    clean_env.setenv("DRILL_TARGET_REDIS_PASSWORD", older_target.password)
    code, out, err = cli("restore", backup_id, "--to", older_target.url, "--store", file_store_url,
                         "--replace", "--force")
    assert code == 1 and out == ""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "RDB version 12" in lines[0] and "up to 10" in lines[0], err
    assert older_target.password not in err
    assert_untouched(older_target)


def test_network_restore_refuses_a_newer_rdb_before_any_write(newer_backup, older_target, trixie_scratch):
    """The network plane's staging (what the gate does before the hold) when the scratch server can load the file."""
    _, _, rdb = newer_backup
    plane = NetworkPlane(older_target.url, older_target.password)
    try:
        with trixie_scratch(), pytest.raises(RestoreRefused, match=r"RDB version 12 .* up to 10"):
            plane.stage(rdb)
    finally:
        plane.close()
    assert_untouched(older_target)
