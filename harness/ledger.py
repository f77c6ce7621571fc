"""The undo ledger: every destructive step writes down how to undo it *before* it acts.

A drill killed with SIGKILL (or a node dying under the CI runner) runs no
rollback; the ledger is what tells the next person what to undo, and
`sentinel-drill recover` replays it. Append-only JSON lines, one file per state
directory, each record fsynced: a `pending` record says "about to do X, undo
is Y"; a `done` record with the same id says the undo ran (or was not needed).
Replaying is idempotent: every undo kind is safe to run twice, and a replayed
entry is marked done.

Entries carry where to undo (kubeconfig path, context, API server), never a
secret.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from harness.errors import ConfigError

LEDGER_FILE = "undo-ledger.jsonl"

UndoKind = Literal["uncordon_nodes", "delete_network_policy", "scale_deployment", "thaw_zone"]
UNDO_KINDS: tuple[UndoKind, ...] = ("uncordon_nodes", "delete_network_policy", "scale_deployment", "thaw_zone")


@dataclass(frozen=True)
class UndoEntry:
    """One pending undo: what kind, with which parameters, against which cluster."""

    id: str
    kind: UndoKind
    params: dict[str, Any]
    cluster: dict[str, str | None]
    at: str
    action: str = ""

    def describe(self) -> str:
        detail = ", ".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.kind}({detail}) — undo of: {self.action or '?'} at {self.at}"


@dataclass
class UndoLedger:
    """The ledger file of one state directory."""

    path: Path
    _cache: list[dict[str, Any]] = field(default_factory=list, repr=False)

    @classmethod
    def in_dir(cls, state_dir: str | Path) -> UndoLedger:
        return cls(Path(state_dir) / LEDGER_FILE)

    def _append(self, record: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(dict(record), sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def before(self, kind: UndoKind, *, action: str, cluster: Mapping[str, str | None], **params: Any) -> str:
        """Write down the undo of `action` before doing it; return the entry id to mark done later."""
        if kind not in UNDO_KINDS:
            raise ConfigError(f"unknown undo kind {kind!r}", fix=f"use one of {', '.join(UNDO_KINDS)}")
        entry_id = uuid.uuid4().hex
        self._append({"id": entry_id, "state": "pending", "kind": kind, "params": params, "action": action,
                      "cluster": dict(cluster), "at": datetime.now(UTC).isoformat()})
        return entry_id

    def done(self, entry_id: str, *, how: str = "undone") -> None:
        self._append({"id": entry_id, "state": "done", "how": how, "at": datetime.now(UTC).isoformat()})

    def _records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        records = []
        for number, line in enumerate(self.path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                # a run killed mid-write leaves at most a torn last line; never lose the ones before it
                if number != len(self.path.read_text().splitlines()):
                    raise ConfigError(f"undo ledger {self.path} line {number} is not JSON",
                                      fix="inspect the file; each line is one record") from None
        return records

    def pending(self) -> list[UndoEntry]:
        """Entries whose undo has not run, newest first (undo in the reverse order of doing)."""
        records = self._records()
        finished = {r["id"] for r in records if r.get("state") == "done"}
        entries = [UndoEntry(r["id"], r["kind"], r.get("params") or {}, r.get("cluster") or {}, r["at"],
                             r.get("action", ""))
                   for r in records if r.get("state") == "pending" and r["id"] not in finished]
        return list(reversed(entries))

    def find(self, kind: UndoKind, **match: Any) -> list[UndoEntry]:
        """Pending entries of `kind` whose parameters include `match` (a rollback finding its own undo)."""
        return [e for e in self.pending() if e.kind == kind and all(e.params.get(k) == v for k, v in match.items())]

    def settle(self, kind: UndoKind, *, how: str = "undone", **match: Any) -> list[UndoEntry]:
        """Mark done every pending entry of `kind` matching `match` (its undo just ran); return them."""
        settled = self.find(kind, **match)
        for entry in settled:
            self.done(entry.id, how=how)
        return settled

    def replay(self, undo: Callable[[UndoEntry], str]) -> list[tuple[UndoEntry, str]]:
        """Run `undo` for every pending entry, newest first, marking each done; [(entry, what undo said)]."""
        results = []
        for entry in self.pending():
            outcome = undo(entry)
            self.done(entry.id, how=f"recovered: {outcome}")
            results.append((entry, outcome))
        return results
