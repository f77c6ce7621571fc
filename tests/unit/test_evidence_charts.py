"""The trend and phase charts have axes, the target line, phase bars, and the sandbox label when one run had it."""

from __future__ import annotations

from harness.evidence.charts import X_LABEL, Y_LABEL, measure_chart, measure_figure, timeline_figure
from harness.evidence.label import SANDBOX_LABEL
from harness.evidence.trend_data import TrendPoint

PHASES = (("fault_confirmed", 1.5), ("data_restored", 18.5), ("verified", 21.2))


def _points(*labels: str | None) -> list[TrendPoint]:
    return [TrendPoint(f"run-{i}", f"2026-01-0{i + 1}T05:00:00+00:00", "restore", "RTO", 41.2 + i, 900.0,
                       True, label, PHASES) for i, label in enumerate(labels)]


def test_rto_chart_has_labelled_axes_the_target_line_and_one_stacked_bar_per_phase_and_run():
    fig = measure_figure(_points(None, None, None))
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == (X_LABEL, Y_LABEL)
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"2026-01-0{i} 05:00" for i in (1, 2, 3)]
    target = [line for line in ax.get_lines() if line.get_gid() == "target"]
    assert len(target) == 1 and set(target[0].get_ydata()) == {900.0}
    measured = next(line for line in ax.get_lines() if line.get_gid() == "measured")
    assert list(measured.get_ydata()) == [41.2, 42.2, 43.2]
    assert len(ax.patches) == len(PHASES) * 3
    # the bars stack: the last phase starts where the first two ended
    tops = sorted({round(p.get_y() + p.get_height(), 3) for p in ax.patches})
    assert tops == [1.5, 20.0, 41.2]
    assert fig._suptitle is None


def test_a_chart_with_one_sandbox_run_carries_the_label():
    fig = measure_figure(_points(None, SANDBOX_LABEL, None))
    assert fig._suptitle is not None and fig._suptitle.get_text() == SANDBOX_LABEL
    svg = measure_chart(_points(SANDBOX_LABEL), "svg").decode()
    assert SANDBOX_LABEL in svg and Y_LABEL in svg and X_LABEL in svg


def test_timeline_chart_lays_the_phases_end_to_end():
    fig = timeline_figure(PHASES, title="Recovery phases — restore", label=None)
    ax = fig.axes[0]
    assert [(round(p.get_x(), 3), round(p.get_width(), 3)) for p in ax.patches] == [
        (0.0, 1.5), (1.5, 18.5), (20.0, 21.2)]
    assert ax.get_xlabel() == "seconds since the fault"
