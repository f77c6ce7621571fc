"""The undo ledger: every destructive step writes down how to undo it *before* it acts.

A drill killed with SIGKILL (or a node dying under the CI runner) runs no
rollback; the ledger is what tells the next person what to undo, and
`sentinel-drill recover` replays it. Append-only JSON lines, one file per state
directory, each record fsynced: a `pending` record says "about to do X, undo
is Y"; a `done` record with the same id says the undo ran (or was not needed).
Replaying is idempotent: every undo kind is safe to run twice, and a replayed
entry is marked done.

Entries carry where to undo (kubeconfig path, context, API server, the cluster's
kube-system UID), never a secret. Each record is also written where the drill
acts — the target's store, under `drill-ledger/<run id>/` (one object per
record) — so a ledger whose state dir died with its machine (a CI runner, the
drill Job's emptyDir) can still be replayed from another: `sentinel-drill recover
--from-store`. Only the drill's own store credentials may write that prefix
(deploy/iam/drill.json), and a replay runs only on the cluster identity the entry
recorded (harness.undo).
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from harness.errors import ConfigError, DrillError

if TYPE_CHECKING:
    from harness.backup.store import BackupStore

LEDGER_FILE = "undo-ledger.jsonl"
#: where the ledger's copy lives in the target's store: one object per record, under the run's id
STORE_PREFIX = "drill-ledger/"
log = logging.getLogger("harness.ledger")

UndoKind = Literal["uncordon_nodes", "delete_network_policy", "scale_deployment", "thaw_zone", "scale_statefulset",
                   "delete_pod", "release_recovery_environment"]
UNDO_KINDS: tuple[UndoKind, ...] = ("uncordon_nodes", "delete_network_policy", "scale_deployment", "thaw_zone",
                                    "scale_statefulset", "delete_pod", "release_recovery_environment")


class LedgerMirror(Protocol):
    """A second place every record is written to, readable from another machine."""

    def write(self, record: Mapping[str, Any]) -> None: ...

    def records(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class StoreLedgerMirror:
    """The ledger's copy in the target's store: `drill-ledger/<run id>/<time>-<entry id>-<state>.json`."""

    store: BackupStore
    run_id: str

    def write(self, record: Mapping[str, Any]) -> None:
        stamp = str(record["at"]).replace(":", "").replace("+", "Z")
        key = f"{STORE_PREFIX}{self.run_id}/{stamp}-{record['id']}-{record['state']}.json"
        self.store.put_bytes(key, json.dumps(dict(record), sort_keys=True).encode())

    def records(self) -> list[dict[str, Any]]:
        return read_store_records(self.store, run_id=self.run_id)


def read_store_records(store: BackupStore, *, run_id: str | None = None) -> list[dict[str, Any]]:
    """Every ledger record in `store` (one run's, or every run's), oldest first; an unreadable object is skipped
    with a warning naming its key (a record is JSON, never a path or a command)."""
    prefix = f"{STORE_PREFIX}{run_id}/" if run_id else STORE_PREFIX
    out: list[dict[str, Any]] = []
    for obj in sorted(store.list(prefix), key=lambda o: o.key):
        try:
            record = json.loads(store.get_bytes(obj.key))
        except (ValueError, DrillError) as exc:
            log.warning("ledger record %s in %s not read: %s", obj.key, store.url, exc.__class__.__name__)
            continue
        if isinstance(record, dict) and {"id", "state", "at"} <= set(record):
            out.append(record)
    return sorted(out, key=lambda r: (str(r["at"]), r["state"] != "pending"))


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
    mirror: LedgerMirror | None = field(default=None, repr=False)
    #: records read from elsewhere (the store's copy, for `recover --from-store`), merged with the local file's
    extra_records: list[dict[str, Any]] | None = field(default=None, repr=False)

    @classmethod
    def in_dir(cls, state_dir: str | Path, *, mirror: LedgerMirror | None = None) -> UndoLedger:
        return cls(Path(state_dir) / LEDGER_FILE, mirror)

    def _append(self, record: Mapping[str, Any], *, mirror_required: bool) -> None:
        """Write `record` locally (fsynced), then to the mirror: an undo not written there is an action not taken
        (`mirror_required`); a `done` that did not reach it is only warned about (the undo already ran)."""
        self._append_local(record)
        if self.mirror is None:
            return
        try:
            self.mirror.write(record)
        except DrillError as exc:
            if mirror_required:
                raise DrillError(f"the undo of {record.get('action') or record.get('kind')} could not be written to "
                                 f"the ledger's copy in the store: {exc.message}",
                                 fix="check the store and its credentials (drill-ledger/ must be writable); "
                                     "nothing was changed") from None
            log.warning("ledger record %s not copied to the store: %s", record.get("id"), exc.message)

    def _append_local(self, record: Mapping[str, Any]) -> None:
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
                      "cluster": dict(cluster), "at": datetime.now(UTC).isoformat()}, mirror_required=True)
        return entry_id

    def done(self, entry_id: str, *, how: str = "undone") -> None:
        self._append({"id": entry_id, "state": "done", "how": how, "at": datetime.now(UTC).isoformat()},
                     mirror_required=False)

    def _records(self) -> list[dict[str, Any]]:
        return self._local_records() + (self.extra_records or [])

    def _local_records(self) -> list[dict[str, Any]]:
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
        entries: dict[str, tuple[str, int, UndoEntry]] = {}
        for number, r in enumerate(records):
            if r.get("state") == "pending" and r["id"] not in finished and r.get("kind") in UNDO_KINDS:
                entry = UndoEntry(r["id"], r["kind"], r.get("params") or {}, r.get("cluster") or {}, r["at"],
                                  r.get("action", ""))
                entries.setdefault(r["id"], (str(r["at"]), number, entry))
        return [entry for _, _, entry in sorted(entries.values(), key=lambda t: (t[0], t[1]), reverse=True)]

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
