"""The network restore's trips: large values are read a few at a time, and every key still arrives once."""

from __future__ import annotations

import os

import pytest

from harness.backup.dataset import loaded_scratch
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
    read = network._read_batch
    monkeypatch.setattr(network, "BYTES_PER_TRIP", 200_000)
    monkeypatch.setattr(network, "_read_batch", lambda src, keys, **kw: (trips.append(len(keys)), read(src, keys, **kw))[1])
    target = redis_factory()
    with loaded_scratch(source.rdb_path) as scratch:
        result = stream_restore(scratch, target.url, password=data.target_password, replace=False)
    assert result.keys_restored == len(expected)
    data.assert_same(expected, data.dataset(target.client()))
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
