"""Figures beside their floors, the targets of issue 13, and the JSON + Markdown they are written as."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.rss import PeakRss


def spread(runs: list[float]) -> dict[str, float]:
    """Median and min/max of a step's repetitions."""
    return {"median": statistics.median(runs), "min": min(runs), "max": max(runs)}


@dataclass
class Figure:
    """One step: the harness's runs (seconds), its floor's runs, and what else was measured beside them."""

    name: str
    floor_name: str
    runs: list[float] = field(default_factory=list)
    floor_runs: list[float] = field(default_factory=list)
    peak_rss_mib: float = 0.0
    rss_start_mib: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def record(self, seconds: float, peak: PeakRss) -> None:
        """One run of the harness: its time, and its memory (the highest peak; the lowest start)."""
        self.runs.append(seconds)
        self.peak_rss_mib = max(self.peak_rss_mib, peak.mib)
        self.rss_start_mib = min(self.rss_start_mib or peak.start_mib, peak.start_mib)

    @property
    def ratio(self) -> float:
        """Harness time over floor time (medians): 1.0 is the floor, 2.0 twice as slow."""
        return statistics.median(self.runs) / statistics.median(self.floor_runs)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "unit": "s", **rounded(spread(self.runs)), "runs": _r(self.runs),
                "floor": {"name": self.floor_name, **rounded(spread(self.floor_runs)), "runs": _r(self.floor_runs)},
                "ratio": round(self.ratio, 3), "peak_rss_mib": round(self.peak_rss_mib, 1),
                "rss_start_mib": round(self.rss_start_mib, 1), **self.extra}


@dataclass(frozen=True)
class Target:
    """A target from issue 13 and whether this run met it."""

    name: str
    figure: str
    measured: float
    op: str  # "<=" or ">="
    limit: float
    unit: str

    @property
    def met(self) -> bool:
        return self.measured <= self.limit if self.op == "<=" else self.measured >= self.limit

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "figure": self.figure, "measured": round(self.measured, 3), "op": self.op,
                "limit": self.limit, "unit": self.unit, "met": self.met}


def targets_for(figures: dict[str, Figure], rto: dict[str, Any]) -> list[Target]:
    """Issue 13 item 2: ratios from one run, restore speed, memory, the clock's resolution.

    Verify and file restore start from the store, so their floor is the same work done by plain tools:
    boto3 `download_file` + redis-server loading the file (the levels alone are shown beside the load
    alone). The keys/s target is the DUMP/RESTORE stream, the figure `redis-cli --pipe` is the floor of;
    the end-to-end network restore (download + scratch load + stream) is reported beside it.
    """
    stream = "network restore: DUMP/RESTORE stream only"
    rates = figures[stream].extra
    return [
        Target("backup ≤ 1.3 × floor", "backup", figures["backup"].ratio, "<=", 1.3, "×"),
        Target("verify ≤ 1.3 × floor (download + load)", "verify", figures["verify"].ratio, "<=", 1.3, "×"),
        Target("file restore ≤ 1.15 × floor (download + load)", "file restore", figures["file restore"].ratio,
               "<=", 1.15, "×"),
        Target("network restore stream ≥ 150 k keys/s", stream, rates["keys_per_s"], ">=", 150_000, "keys/s"),
        Target("harness peak RSS ≤ 256 MiB", "every step", max(f.peak_rss_mib for f in figures.values()),
               "<=", 256, "MiB"),
        Target("RTO resolution ≤ 0.5 s", "rto clock", rto["error_s"]["max"], "<=", 0.5, "s"),
    ]


def markdown(doc: dict[str, Any]) -> str:
    """The table: figure, floor, ratio, peak RSS, then the targets with met / not met."""
    facts = doc["dataset"]
    lines = [
        (f"Bench `{doc['size']}` — {facts['keys']:,} keys, RDB {facts['rdb_bytes'] / 1e6:.1f} MB, "
         f"{doc['runs']} run(s) per step (median, min–max); {doc['machine']['cores']} cores "
         f"({doc['machine']['note']}), Redis {doc['machine']['redis']}, Python {doc['machine']['python']}"),
        "",
        "| figure | harness | floor | ratio | peak RSS |",
        "|---|---|---|---|---|",
    ]
    for f in doc["figures"]:
        rate = f" · {f['keys_per_s']:,.0f} keys/s · {f['mb_per_s']:.0f} MB/s" if "keys_per_s" in f else ""
        floor = f["floor"]
        lines.append(f"| {f['name']} | {_s(f)}{rate} | {floor['name']}: {_s(floor)} | {f['ratio']:.2f} × "
                     f"| {f['peak_rss_mib']:.0f} MiB (from {f['rss_start_mib']:.0f}) |")
    rto = doc["rto"]
    lines.append(f"| RTO clock | outage {rto['outage_s']:.1f} s measured {rto['measured_s']['median']:.2f} s "
                 f"(error ≤ {rto['error_s']['max']:.2f} s, probe every {rto['probe_interval_s']} s) | — | — | — |")
    lines += ["", "| target | measured | met |", "|---|---|---|"]
    for t in doc["targets"]:
        lines.append(f"| {t['name']} | {t['measured']:,.2f} {t['unit']} | {'met' if t['met'] else 'NOT met'} |")
    return "\n".join(lines) + "\n"


def write(doc: dict[str, Any], out_dir: Path, stamp: str) -> tuple[Path, Path]:
    """`<stamp>.json` and `<stamp>.md` in `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{stamp}.json", out_dir / f"{stamp}.md"
    json_path.write_text(json.dumps(doc, indent=2) + "\n")
    md_path.write_text(markdown(doc))
    return json_path, md_path


def _s(d: dict[str, Any]) -> str:
    return f"{d['median']:.2f} s ({d['min']:.2f}–{d['max']:.2f})"


def _r(runs: list[float]) -> list[float]:
    return [round(x, 4) for x in runs]


def rounded(d: dict[str, float]) -> dict[str, float]:
    """A median/min/max spread to 4 decimals, as the JSON holds it."""
    return {k: round(v, 4) for k, v in d.items()}
