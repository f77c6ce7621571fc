"""Where the drill's times come from, and how far its wall clock is from the store's.

Durations come from the monotonic clock; timestamps, the canaries' times and
the RPO's backup ages from the wall clock, which can be wrong. The store keeps
a clock of its own: the Last-Modified time of every object written, and the
Date header of every answer. Recording both beside the drill's own wall time
lets `evidence verify` flag a bundle whose wall-clock times disagree with the
store's (`figures.clock_offset_s`). None of this ever fails a drill: a reading
that cannot be made is recorded with why.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal

from harness.errors import DrillError

if TYPE_CHECKING:
    from harness.backup.store import BackupStore


def _clock(name: Literal["time", "monotonic"]) -> dict[str, Any]:
    info = time.get_clock_info(name)
    return {"implementation": info.implementation, "adjustable": info.adjustable, "resolution_s": info.resolution}


def local_clocks() -> dict[str, Any]:
    """The two clocks every figure comes from, as Python sees them on this machine."""
    return {"wall": {"source": "datetime.now(UTC), the system's real-time clock", **_clock("time")},
            "monotonic": {"source": "time.monotonic(): durations (RTO, phases, outages)", **_clock("monotonic")}}


def store_object_time(store: BackupStore, key: str, *, written_at: datetime) -> dict[str, Any]:
    """The store's Last-Modified of `key`, which the drill began to write at `written_at` by its own wall clock.

    The store stamped it between `written_at` and now (`wall_before`, `wall_after`).
    """
    reading: dict[str, Any] = {"store": store.url, "object": key, "wall_before": written_at.isoformat(),
                               "wall_after": datetime.now(UTC).isoformat(), "store_time": None}
    try:
        found = [o for o in store.list(key) if o.key == key]
    except DrillError as exc:
        reading["error"] = exc.one_line()
        return reading
    if not found:
        reading["error"] = "not listed by the store"
        return reading
    modified = found[0].modified
    reading["store_time"] = (modified if modified.tzinfo else modified.replace(tzinfo=UTC)).isoformat()
    return reading


def store_response_time(store: BackupStore) -> dict[str, Any] | None:
    """The Date header of one answer from an S3 store, between two wall-clock readings; None for a local store.

    A file:// store has no clock but this machine's, so there is nothing to compare.
    """
    from harness.backup.s3 import S3Store

    if not isinstance(store, S3Store):
        return None
    before = datetime.now(UTC)
    reading: dict[str, Any] = {"store": store.url, "object": None, "wall_before": before.isoformat()}
    try:
        answer = store.client.head_bucket(Bucket=store.bucket)
        date = (answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}).get("date")
    except Exception as exc:  # noqa: BLE001 - a reading that fails is recorded, never raised
        reading.update(wall_after=datetime.now(UTC).isoformat(), store_time=None,
                       error=f"{exc.__class__.__name__}: {str(exc)[:200]}")
        return reading
    reading["wall_after"] = datetime.now(UTC).isoformat()
    try:
        reading["store_time"] = parsedate_to_datetime(date).astimezone(UTC).isoformat() if date else None
    except (TypeError, ValueError):
        reading["store_time"] = None
    if reading["store_time"] is None:
        reading["error"] = f"no usable Date header ({date!r})"
    return reading
