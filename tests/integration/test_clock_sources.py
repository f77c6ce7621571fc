"""The store's own clock read from moto's S3 over HTTP: a response's Date header and an object's Last-Modified."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harness.backup.store import open_store
from harness.measure.clock_sources import store_object_time, store_response_time
from harness.measure.figures import clock_offset_s

pytestmark = pytest.mark.integration


def _offset(reading: dict[str, object]) -> float:
    return clock_offset_s(datetime.fromisoformat(str(reading["store_time"])),
                          wall_before=datetime.fromisoformat(str(reading["wall_before"])),
                          wall_after=datetime.fromisoformat(str(reading["wall_after"])))


def test_an_s3_stores_date_header_and_last_modified_agree_with_this_machines_clock(bucket: str) -> None:
    store = open_store(f"s3://{bucket}/drill")
    answer = store_response_time(store)
    written_at = datetime.now(UTC)
    store.put_bytes("backups/b1/manifest.json", b"{}")
    modified = store_object_time(store, "backups/b1/manifest.json", written_at=written_at)

    assert answer is not None and answer["store_time"] is not None, answer
    assert modified["store_time"] is not None, modified
    assert _offset(answer) == 0.0 and _offset(modified) == 0.0  # one machine, one clock


def test_a_local_store_has_no_clock_of_its_own(tmp_path) -> None:
    assert store_response_time(open_store(f"file://{tmp_path}")) is None
