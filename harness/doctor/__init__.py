"""`sentinel-drill doctor`: check every setting a drill relies on, read-only, before anything breaks.

A wrong password or a missing permission should be found here, not halfway
through a destructive scenario. Every check only reads (GETs, PING, listings,
SelfSubjectAccessReviews); the report says per scenario whether it can run.
"""

from __future__ import annotations

from harness.doctor.cluster_checks import api_rows, permission_rows
from harness.doctor.permissions import SCENARIO_NEEDS, SCENARIOS, Need
from harness.doctor.rows import DoctorReport, Row, Verdict
from harness.doctor.service_checks import (
    backup_age_row,
    deploy_method_row,
    dns_row,
    health_row,
    redis_row,
    store_rows,
)
from harness.target.base import Target

__all__ = ["SCENARIOS", "SCENARIO_NEEDS", "DoctorReport", "Need", "Row", "Verdict", "run_doctor"]


def run_doctor(target: Target, scenarios: tuple[str, ...] = SCENARIOS) -> DoctorReport:
    """Every row for `target`, and which of `scenarios` can run; changes nothing on the target."""
    rows, cluster = api_rows(target, scenarios)
    if cluster is not None:
        rows += permission_rows(target, cluster, scenarios)
    rows.append(redis_row(target, scenarios))
    rows += store_rows(target, scenarios)
    rows.append(backup_age_row(target, scenarios))
    rows.append(dns_row(target, scenarios))
    rows.append(health_row(target, scenarios))
    rows.append(deploy_method_row(target, scenarios))
    return DoctorReport(target.name, tuple(rows), scenarios)
