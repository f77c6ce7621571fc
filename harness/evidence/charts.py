"""Charts people read: RTO/RPO over runs with axes and the target line, and a run's phases.

Drawn with matplotlib's Agg canvas on a plain `Figure` (no pyplot, so no
process-global figure state and no display needed). Each chart exists as a
`*_figure` function (tests inspect its axes) and a `*_chart` function that
returns the bytes: SVG with real text for the HTML page, PNG for the PDF.
A chart that holds a sandbox run says so in its title, so a sandbox figure cut
out of the page still cannot read as production.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Literal

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from harness.evidence.trend_data import TrendPoint, labels_of

ImageFormat = Literal["svg", "png"]
X_LABEL = "run (ended, UTC)"
Y_LABEL = "seconds"
LINE_COLOUR = "#1f4e9c"
TARGET_COLOUR = "#cf222e"
LABEL_COLOUR = "#b35900"
PHASE_COLOURS = ("#8fb8de", "#f2c572", "#a6d49f", "#d9a3c9", "#c7c7c7", "#f29e8e", "#9ed9d9", "#d4c19c")


def _title(fig: Figure, ax: Axes, text: str, labels: Sequence[str]) -> None:
    """The chart's own title, and above it every label of the runs it draws."""
    ax.set_title(text, fontsize=10, loc="left")
    if labels:
        fig.suptitle("; ".join(labels), color=LABEL_COLOUR, fontsize=9, fontweight="bold", x=0.01, ha="left")


def _run_ticks(points: Sequence[TrendPoint]) -> list[str]:
    """`YYYY-MM-DD HH:MM` of each run's end, else its run id."""
    return [p.ended_at[:16].replace("T", " ") if p.ended_at[:4].isdigit() else p.run_id for p in points]


def measure_figure(points: Sequence[TrendPoint]) -> Figure:
    """One scenario's RTO or RPO over runs: the measured line, the target line, and phase bars for RTO."""
    if not points:
        raise ValueError("a trend chart needs at least one run")
    measure, case = points[0].measure, points[0].case
    fig = Figure(figsize=(7.5, 3.4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    xs = list(range(len(points)))
    phase_names = list(dict.fromkeys(name for p in points for name, _ in p.phases))
    bottoms = [0.0] * len(points)
    for i, name in enumerate(phase_names):
        heights = [dict(p.phases).get(name, 0.0) for p in points]
        ax.bar(xs, heights, bottom=bottoms, width=0.5, color=PHASE_COLOURS[i % len(PHASE_COLOURS)],
               label=f"phase: {name}", gid=f"phase-{name}")
        bottoms = [b + h for b, h in zip(bottoms, heights)]
    ax.plot(xs, [p.measured_s for p in points], marker="o", color=LINE_COLOUR, label=f"measured {measure}",
            gid="measured")
    for x, p in zip(xs, points):
        if not p.met:
            ax.plot([x], [p.measured_s], marker="X", markersize=10, color=TARGET_COLOUR, linestyle="none")
    target = points[-1].target_s
    ax.axhline(target, color=TARGET_COLOUR, linestyle="--", linewidth=1.2, label=f"target {target:g} s", gid="target")
    ax.set_xticks(xs, _run_ticks(points), rotation=30, ha="right", fontsize=7)
    ax.set_xlabel(X_LABEL)
    ax.set_ylabel(Y_LABEL)
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _title(fig, ax, f"{measure} — {case}", labels_of(list(points)))
    return fig


def timeline_figure(phases: Sequence[tuple[str, float]], *, title: str, label: str | None) -> Figure:
    """One run's recovery as a horizontal stacked bar: each phase from where the last one ended."""
    fig = Figure(figsize=(7.5, 1.9), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    start = 0.0
    for i, (name, seconds) in enumerate(phases):
        ax.barh([0], [seconds], left=[start], height=0.5, color=PHASE_COLOURS[i % len(PHASE_COLOURS)],
                edgecolor="white", label=f"{name} ({seconds:.3f} s)")
        start += seconds
    ax.set_yticks([])
    ax.set_xlabel("seconds since the fault")
    ax.set_xlim(0, max(start, 1e-3))
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    _title(fig, ax, title, [label] if label else [])
    return fig


def to_bytes(fig: Figure, fmt: ImageFormat) -> bytes:
    """Render `fig` as SVG (text kept as text, so it is searchable) or as a 150-dpi PNG."""
    out = io.BytesIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "sentinel-drill"}):
        fig.savefig(out, format=fmt, dpi=150)
    return out.getvalue()


def measure_chart(points: Sequence[TrendPoint], fmt: ImageFormat) -> bytes:
    return to_bytes(measure_figure(points), fmt)


def timeline_chart(phases: Sequence[tuple[str, float]], *, title: str, label: str | None,
                   fmt: ImageFormat) -> bytes:
    return to_bytes(timeline_figure(phases, title=title, label=label), fmt)
