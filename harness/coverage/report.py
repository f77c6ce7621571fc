"""What `coverage` found, one row per line of the runbook's "What to Back Up" table."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

RowVerdict = Literal["PASS", "FAIL"]


@dataclass(frozen=True)
class CoverageRow:
    """One component: its verdict, a one-line summary, every problem by name, and what cannot be checked here."""

    component: str
    backed_up: str
    verdict: RowVerdict
    summary: str
    problems: tuple[str, ...] = ()
    not_checked: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.verdict == "PASS"

    def to_json(self) -> dict[str, Any]:
        return {"component": self.component, "backed_up": self.backed_up, "verdict": self.verdict,
                "summary": self.summary, "problems": list(self.problems), "not_checked": list(self.not_checked),
                "details": self.details}


def row(component: str, backed_up: str, summary: str, problems: list[str], *, not_checked: tuple[str, ...] = (),
        details: dict[str, Any] | None = None) -> CoverageRow:
    """A row that passes exactly when it names no problem."""
    return CoverageRow(component, backed_up, "FAIL" if problems else "PASS", summary, tuple(problems), not_checked,
                       details or {})


@dataclass(frozen=True)
class CoverageReport:
    checked_at: datetime
    window_hours: float
    rows: tuple[CoverageRow, ...]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows)

    def failed(self) -> list[CoverageRow]:
        return [r for r in self.rows if not r.passed]

    def to_json(self) -> dict[str, Any]:
        return {"checked_at": self.checked_at.isoformat(), "window_hours": self.window_hours,
                "verdict": "PASS" if self.passed else "FAIL", "rows": [r.to_json() for r in self.rows]}

    def lines(self) -> list[str]:
        out = [f"backup coverage at {self.checked_at.isoformat()} (window {self.window_hours:g} h)"]
        for r in self.rows:
            out.append(f"  {r.verdict:4} {r.component:<13} {r.summary}")
            out += [f"         - {p}" for p in r.problems]
            out += [f"         (not checked here: {n})" for n in r.not_checked]
        out.append("PASSED" if self.passed else f"FAILED: {', '.join(r.component for r in self.failed())}")
        return out
