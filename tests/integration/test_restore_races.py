"""Restore loses nothing to a race and leaves nothing half-written.

The target is checked again immediately before the first write (the download
and the scratch load take time in which someone may write to it); `--replace`
is exact; a restore that fails midway puts the target back as it was.
"""

from __future__ import annotations

import secrets

import pytest

from harness.backup import layout, list_backups, open_store, take_backup, verify_backup
from harness.errors import RestoreRefused
from harness.restore import RestoreFailed, restore_backup

pytestmark = pytest.mark.integration


@pytest.fixture
def backup(file_store_url, source, data):
    data.seed(source.client(), n=2)
    store = open_store(file_store_url)
    backup_id = take_backup(source.url, store, password=data.source_password).id
    verify_backup(store, backup_id, min_keys=1)
    return store, backup_id


@pytest.mark.parametrize("strategy", ["network", "file"])
def test_a_write_between_the_check_and_the_restore_is_refused_and_kept(backup, redis_factory, data, strategy):
    store, backup_id = backup
    target = redis_factory()
    client = target.client()

    def someone_writes() -> None:
        client.set("written:meanwhile", "must survive")

    with pytest.raises(RestoreRefused, match=r"not empty \(1 keys\) \(written to while the backup was being prepared\)"):
        restore_backup(store, backup_id, target_url=target.url, target_password=data.target_password,
                       strategy=strategy, before_write=someone_writes)
    assert client.get("written:meanwhile") == b"must survive"
    assert client.dbsize() == 1


@pytest.mark.parametrize("strategy", ["network", "file"])
def test_with_replace_a_target_that_looked_empty_is_snapshotted_when_it_is_written_to(backup, redis_factory, data,
                                                                                      strategy):
    store, backup_id = backup
    target = redis_factory()
    client = target.client()
    result = restore_backup(store, backup_id, target_url=target.url, target_password=data.target_password,
                            strategy=strategy, replace=True, before_write=lambda: client.set("late", "x"))
    snapshots = list_backups(store.child(layout.SNAPSHOTS_PREFIX))
    assert result.snapshot is not None and len(snapshots) == 1, "the late write is in a snapshot, not lost"
    assert client.exists("late") == 0


def test_network_replace_is_exact(backup, source, redis_factory, data):
    store, backup_id = backup
    expected = data.dataset(source.client())
    target = redis_factory()
    target.client().mset({"only:in:target": "1", "session:0": "stale value"})
    restore_backup(store, backup_id, target_url=target.url, target_password=data.target_password,
                   strategy="network", replace=True)
    data.assert_same(expected, data.dataset(target.client()))


def _big_backup(file_store_url, source, data):
    client = source.client()
    client.mset({f"blob:{i}": secrets.token_bytes(20_000) for i in range(150)})  # ≈ 3 MB
    store = open_store(file_store_url)
    backup_id = take_backup(source.url, store, password=data.source_password).id
    verify_backup(store, backup_id, min_keys=1)
    return store, backup_id


def _starve(client, headroom: int = 500_000) -> None:
    """Let the server hold what it has plus `headroom` bytes; writes past that fail with OOM (noeviction)."""
    used = int(client.info("memory")["used_memory"])
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", str(used + headroom))


def test_a_restore_that_fails_midway_puts_the_snapshot_back_exactly(file_store_url, source, redis_factory, data):
    store, backup_id = _big_backup(file_store_url, source, data)
    target = redis_factory()
    client = target.client()
    data.seed(client, n=1)
    before = data.dataset(client)
    _starve(client)
    with pytest.raises(RestoreFailed, match=r"put back: the \d+ key\(s\) the restore wrote removed; \d+ key\(s\) of "
                                            r"the snapshot .* put back"):
        restore_backup(store, backup_id, target_url=target.url, target_password=data.target_password,
                       strategy="network", replace=True)
    data.assert_same(before, data.dataset(client))


def test_a_restore_that_fails_midway_into_an_empty_target_leaves_it_empty(file_store_url, source, redis_factory,
                                                                         data):
    store, backup_id = _big_backup(file_store_url, source, data)
    target = redis_factory()
    client = target.client()
    _starve(client)
    with pytest.raises(RestoreFailed, match=r"put back: the \d+ key\(s\) the restore wrote removed$"):
        restore_backup(store, backup_id, target_url=target.url, target_password=data.target_password,
                       strategy="network")
    assert client.dbsize() == 0
