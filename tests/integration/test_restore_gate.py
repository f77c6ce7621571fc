"""The one restore gate: others' writes during a restore are never lost, a failure removes only what the restore
wrote, and the drills restore through the same gate as the CLI (real redis-servers, a real store).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from harness.backup import open_store, take_backup, verify_backup
from harness.errors import RestoreRefused
from harness.restore import RestoreFailed, restore_backup
from harness.restore.plane import OthersWrote, PausedWrites

pytestmark = pytest.mark.integration

FOREIGN = b"foreign:written-during-the-restore"


@pytest.fixture
def backup(file_store_url, source, data):
    """A backup large enough that a restore takes a while (≈ 30 k keys)."""
    client = source.client()
    pipe = client.pipeline(transaction=False)
    for i in range(30_000):
        pipe.set(f"session:{i}", f"user-{i}")
    pipe.execute()
    store = open_store(file_store_url)
    backup_id = take_backup(source.url, store, password=data.source_password).id
    verify_backup(store, backup_id, min_keys=1)
    return store, backup_id


@contextmanager
def writer_on_first_restore(target_client: redis.Redis, *, collide: bool) -> Iterator[threading.Event]:
    """Another client that writes as soon as the restore's first key lands (a keyspace notification): a key of its
    own, and, with `collide`, keys of the backup the restore has not reached yet."""
    target_client.config_set("notify-keyspace-events", "KA")
    pubsub = target_client.pubsub()
    pubsub.psubscribe("__keyspace@0__:session:*")
    wrote = threading.Event()

    def run() -> None:
        other = redis.Redis(connection_pool=target_client.connection_pool)
        for message in pubsub.listen():
            if message["type"] == "pmessage":
                other.set(FOREIGN, b"must survive")
                if collide:
                    other.mset({f"session:{i}": "the other client's" for i in range(29_000, 30_000)})
                wrote.set()
                return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield wrote
    finally:
        thread.join(timeout=10)
        pubsub.close()


@pytest.mark.parametrize("collide", [False, True], ids=["beside", "colliding"])
def test_a_write_by_another_client_during_a_network_restore_is_kept_and_the_restore_removes_its_own(
        backup, redis_factory, data, collide: bool) -> None:
    store, backup_id = backup
    target = redis_factory()
    client = target.client()
    with writer_on_first_restore(client, collide=collide) as wrote, \
            pytest.raises((OthersWrote, RestoreFailed)) as refused:
        restore_backup(store, backup_id, target_url=target.url, target_password=data.target_password,
                       strategy="network")
    assert wrote.is_set()
    assert client.get(FOREIGN) == b"must survive", "another client's write was flushed by the restore"
    left = {k for k in client.scan_iter(match="session:*", count=1000)}
    theirs = {f"session:{i}".encode() for i in range(29_000, 30_000)} if collide else set()
    assert left <= theirs, f"{len(left - theirs)} key(s) the restore wrote were left behind"
    assert "removed" in refused.value.message


def test_without_others_the_network_restore_passes_the_watch(backup, redis_factory, data, source) -> None:
    store, backup_id = backup
    target = redis_factory()
    result = restore_backup(store, backup_id, target_url=target.url, target_password=data.target_password,
                            strategy="network")
    assert result.keys_restored == source.client().dbsize() == target.client().dbsize()


def test_paused_writes_hold_every_other_client_until_released(redis_factory) -> None:
    target = redis_factory(password=None)
    hold = PausedWrites(target.client(), "t")
    hold.pause(5.0)
    other = redis.Redis(port=target.port, socket_timeout=0.5, retry=Retry(NoBackoff(), 0))
    try:
        with pytest.raises(redis.TimeoutError):
            other.set("during-the-pause", 1)  # held by the server: the restore's stop comes first
        assert other.get("during-the-pause") is None  # reads go on
    finally:
        hold.release()


def test_the_drills_restore_refuses_a_non_empty_target_where_the_recovery_does_not_replace_production(
        backup, redis_factory, data, tmp_path) -> None:
    """The drills' path is the CLI's gate: a DR Redis that holds data is refused, nothing overwritten."""
    from harness.config import Settings
    from harness.drills import recovery
    from harness.drills.scenario import DrillScenario
    from harness.evidence.record import ScenarioRecord
    from harness.restore.network_plane import NetworkPlane

    backup_store, backup_id = backup
    target = redis_factory()
    target.client().set("someone:else", "x")

    class ParallelTarget:
        settings = Settings(store_url=backup_store.url)

        def store(self):
            return backup_store

        def restore_plane(self) -> NetworkPlane:
            return NetworkPlane(target.url, data.target_password, snapshot_store=backup_store)

        def recovery_replaces_production(self) -> bool:
            return False

        def restore_owner(self) -> None:
            return None

    drill = DrillScenario(ParallelTarget.settings, ScenarioRecord(name="t", feature="f", tags=()), tmp_path)
    with pytest.raises(RestoreRefused, match=r"not empty \(1 keys\)"):
        recovery.restore_redis(drill, ParallelTarget(), backup_id)  # type: ignore[arg-type]
    assert target.client().dbsize() == 1
