"""Figures derived from a few raw numbers: a backup's age, the RPO, key-count drift, a clock's offset.

The drill states them and `evidence verify --recompute` derives them again from
the bundle's raw observations, through these same functions.
"""

from __future__ import annotations

from datetime import datetime

#: Last-Modified and HTTP Date headers carry whole seconds: a store's time may read up to this much early
STORE_TIME_RESOLUTION_S = 1.0


def backup_age_s(point_in_time: datetime, at: datetime) -> float:
    """Seconds from the backup's point in time to `at` (0 for a point in time ahead of a skewed clock)."""
    return max(0.0, (at - point_in_time).total_seconds())


def rpo_s(pipeline_point_in_time: datetime, fault_at: datetime, canary_loss_s: float) -> float:
    """What a restore from the pipeline would lose: its newest backup's age at the fault + the canary loss."""
    return backup_age_s(pipeline_point_in_time, fault_at) + canary_loss_s


def key_drift(keys: int, reference: int) -> float:
    """Relative difference between a restored key count and a reference count (production's DBSIZE)."""
    return abs(keys - reference) / max(reference, 1)


def clock_offset_s(store_time: datetime, *, wall_before: datetime, wall_after: datetime,
                   resolution_s: float = STORE_TIME_RESOLUTION_S) -> float:
    """How far the store's time lies outside the wall-clock window in which it was stamped (0 inside it).

    The store stamped the object (or the response) between `wall_before` and `wall_after` by
    the drill's clock, and truncates to whole seconds: a store time in [before − resolution,
    after] agrees. Positive: the store is ahead of the drill's wall clock; negative: behind.
    """
    if store_time > wall_after:
        return (store_time - wall_after).total_seconds()
    earliest = wall_before.timestamp() - resolution_s
    if store_time.timestamp() < earliest:
        return store_time.timestamp() - earliest
    return 0.0
