"""The undo ledger: written before acting, replayed newest first, idempotent, a torn last line survived."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.drills.pytest_plugin import interrupt_on_sigterm
from harness.ledger import UndoEntry, UndoLedger

WHERE = {"kubeconfig": "/k", "context": "c", "api_server": "https://127.0.0.1:6443"}


def test_pending_entries_come_back_newest_first_until_done(tmp_path: Path) -> None:
    ledger = UndoLedger.in_dir(tmp_path)
    first = ledger.before("uncordon_nodes", action="drain zone-a", cluster=WHERE, zone="zone-a", nodes=["n1"])
    second = ledger.before("delete_network_policy", action="isolate", cluster=WHERE, namespace="s", name="p")
    assert [e.id for e in ledger.pending()] == [second, first]
    ledger.done(second)
    assert [e.id for e in ledger.pending()] == [first]
    assert ledger.find("uncordon_nodes", zone="zone-a")[0].params["nodes"] == ["n1"]
    assert ledger.find("uncordon_nodes", zone="zone-b") == []


def test_replay_undoes_each_once_and_a_second_replay_is_a_no_op(tmp_path: Path) -> None:
    ledger = UndoLedger.in_dir(tmp_path)
    ledger.before("uncordon_nodes", action="drain", cluster=WHERE, zone="zone-a", nodes=["n1", "n2"])
    ledger.before("scale_deployment", action="scale", cluster=WHERE, namespace="s", name="b", replicas=3)
    undone: list[str] = []

    def undo(entry: UndoEntry) -> str:
        undone.append(entry.kind)
        return "ok"

    assert len(ledger.replay(undo)) == 2
    assert undone == ["scale_deployment", "uncordon_nodes"]
    assert ledger.replay(undo) == []
    assert undone == ["scale_deployment", "uncordon_nodes"]


def test_a_torn_last_line_from_a_killed_run_loses_nothing_before_it(tmp_path: Path) -> None:
    ledger = UndoLedger.in_dir(tmp_path)
    ledger.before("uncordon_nodes", action="drain", cluster=WHERE, zone="zone-a", nodes=["n1"])
    with ledger.path.open("a") as f:
        f.write('{"id": "x", "state": "pend')
    assert [e.kind for e in ledger.pending()] == ["uncordon_nodes"]


def test_the_ledger_file_is_private(tmp_path: Path) -> None:
    ledger = UndoLedger.in_dir(tmp_path)
    ledger.before("delete_network_policy", action="isolate", cluster=WHERE, namespace="s", name="p")
    assert ledger.path.stat().st_mode & 0o077 == 0


def test_sigterm_is_the_same_interrupt_as_ctrl_c() -> None:
    with pytest.raises(KeyboardInterrupt):
        interrupt_on_sigterm(15, None)
