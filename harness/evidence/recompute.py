"""`evidence verify --recompute`: every scenario's figures and verdict derived again from the bundle alone.

Reads `run.json` (what was stated, and where each scenario's folder is) and each
scenario's `observations/*.jsonl` (the raw lines), through the same safe-path
reads as `verify`; needs no cluster, no store and no harness state. The
derivation of one scenario is `derivation.py`. Every difference is a problem
naming the scenario, the figure, the stated and the derived value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.evidence import integrity
from harness.evidence.derivation import ScenarioRecompute, fmt_value, recompute_scenario
from harness.safe_paths import UnsafeName, path_under

OBSERVATIONS_DIR = "observations"


@dataclass(frozen=True)
class RecomputeReport:
    """What recomputing a bundle found: problems fail it (every difference is one), notes only inform."""

    bundle: Path
    scenarios: tuple[ScenarioRecompute, ...]
    problems: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def figures(self) -> int:
        return sum(len(s.figures) for s in self.scenarios)

    def summary(self) -> str:
        """One line: how much was recomputed and how much differs."""
        differences = sum(len(s.differences) for s in self.scenarios)
        verdicts = ", ".join(f"{s.derived_verdict}" for s in self.scenarios)
        return (f"{len(self.scenarios)} scenario(s) recomputed from raw observations, {self.figures} figure(s) "
                f"compared, {differences} difference(s)" + (f"; derived verdicts: {verdicts}" if verdicts else ""))

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "summary": self.summary(), "problems": list(self.problems), "notes": list(self.notes),
                "scenarios": [{"name": s.name, "stated_verdict": s.stated_verdict,
                               "derived_verdict": s.derived_verdict,
                               "figures": [{"name": f.name, "stated": f.stated, "derived": f.derived, "same": f.same}
                                           for f in s.figures],
                               "requirements": [{"figure": r.figure, "derived": r.derived, "bound": r.bound,
                                                 "target": r.target, "met": r.met} for r in s.requirements],
                               "notes": list(s.notes)} for s in self.scenarios]}


def difference_line(scenario: str, figure: str, stated: Any, derived: Any) -> str:
    shown = "not in the observations" if derived is None else fmt_value(derived)
    return f"recompute: {scenario}: {figure}: stated {fmt_value(stated)}, derived {shown}"


def parse_jsonl(text: str, *, name: str) -> tuple[list[dict[str, Any]], list[str]]:
    """(records, problems) of a JSON Lines file: every non-empty line one JSON object."""
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            problems.append(f"recompute: {name}:{number}: not JSON ({exc})")
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            problems.append(f"recompute: {name}:{number}: not a JSON object")
    return records, problems


def _streams(bundle: Path, folder: str, problems: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The scenario's observation streams by name, read only from regular files below the bundle."""
    prefix = f"{folder}/{OBSERVATIONS_DIR}/"
    streams: dict[str, list[dict[str, Any]]] = {}
    for rel in integrity.bundle_files(bundle):
        if not rel.startswith(prefix) or not rel.endswith(".jsonl") or "/" in rel[len(prefix):]:
            continue
        try:
            text = path_under(bundle, rel, what="bundle file").read_text(errors="replace")
        except (UnsafeName, OSError) as exc:
            problems.append(f"recompute: {rel}: not read ({getattr(exc, 'message', exc)})")
            continue
        records, bad = parse_jsonl(text, name=rel)
        problems.extend(bad)
        streams[rel[len(prefix):].removesuffix(".jsonl")] = records
    return streams


def recompute_run(bundle: Path, run: Mapping[str, Any]) -> RecomputeReport:
    """Recompute every scenario `run` (the bundle's run.json) lists, from the bundle's observation files."""
    problems: list[str] = []
    notes: list[str] = []
    results: list[ScenarioRecompute] = []
    scenarios: Sequence[Mapping[str, Any]] = run.get("scenarios") or []
    if not run.get("raw_observations"):
        notes.append("recompute: the bundle was made before raw observations were recorded: nothing recomputed")
        return RecomputeReport(bundle, (), (), tuple(notes))
    config = run.get("config") or {}
    for entry in scenarios:
        name = str(entry.get("name"))
        folder = str(entry.get("dir") or "")
        streams = _streams(bundle, folder, problems) if folder else {}
        if not streams:
            problems.append(f"recompute: {name}: no raw observations in {folder or '?'}/{OBSERVATIONS_DIR}/: its "
                            "figures and verdict cannot be recomputed")
            continue
        try:
            result = recompute_scenario(entry, streams, config=config)
        except (KeyError, TypeError, ValueError) as exc:  # a line without a field it needs, or not of its type
            problems.append(f"recompute: {name}: an observation line is malformed ({exc.__class__.__name__}: {exc}); "
                            "its figures cannot be recomputed")
            continue
        results.append(result)
        problems.extend(difference_line(name, f.name, f.stated, f.derived) for f in result.differences)
        notes.extend(f"recompute: {name}: {note}" for note in result.notes)
    return RecomputeReport(bundle, tuple(results), tuple(problems), tuple(notes))
