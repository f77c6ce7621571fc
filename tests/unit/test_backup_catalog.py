"""Listing and "latest": from manifests and names, never from a mutable latest.rdb."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from harness.backup import layout
from harness.backup.catalog import find_backup, latest_backup, list_backups
from harness.backup.manifest import Manifest, SourceInfo
from harness.backup.store import FileStore
from harness.errors import StoreError, UsageError


def _manifest(backup_id: str, pit: datetime, created: datetime) -> bytes:
    return Manifest(
        id=backup_id, point_in_time=pit, source=SourceInfo(host="h", port=1, role="master", run_id="r"),
        redis_version="7.0.15", rdb_version=10, size=1, sha256="0" * 64, key_count=0, types={},
        created_at=created, tool_version="0",
    ).to_json()


def _add(store: FileStore, backup_id: str, *, manifest: bool = True, created_s: int = 0) -> None:
    store.put_bytes(layout.rdb_key(backup_id), b"REDIS0010")
    if manifest and layout.layout_of(backup_id) == "manifest":
        pit = layout.point_in_time_of(backup_id)
        store.put_bytes(layout.manifest_key(backup_id), _manifest(backup_id, pit, pit.replace(second=created_s)))


def test_listing_is_oldest_first_and_ignores_foreign_objects(tmp_path):
    store = FileStore(tmp_path)
    _add(store, "20261126T061500Z-aaaaaa")
    _add(store, "20241214-1200")
    _add(store, "20261126T051500Z-bbbbbb", manifest=False)
    store.put_bytes("redis/latest.rdb", b"REDIS0010")
    store.put_bytes("redis/notes.txt", b"hi")
    entries = list_backups(store)
    assert [e.id for e in entries] == ["20241214-1200", "20261126T051500Z-bbbbbb", "20261126T061500Z-aaaaaa"]
    assert [e.state for e in entries] == ["legacy, no manifest", "incomplete (no manifest)", "ok"]


def test_latest_skips_incomplete_uploads(tmp_path):
    store = FileStore(tmp_path)
    _add(store, "20261126T061500Z-aaaaaa")
    _add(store, "20261126T071500Z-bbbbbb", manifest=False)  # rdb uploaded, manifest never written
    assert latest_backup(store).id == "20261126T061500Z-aaaaaa"


def test_latest_newer_legacy_backup_wins(tmp_path):
    store = FileStore(tmp_path)
    _add(store, "20261126T061500Z-aaaaaa")
    _add(store, "20261126-0700")
    assert latest_backup(store).id == "20261126-0700"


def test_latest_ties_within_a_second_are_broken_by_the_manifests(tmp_path):
    store = FileStore(tmp_path)
    _add(store, "20261126T061500Z-ffffff", created_s=1)
    _add(store, "20261126T061500Z-000000", created_s=7)  # created later, sorts first by name
    assert latest_backup(store).id == "20261126T061500Z-000000"


def test_empty_store_has_no_latest(tmp_path):
    with pytest.raises(StoreError, match="no complete backup"):
        latest_backup(FileStore(tmp_path))


def test_find_backup_names_the_store(tmp_path):
    store = FileStore(tmp_path)
    with pytest.raises(StoreError, match=f"not found in file://{tmp_path}"):
        find_backup(store, "20261126T061500Z-aaaaaa")
    with pytest.raises(UsageError):
        find_backup(store, "latest")


def test_point_in_time_from_id(tmp_path):
    store = FileStore(tmp_path)
    _add(store, "20261126T061500Z-aaaaaa")
    assert list_backups(store)[0].point_in_time == datetime(2026, 11, 26, 6, 15, tzinfo=UTC)
