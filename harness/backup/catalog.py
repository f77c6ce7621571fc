"""Find backups in a store: list them, look one up by id, resolve "latest" from manifests.

There is no mutable `latest.rdb`: the newest backup is the complete one (RDB plus
manifest, or a legacy RDB) with the newest point in time, ties inside one second
broken by the manifests' own timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from harness.backup import layout
from harness.backup.manifest import Manifest
from harness.backup.store import BackupStore
from harness.errors import StoreError


@dataclass(frozen=True)
class BackupEntry:
    """One backup as the store's listing shows it (nothing downloaded yet)."""

    id: str
    layout: layout.Layout
    point_in_time: datetime
    rdb_key: str | None
    size: int | None
    has_manifest: bool
    has_verify_record: bool

    @property
    def complete(self) -> bool:
        """An RDB plus, for the new layout, its manifest (rdb is uploaded first, manifest last)."""
        return self.rdb_key is not None and (self.layout == "legacy" or self.has_manifest)

    @property
    def state(self) -> str:
        if self.rdb_key is None:
            return "broken (manifest without RDB)"
        if self.layout == "manifest" and not self.has_manifest:
            return "incomplete (no manifest)"
        return "legacy, no manifest" if self.layout == "legacy" else "ok"


def list_backups(store: BackupStore) -> list[BackupEntry]:
    """Every backup under `redis/` in the store, oldest first; unrelated keys are ignored."""
    found: dict[str, dict[str, object]] = {}
    for obj in store.list(layout.REDIS_PREFIX):
        info = layout.parse_key(obj.key)
        if info is None:
            continue
        slot = found.setdefault(info.backup_id, {"layout": info.layout})
        slot[info.kind] = obj
    entries = []
    for backup_id, slot in found.items():
        rdb = slot.get("rdb")
        entries.append(
            BackupEntry(
                id=backup_id,
                layout=slot["layout"],  # type: ignore[arg-type]
                point_in_time=layout.point_in_time_of(backup_id),
                rdb_key=rdb.key if rdb is not None else None,  # type: ignore[attr-defined]
                size=rdb.size if rdb is not None else None,  # type: ignore[attr-defined]
                has_manifest="manifest" in slot,
                has_verify_record="verify" in slot,
            )
        )
    return sorted(entries, key=lambda e: (e.point_in_time, e.id))


def find_backup(store: BackupStore, backup_id: str) -> BackupEntry:
    """The backup with this id; StoreError (with how to list them) when the store has none."""
    layout.layout_of(backup_id)  # UsageError for a malformed id
    for entry in list_backups(store):
        if entry.id == backup_id:
            return entry
    raise StoreError(
        f"backup {backup_id} not found in {store.url}",
        fix="list the store's backups with `sentinel-drill backups --store ...`",
    )


def read_manifest(store: BackupStore, backup_id: str) -> Manifest:
    """Download and parse a backup's manifest (StoreError when missing or malformed)."""
    key = layout.manifest_key(backup_id)
    return Manifest.from_json(store.get_bytes(key), where=store.location(key))


def latest_backup(store: BackupStore) -> BackupEntry:
    """The complete backup with the newest point in time; StoreError when there is none."""
    complete = [e for e in list_backups(store) if e.complete]
    if not complete:
        raise StoreError(
            f"no complete backup in {store.url}",
            fix="take one with `sentinel-drill backup`, or check --store / DRILL_STORE_URL",
        )
    newest = max(e.point_in_time for e in complete)
    tied = [e for e in complete if e.point_in_time == newest]
    if len(tied) == 1:
        return tied[0]
    with_manifest = [e for e in tied if e.has_manifest]
    if not with_manifest:
        return max(tied, key=lambda e: e.id)

    def order(entry: BackupEntry) -> tuple[datetime, datetime, str]:
        m = read_manifest(store, entry.id)
        return (m.point_in_time, m.created_at, entry.id)

    return max(with_manifest, key=order)
