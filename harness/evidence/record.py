"""ScenarioRecord: what one drill scenario proved, in the shape every report is built from.

The drill fills one record per scenario while it runs (verdict, measurements
against targets, the recovery timeline, availability, canary, journals,
verification reports) and, in `observations`, the raw lines those figures were
derived from (harness/measure/observations.py), which the bundle keeps as
JSON Lines for `evidence verify --recompute`. Allure attachments, `run.json`, `summary.md` and
`metrics.prom` are all rendered from these records, so they cannot disagree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from harness.redaction import redact_text


class Verdict(str, Enum):
    """PASS: every target met · FAIL: a target breached · INVALID: fault not observed · ERROR: harness error."""

    PASS = "PASS"
    FAIL = "FAIL"
    INVALID = "INVALID"
    ERROR = "ERROR"


#: the compliance controls each scenario tag evidences
CONTROLS: dict[str, tuple[str, ...]] = {
    "scenario-1": ("SOC 2 A1.3", "ISO 27001 A.5.30", "DORA Art. 11"),
    "scenario-2": ("SOC 2 A1.3", "ISO 27001 A.5.30", "DORA Art. 11"),
    "scenario-3": ("SOC 2 A1.3", "ISO 27001 A.5.30", "ISO 27001 A.8.13", "DORA Art. 11", "DORA Art. 12"),
    "scenario-4": ("SOC 2 A1.3", "ISO 27001 A.5.30", "ISO 27001 A.8.13", "DORA Art. 11", "DORA Art. 12"),
    "monthly": ("SOC 2 A1.3", "ISO 27001 A.8.13", "DORA Art. 12"),
    "daily": ("ISO 27001 A.8.13", "DORA Art. 12"),
}


@dataclass
class ScenarioRecord:
    """Mutable while the scenario runs; serialised once it ends."""

    name: str
    feature: str
    tags: tuple[str, ...] = ()
    verdict: Verdict = Verdict.PASS
    reason: str = ""
    started_at: str | None = None
    ended_at: str | None = None
    measurements: list[dict[str, Any]] = field(default_factory=list)
    timeline: dict[str, Any] | None = None
    availability: dict[str, Any] | None = None
    canary: dict[str, Any] | None = None
    verification: dict[str, Any] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    artifacts: list[str] = field(default_factory=list)
    observations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def controls(self) -> tuple[str, ...]:
        seen: list[str] = []
        for tag in self.tags:
            for control in CONTROLS.get(tag, ()):
                if control not in seen:
                    seen.append(control)
        return tuple(seen)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "feature": self.feature,
            "tags": list(self.tags),
            "controls": list(self.controls),
            "verdict": self.verdict.value,
            "reason": self.reason,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "measurements": self.measurements,
            "timeline": self.timeline,
            "availability": self.availability,
            "canary": self.canary,
            "verification": self.verification,
            "details": self.details,
            "artifacts": self.artifacts,
            "observations": self.observations,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScenarioRecord:
        fields = {k: v for k, v in data.items() if k != "controls"}
        fields["tags"] = tuple(fields.get("tags", ()))
        fields["verdict"] = Verdict(fields.get("verdict", "ERROR"))
        return cls(**fields)


def write_records(path: Path, records: list[ScenarioRecord], meta: dict[str, Any]) -> None:
    """Write the run's records (`drill-results.json`): the input of the evidence bundle."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"meta": meta, "scenarios": [r.to_json() for r in records]}
    path.write_text(redact_text(json.dumps(body, indent=2, default=str)))


def read_records(path: Path) -> tuple[dict[str, Any], list[ScenarioRecord]]:
    data = json.loads(path.read_text())
    return data.get("meta", {}), [ScenarioRecord.from_json(s) for s in data.get("scenarios", [])]
