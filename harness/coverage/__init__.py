"""Backup coverage: every row of the runbook's "What to Back Up" table checked against what the pipelines left."""

from __future__ import annotations

from datetime import UTC, datetime

from harness.coverage.prometheus import prometheus_row
from harness.coverage.report import CoverageReport, CoverageRow
from harness.coverage.rows import config_row, logs_row, redis_row
from harness.target.base import Target

__all__ = ["CoverageReport", "CoverageRow", "check_coverage", "config_row", "logs_row", "prometheus_row",
           "redis_row"]


def check_coverage(target: Target, *, now: datetime | None = None) -> CoverageReport:
    """All four rows, in the runbook's order."""
    now = now or datetime.now(UTC)
    rows = (redis_row(target.store(), target.settings, now=now), config_row(target), logs_row(target, now=now),
            prometheus_row(target))
    return CoverageReport(now, target.settings.coverage_window_hours, rows)
