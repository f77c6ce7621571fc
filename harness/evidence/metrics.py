"""`metrics.prom`: a drill run in Prometheus text exposition format.

Rendered only from `run.json`, so `evidence verify` can re-render it and prove
the two agree. Ship it with node_exporter's textfile collector (or push it) to
alert on a breached target or a drill that has not run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from harness.evidence.record import Verdict
from harness.evidence.tables import measurement, phase_rows

PREFIX = "sentinel_drill"

#: family → help text; order here is the order in the file
FAMILIES: dict[str, str] = {
    "run_timestamp_seconds": "Unix time the drill run ended.",
    "verdict": "1 for the scenario's verdict (PASS, FAIL, INVALID, ERROR), 0 for the others.",
    "rto_seconds": "Measured recovery time: fault injected to recovery verified.",
    "rto_target_seconds": "Configured recovery time objective.",
    "rpo_seconds": "Measured data-loss window (newest canary lost to the fault).",
    "rpo_target_seconds": "Configured recovery point objective.",
    "phase_seconds": "Duration of each recovery phase.",
    "availability_ratio": "Share of health probes that answered healthy during the scenario.",
    "longest_outage_seconds": "Longest stretch of failed health probes during the scenario.",
    "canary_lost_writes": "Acknowledged canary writes missing after the restore.",
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Mapping[str, str]) -> str:
    return "{" + ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items()) + "}" if labels else ""


def _number(value: float) -> str:
    return "NaN" if math.isnan(value) else repr(float(value))


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def render_metrics(run: Mapping[str, Any]) -> str:
    """Every family with HELP and TYPE lines, samples grouped per family, one series per label set."""
    samples: dict[str, list[tuple[dict[str, str], float]]] = {name: [] for name in FAMILIES}
    target = str(run.get("target") or "unknown")
    ended = _epoch(run.get("ended_at")) or _epoch(run.get("created_at"))
    if ended is not None:
        samples["run_timestamp_seconds"].append(({"target": target}, ended))
    for scenario in run.get("scenarios", []):
        base = {"target": target, "scenario": str(scenario.get("key") or "none"), "case": str(scenario["case"])}
        for verdict in Verdict:
            samples["verdict"].append(({**base, "verdict": verdict.value},
                                       1.0 if scenario.get("verdict") == verdict.value else 0.0))
        for name in ("RTO", "RPO"):
            row = measurement(scenario.get("measurements", []), name)
            if row is None or row.measured is None:
                continue
            samples[f"{name.lower()}_seconds"].append((base, row.measured))
            if row.target is not None:
                samples[f"{name.lower()}_target_seconds"].append((base, row.target))
        seen: set[str] = set()
        for phase, seconds in phase_rows(scenario.get("timeline")):
            if phase not in seen:
                seen.add(phase)
                samples["phase_seconds"].append(({**base, "phase": phase}, seconds))
        availability = scenario.get("availability") or {}
        if isinstance(availability.get("availability"), (int, float)):
            samples["availability_ratio"].append((base, float(availability["availability"])))
        if isinstance(availability.get("longest_outage_s"), (int, float)):
            samples["longest_outage_seconds"].append((base, float(availability["longest_outage_s"])))
        canary = scenario.get("canary") or {}
        if isinstance(canary.get("lost_count"), int):
            samples["canary_lost_writes"].append((base, float(canary["lost_count"])))
    lines: list[str] = []
    for family, help_text in FAMILIES.items():
        if not samples[family]:
            continue
        name = f"{PREFIX}_{family}"
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        lines += [f"{name}{_labels(labels)} {_number(value)}" for labels, value in samples[family]]
    return "\n".join(lines) + "\n" if lines else ""
