"""The host's real-node claim: held by another sandbox only while that sandbox's state dir exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.sandbox import host_record, node_pool
from harness.sandbox.state import SandboxPaths


@pytest.fixture
def lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    run_dir = tmp_path / "run-sentinel-drill"
    monkeypatch.setattr(host_record, "RECORD_DIR", run_dir)
    monkeypatch.setattr(node_pool, "HOST_LOCK", run_dir / "real-nodes.json")
    run_dir.mkdir()
    return node_pool.HOST_LOCK


def test_another_live_sandbox_holds_the_host_and_a_stale_lock_holds_nothing(lock: Path, tmp_path: Path) -> None:
    mine, theirs = SandboxPaths(tmp_path / "mine"), tmp_path / "theirs"
    lock.write_text(json.dumps({"state_dir": str(theirs)}))
    assert node_pool._held_elsewhere(mine) is None  # their state dir is gone: stop_pool must still clean up
    theirs.mkdir()
    (theirs / "hostnet.json").write_text("{}")  # what a sandbox of an earlier version keeps while it holds the host
    assert node_pool._held_elsewhere(mine) == str(theirs)
    assert node_pool.claim_host(mine) == f"this host's real nodes belong to the sandbox in {theirs}"
    assert node_pool._held_elsewhere(SandboxPaths(theirs)) is None  # never held against its own holder
    (theirs / "hostnet.json").unlink()
    assert node_pool.claim_host(SandboxPaths(theirs)) is None
    assert node_pool._held_elsewhere(mine) == str(theirs)  # now through the host's record


def test_a_stale_lock_is_taken_over(lock: Path, tmp_path: Path) -> None:
    lock.write_text(json.dumps({"state_dir": str(tmp_path / "gone")}))
    mine = SandboxPaths(tmp_path / "mine")
    assert node_pool.claim_host(mine) is None
    assert json.loads(lock.read_text()) == {"state_dir": str(mine.root)}
    record = host_record.load()
    assert record is not None and record.owned_by(mine.root)
