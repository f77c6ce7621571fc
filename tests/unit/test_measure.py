"""Availability from samples, the canary report, the clock's RTO — with fake clocks only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from harness.measure.availability import Sample, summarise
from harness.measure.canary import CanaryReport, CanaryWrite, canary_from_observations
from harness.measure.clock import Event, RecoveryClock, phases_of, rto_of


def samples(pattern: str, interval: float = 0.2) -> list[Sample]:
    return [Sample(i * interval, ch == "+", 200 if ch == "+" else 503) for i, ch in enumerate(pattern)]


def test_availability_counts_ok_samples_and_the_longest_outage():
    report = summarise(samples("++--+---++"), 0.2)
    assert report.availability == pytest.approx(0.5)
    assert report.outages == 2
    assert report.longest_outage_s == pytest.approx(0.6)  # samples 5, 6, 7 down, 8 back up


def test_an_outage_still_running_at_the_end_counts_to_the_last_sample_plus_one_interval():
    report = summarise(samples("++--"), 0.2)
    assert report.longest_outage_s == pytest.approx(0.4)


def test_no_outage_is_full_availability():
    report = summarise(samples("+++++"), 0.2)
    assert (report.availability, report.outages, report.longest_outage_s) == (1.0, 0, 0.0)


def test_canary_loss_window_is_last_acknowledged_minus_newest_present():
    t0 = datetime(2026, 11, 26, tzinfo=UTC)
    newest = CanaryWrite(10, t0)
    last = CanaryWrite(14, t0 + timedelta(seconds=1))
    report = CanaryReport(newest, last, (11, 12, 13, 14), ())
    assert report.lost_count == 4
    assert report.data_loss_window_s == pytest.approx(1.0)


def test_nothing_lost_is_a_zero_window():
    t0 = datetime(2026, 11, 26, tzinfo=UTC)
    write = CanaryWrite(3, t0)
    assert CanaryReport(write, write, (), ()).data_loss_window_s == 0.0


def test_rto_runs_from_fault_injected_to_the_end_event_on_the_monotonic_clock():
    ticks = iter([10.0, 10.5, 13.0, 14.25])
    clock = RecoveryClock(monotonic=lambda: next(ticks))
    for name in ("fault_injected", "fault_confirmed", "brain_ready", "verified"):
        clock.mark(name)
    rto = clock.rto(target_s=4)
    assert rto.measured_s == pytest.approx(4.25)
    assert not rto.met and "BREACHED by 0.2s" in rto.describe()
    assert [p.name for p in clock.phases()] == ["fault_confirmed", "brain_ready", "verified"]


def test_the_canary_report_is_derived_from_the_raw_lines_the_reader_compared():
    t0 = datetime(2026, 11, 26, tzinfo=UTC)
    writes = [{"kind": "write", "seq": s, "at": (t0 + timedelta(seconds=s / 4)).isoformat(), "monotonic": s / 4,
               "acknowledged": s != 3} for s in range(1, 7)]
    lines = [*writes[:5],
             {"kind": "newest_present", "seq": 4, "written_at": writes[3]["at"], "acknowledged": 4},
             *({"kind": "read_back", "seq": s, "present": s != 2} for s in (1, 2, 4, 5)),
             writes[5]]  # a write acknowledged after the reader took its list: not part of this read-back

    report = canary_from_observations(lines)

    assert report is not None
    assert (report.newest_present.seq, report.last_acknowledged.seq) == (4, 5)
    assert report.lost_seqs == (5,) and report.holes == (2,)
    assert report.data_loss_window_s == pytest.approx(0.25)


def test_phases_and_the_rto_come_from_the_marks_alone():
    t0 = datetime(2026, 11, 26, tzinfo=UTC)
    events = [Event(name, at, t0 + timedelta(seconds=at)) for name, at in
              (("fault_injected", 10.0), ("fault_confirmed", 11.5), ("healthy", 30.25))]
    assert [(p.name, p.seconds) for p in phases_of(events)] == [("fault_confirmed", 1.5), ("healthy", 18.75)]
    rto = rto_of(events, target_s=20)
    assert rto is not None and rto.measured_s == 20.25 and not rto.met  # no "verified": it ends on healthy
    assert rto_of(events[1:], target_s=20) is None
