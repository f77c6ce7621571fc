"""Measurement primitives: the recovery clock, canary writes, the availability prober."""

from harness.measure.availability import AvailabilityProber, AvailabilityReport
from harness.measure.canary import CanaryReader, CanaryReport, CanaryWriter, canary_high_water
from harness.measure.clock import Measurement, Phase, RecoveryClock

__all__ = [
    "AvailabilityProber",
    "AvailabilityReport",
    "CanaryReader",
    "CanaryReport",
    "CanaryWriter",
    "Measurement",
    "Phase",
    "RecoveryClock",
    "canary_high_water",
]
