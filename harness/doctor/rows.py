"""What `doctor` reports: one row per check, and per scenario whether it can run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Row:
    """One setting checked: what was asked, the answer, and which scenarios a failure blocks."""

    setting: str
    checked: str
    ok: bool
    result: str
    blocks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    scenario: str
    blocked_by: tuple[str, ...]

    @property
    def can_run(self) -> bool:
        return not self.blocked_by

    def describe(self) -> str:
        return "can run" if self.can_run else "blocked by " + "; ".join(self.blocked_by)


@dataclass(frozen=True)
class DoctorReport:
    target: str
    rows: tuple[Row, ...]
    scenarios: tuple[str, ...] = field(default=())

    def verdicts(self) -> tuple[Verdict, ...]:
        return tuple(Verdict(s, tuple(f"{r.checked}: {r.result}" for r in self.rows if not r.ok and s in r.blocks))
                     for s in self.scenarios)

    @property
    def all_can_run(self) -> bool:
        return all(v.can_run for v in self.verdicts())

    @property
    def exit_code(self) -> int:
        """The CLI's answer: 0 when every selected scenario can run, 1 otherwise."""
        return 0 if self.all_can_run else 1

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "ok": self.all_can_run,
                "rows": [{**asdict(r), "blocks": list(r.blocks)} for r in self.rows],
                "scenarios": [{"scenario": v.scenario, "can_run": v.can_run, "blocked_by": list(v.blocked_by)}
                              for v in self.verdicts()]}
