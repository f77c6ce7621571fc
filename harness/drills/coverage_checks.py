"""Backup coverage as drill scenarios: each row checked, recorded for the evidence, and failed by its problems."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from harness.coverage import CoverageRow, config_row, logs_row, prometheus_row, redis_row
from harness.drills.scenario import DrillScenario
from harness.errors import CheckFailed
from harness.evidence.tables import REPORTED_ONLY
from harness.measure.clock import Measurement
from harness.target.base import Target

Component = Literal["Redis", "Configuration", "Logs", "Prometheus"]
WORST_CASE_RPO = "worst-case RPO allowed by the backup history"


def check_row(drill: DrillScenario, target: Target, component: Component) -> CoverageRow:
    """Check one row now and keep it in the scenario's record (problems by name, values never)."""
    now = datetime.now(UTC)
    if component == "Redis":
        found = redis_row(target.store(), target.settings, now=now)
        worst = found.details.get("worst_case_rpo_s")
        if worst is not None:
            drill.record_measurement(Measurement(
                f"{WORST_CASE_RPO} ({target.settings.coverage_window_hours:g} h)", target.settings.rpo_seconds,
                float(worst), started_at=now - timedelta(seconds=float(worst)), ended_at=now), unit_note=REPORTED_ONLY)
    elif component == "Configuration":
        found = config_row(target)
    elif component == "Logs":
        found = logs_row(target, now=now)
    else:
        found = prometheus_row(target)
    drill.note("coverage", found.to_json())
    return found


def require_row(found: CoverageRow) -> None:
    """FAIL naming every problem of the row."""
    if not found.passed:
        raise CheckFailed(f"{found.component} coverage: {'; '.join(found.problems)}",
                          fix="see `sentinel-drill coverage` for the whole table")
