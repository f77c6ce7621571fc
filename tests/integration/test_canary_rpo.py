"""Canary writes turn data loss into a number: what the reader reports lost is exactly what came after the backup."""

from __future__ import annotations

import time

import pytest

from harness.backup import open_store, take_backup, verify_backup
from harness.measure.canary import CanaryReader, CanaryWriter
from harness.restore import restore_backup

pytestmark = pytest.mark.integration


def _wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


@pytest.mark.parametrize("strategy", ["network", "file"])
def test_writes_after_the_backup_are_exactly_the_ones_reported_lost(
    strategy, file_store_url, source, redis_factory, data
):
    data.seed(source.client(), n=2)
    writer = CanaryWriter(source.client(), interval_s=0.01).start()
    try:
        _wait_for(lambda: len(writer.acknowledged) >= 10)
        store = open_store(file_store_url)
        backup = take_backup(source.url, store, password=data.source_password)
        high = backup.manifest.canary_high_water
        assert high is not None
        _wait_for(lambda: writer.acknowledged[-1].seq >= high + 10)
    finally:
        writer.stop()
    acknowledged = list(writer.acknowledged)
    assert verify_backup(store, backup.id, min_keys=1).passed

    target = redis_factory()
    restore_backup(store, backup.id, target_url=target.url, target_password=data.target_password,
                   strategy=strategy, managed=target)
    report = CanaryReader(target.client()).report(acknowledged)

    after_backup = tuple(w.seq for w in acknowledged if w.seq > high)
    assert report.lost_seqs == after_backup
    assert report.newest_present is not None and report.newest_present.seq == high
    assert report.holes == ()
    assert report.data_loss_window_s > 0
    # the point in time bounds the newest surviving canary: it was written no later than the save finished
    assert report.newest_present.at.replace(microsecond=0) <= backup.manifest.point_in_time
