"""The network restore's trips: large values are read a few at a time, and every key still arrives once."""

from __future__ import annotations

import os

import pytest

from harness.backup.dataset import db_client, loaded_scratch
from harness.errors import AuthFailed
from harness.redis_process import ScratchRedis
from harness.restore import network
from harness.restore.network import RestoreFailed, stream_restore

pytestmark = pytest.mark.integration


def test_large_values_are_read_in_trips_under_the_byte_budget(source, redis_factory, data,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    client = source.client()
    for i in range(40):
        client.set(f"big:{i}", os.urandom(65_536), ex=7200)  # random: DUMP compresses runs
    client.save()
    expected = data.dataset(client)
    trips: list[int] = []
    receive = network._Source.receive
    monkeypatch.setattr(network, "BYTES_PER_TRIP", 200_000)
    monkeypatch.setattr(network._Source, "receive",
                        lambda self, trip: (trips.append(len(trip.keys)), receive(self, trip))[1])
    target = redis_factory()
    with loaded_scratch(source.rdb_path) as scratch:
        result = stream_restore(scratch, target.url, password=data.target_password, replace=False)
    assert result.keys_restored == len(expected)
    data.assert_same(expected, data.dataset(target.client()))
    trips = [n for n in trips if n]  # the first trip is the SCAN alone
    assert trips[0] == 16 and max(trips[1:]) == 3 and sum(trips) == 40, trips  # 3 × 64 KB per 200 KB trip


def test_a_refused_restore_names_its_key_even_with_a_batch_in_flight(source, redis_factory, data) -> None:
    client = source.client()
    data.seed(client)
    client.save()
    target = redis_factory()
    target.client().set("session:3", "already here")
    with loaded_scratch(source.rdb_path) as scratch, pytest.raises(RestoreFailed, match="BUSYKEY") as err:
        stream_restore(scratch, target.url, password=data.target_password, replace=False)
    assert "session:3" in err.value.message and "--replace" in err.value.fix


def test_a_refusal_in_a_later_batch_names_its_key_and_nothing_past_it_is_misread(source, redis_factory, data) -> None:
    """Small batches put several in flight on one connection: the refusal must be matched to its own key."""
    client = source.client()
    client.mset({f"k:{i:04d}": str(i) for i in range(3000)})
    client.save()
    target = redis_factory()
    target.client().set("k:2500", "already here")
    with loaded_scratch(source.rdb_path) as scratch, pytest.raises(RestoreFailed, match="BUSYKEY") as err:
        stream_restore(scratch, target.url, password=data.target_password, replace=False, batch=50)
    assert "'k:2500'" in err.value.message
    assert target.client().get("k:2500") == b"already here"


def test_replace_overwrites_and_every_type_ttl_binary_key_and_db_arrives(source, redis_factory, data) -> None:
    client = source.client()
    data.seed(client, n=300)
    db_client(source, 3).set(b"\x00bin\xff\r\n", b"\x00\r\n$5\r\n", px=900_000)  # RESP bytes in a key
    client.save()
    target = redis_factory()
    target.client().set("session:3", "stale")
    expected = {db: data.dataset(db_client(source, db)) for db in (0, 3)}
    with loaded_scratch(source.rdb_path) as scratch:
        result = stream_restore(scratch, target.url, password=data.target_password, replace=True, batch=64)
        assert db_client(scratch, 0).config_get("rdbcompression") == {"rdbcompression": "yes"}  # put back
    assert result.keys_restored == sum(map(len, expected.values())) and result.keys_skipped == 0
    for db, keys in expected.items():
        data.assert_same(keys, data.dataset(db_client(target, db)))


def test_a_wrong_target_password_is_one_line_without_the_password(source, redis_factory, data) -> None:
    client = source.client()
    client.set("k", "v")
    client.save()
    target = redis_factory()
    with loaded_scratch(source.rdb_path) as scratch, pytest.raises(AuthFailed) as err:
        stream_restore(scratch, target.url, password="not-the-password-3f9", replace=False)
    text = f"{err.value.message} {err.value.fix}"
    assert "\n" not in err.value.message and "not-the-password-3f9" not in text and data.target_password not in text
    assert target.client().dbsize() == 0


@pytest.mark.parametrize(("with_ttl", "may_repeat"), [(0, False), (1000, True), (500, False)])
def test_the_fingerprint_set_is_kept_only_where_the_scratch_table_could_shrink(with_ttl: int, may_repeat: bool) -> None:
    """1000 keys in a 1024-slot table: it can shrink below 1/4 full only if the keys with a TTL may all expire."""
    with ScratchRedis(password="p") as scratch:
        scratch.start()
        client = db_client(scratch, 0)
        client.mset({f"k{i}": i for i in range(1000)})
        for i in range(with_ttl):
            client.expire(f"k{i}", 7200)
        assert network.scan_may_repeat(client, 0) is may_repeat


def test_a_server_that_refuses_debug_keeps_the_fingerprint_set(redis_factory) -> None:
    server = redis_factory()  # not a scratch server: DEBUG is not enabled there
    server.client().set("k", "v")
    assert network.scan_may_repeat(server.client(), 0) is True


@pytest.mark.parametrize("ttl", [True, False])
def test_every_key_arrives_once_with_or_without_the_fingerprint_set(source, redis_factory, data, ttl: bool,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    client = source.client()
    client.mset({f"t{i}": i for i in range(3000)})
    for i in range(3000 if ttl else 0):
        client.expire(f"t{i}", 7200)
    client.save()
    sources: list[network._Source] = []
    init = network._Source.__init__
    monkeypatch.setattr(network._Source, "__init__",
                        lambda self, *a, **kw: (init(self, *a, **kw), sources.append(self))[0])
    target = redis_factory()
    with loaded_scratch(source.rdb_path) as scratch:
        result = stream_restore(scratch, target.url, password=data.target_password, replace=False)
    assert result.keys_restored == 3000 == target.client().dbsize()
    assert sources and all((len(s.seen) == 3000) if ttl else s.seen is None for s in sources)  # type: ignore[arg-type]
