"""What stops a scenario decides its verdict; targets are compared, never assumed."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_settings
from harness.drills.pytest_plugin import classify
from harness.drills.scenario import DrillScenario
from harness.errors import (
    ConnectionFailed,
    FaultNotConfirmed,
    PreconditionFailed,
    TargetMissed,
    VerificationFailed,
)
from harness.evidence.record import ScenarioRecord, Verdict
from harness.measure.clock import Measurement


@pytest.mark.parametrize(("exc", "verdict"), [
    (None, Verdict.PASS),
    (TargetMissed("RTO measured 9.0s vs target 1s: BREACHED by 8.0s"), Verdict.FAIL),
    (VerificationFailed("backup x failed check checksum"), Verdict.FAIL),
    (FaultNotConfirmed("no pod was terminated"), Verdict.INVALID),
    (PreconditionFailed("unhealthy before the fault"), Verdict.INVALID),
    (ConnectionFailed("API unreachable"), Verdict.ERROR),
    (KeyError("boom"), Verdict.ERROR),
])
def test_classify(exc, verdict):
    assert classify(exc)[0] is verdict


def _scenario(tmp_path: Path, **env: str) -> DrillScenario:
    settings = load_settings(env=env)
    return DrillScenario(settings, ScenarioRecord("s", "f.feature"), tmp_path)


def test_a_breach_is_recorded_before_it_raises(tmp_path: Path):
    drill = _scenario(tmp_path, DRILL_RTO_SECONDS="1")
    with pytest.raises(TargetMissed, match=r"RTO measured 3.0s vs target 1s: BREACHED by 2.0s"):
        drill.require(Measurement("RTO", drill.settings.rto_seconds, 3.0))
    assert drill.record.measurements[0]["met"] is False


def test_an_unconfirmed_fault_is_invalid_and_recorded(tmp_path: Path):
    drill = _scenario(tmp_path)
    with pytest.raises(FaultNotConfirmed, match="INVALID"):
        drill.confirm_fault(False, "0 pods terminated", {"terminated": []})
    assert drill.record.details["fault_proof"]["observed"] is False


def test_rto_without_recovery_is_a_miss_not_a_crash(tmp_path: Path):
    drill = _scenario(tmp_path)
    drill.clock.mark("fault_injected")
    with pytest.raises(TargetMissed, match="never reached"):
        drill.rto()


def test_availability_below_the_floor_fails(tmp_path: Path):
    drill = _scenario(tmp_path, DRILL_AVAILABILITY_FLOOR="0.99")
    with pytest.raises(TargetMissed, match="availability measured 98.00% vs floor 99.00%"):
        drill.require_at_least("availability", 0.99, 0.98)


def test_the_rpo_cross_check_widens_with_a_long_save():
    from datetime import UTC, datetime, timedelta
    from types import SimpleNamespace

    from harness.drills.cluster_loss import cross_check_tolerance

    end = datetime(2026, 11, 26, 6, 0, 30, tzinfo=UTC)
    quick = SimpleNamespace(point_in_time=end, rdb_ctime=end)
    slow = SimpleNamespace(point_in_time=end, rdb_ctime=end - timedelta(seconds=20))
    assert cross_check_tolerance(quick, 0.25) == 1.5  # type: ignore[arg-type]
    assert cross_check_tolerance(slow, 0.25) == 21.5  # type: ignore[arg-type]
