"""Find backups in a store: list them, look one up by id, resolve "latest" from manifests.

There is no mutable `latest.rdb`: the newest backup is the complete one (RDB plus
manifest, or a legacy RDB) with the newest point in time, ties inside one second
broken by the manifests' own timestamps. Selecting by origin reads manifests,
newest first, only as far as needed: a drill's own backup never stands in for
the pipeline's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby

from harness.backup import layout
from harness.backup.manifest import PIPELINE, Manifest, Origin
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
    stored_at: datetime | None = None
    time_problem: str | None = None
    #: a record beside the backup under redis/ (layout.stray_verify_key): ignored, reported so a user sees why
    ignored_record: str | None = None

    @property
    def complete(self) -> bool:
        """An RDB plus, for the new layout, its manifest (rdb is uploaded first, manifest last), honestly dated."""
        return (self.rdb_key is not None and (self.layout == "legacy" or self.has_manifest)
                and self.time_problem is None)

    @property
    def state(self) -> str:
        if self.time_problem:
            return f"refused: {self.time_problem}"
        if self.rdb_key is None:
            return "broken (manifest without RDB)"
        if self.layout == "manifest" and not self.has_manifest:
            return "incomplete (no manifest)"
        return "legacy, no manifest" if self.layout == "legacy" else "ok"


#: how far a key's point in time may run ahead of the store's own clock (backup host vs store clock skew)
CLOCK_SKEW = timedelta(minutes=5)


def time_problem(point_in_time: datetime, stored_at: datetime | None, *, now: datetime) -> str | None:
    """Why a backup's claimed point in time cannot be trusted, or None.

    The point in time comes from the key name, which whoever writes the store chooses; the
    store's own timestamp does not. A backup cannot be taken after the store received it,
    nor in the future: such an object would otherwise win "latest" (an attacker's way to
    have a planted backup restored). Older keys than their upload are normal (uploads take
    time; stores get migrated) and pass.
    """
    if point_in_time > now + CLOCK_SKEW:
        return f"its key claims {point_in_time.isoformat()}, in the future"
    if stored_at is not None and point_in_time > stored_at + CLOCK_SKEW:
        return (f"its key claims {point_in_time.isoformat()} but the store received it at "
                f"{stored_at.isoformat()}")
    return None


def list_backups(store: BackupStore) -> list[BackupEntry]:
    """Every backup under `redis/` in the store, oldest first; unrelated keys are ignored.

    Verification records are found under `verifications/redis/` only; a record beside the backup
    (under `redis/`, which the backup writer may write) is named in `ignored_record` and never counts.
    A record whose backup is not in the store is no backup.

    Each entry's point in time (from its key) is cross-checked with the store's timestamp of
    its RDB; a backup dated after it was stored, or in the future, is not complete (`state`
    says why) and so is never chosen as the newest.
    """
    now = datetime.now(UTC)
    found: dict[str, dict[str, object]] = {}
    for obj in store.list(layout.REDIS_PREFIX):
        info = layout.parse_key(obj.key)
        if info is None:
            continue
        slot = found.setdefault(info.backup_id, {"layout": info.layout})
        slot[info.kind] = obj
    for obj in store.list(layout.VERIFY_RECORDS_PREFIX):
        info = layout.parse_key(obj.key)
        if info is not None and info.kind == "verify" and info.backup_id in found:
            found[info.backup_id]["verify"] = obj
    entries = []
    for backup_id, slot in found.items():
        rdb = slot.get("rdb")
        point_in_time = layout.point_in_time_of(backup_id)
        stored_at = rdb.modified if rdb is not None else None  # type: ignore[attr-defined]
        entries.append(
            BackupEntry(
                id=backup_id,
                layout=slot["layout"],  # type: ignore[arg-type]
                point_in_time=point_in_time,
                rdb_key=rdb.key if rdb is not None else None,  # type: ignore[attr-defined]
                size=rdb.size if rdb is not None else None,  # type: ignore[attr-defined]
                has_manifest="manifest" in slot,
                has_verify_record="verify" in slot,
                stored_at=stored_at,
                time_problem=time_problem(point_in_time, stored_at, now=now),
                ignored_record=(slot["stray_verify"].key  # type: ignore[attr-defined]
                                if "stray_verify" in slot else None),
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


def origin_of(store: BackupStore, entry: BackupEntry) -> Origin:
    """Who wrote the backup; legacy backups (the runbook's CronJob) and older manifests are the pipeline's.

    A manifest that cannot be read counts as the pipeline's too, so a broken
    pipeline backup is judged (and refused) rather than skipped over.
    """
    if entry.layout == "legacy" or not entry.has_manifest:
        return PIPELINE
    try:
        return read_manifest(store, entry.id).origin
    except StoreError:
        return PIPELINE


def _newest_first(store: BackupStore, *, origin: Origin | None, not_after: datetime | None) -> Iterator[BackupEntry]:
    """Complete backups of `origin` (any when None), newest first, each tie group in `_newest` order."""
    complete = [e for e in list_backups(store) if e.complete and (not_after is None or e.point_in_time <= not_after)]
    complete.sort(key=lambda e: e.point_in_time, reverse=True)
    for _, group in groupby(complete, key=lambda e: e.point_in_time):
        tied = [e for e in group if origin is None or origin_of(store, e) == origin]
        while tied:
            best = _newest(store, tied)
            yield best
            tied.remove(best)


def newest_backup(
    store: BackupStore, *, origin: Origin | None = None, not_after: datetime | None = None
) -> BackupEntry | None:
    """Like `latest_backup`, None when there is no such backup."""
    return next(_newest_first(store, origin=origin, not_after=not_after), None)


def latest_backup(
    store: BackupStore, *, origin: Origin | None = None, not_after: datetime | None = None
) -> BackupEntry:
    """The complete backup with the newest point in time; StoreError when there is none.

    `origin` keeps only the pipeline's (or only drills') backups; `not_after`
    ignores backups newer than that instant (the newest one at a fault).
    """
    newest = newest_backup(store, origin=origin, not_after=not_after)
    if newest is None:
        which = f"{origin} " if origin else ""
        raise StoreError(
            f"no complete {which}backup in {store.url}",
            fix="take one with `sentinel-drill backup` (what the backup CronJob runs), or check --store / "
            "DRILL_STORE_URL",
        )
    return newest


def backup_series(store: BackupStore, *, origin: Origin, since: datetime, until: datetime) -> list[BackupEntry]:
    """Complete `origin` backups from `since` to `until`, oldest first, led by the last one before `since`.

    The leading backup is where the series enters the window, so a gap that
    started before `since` is seen.
    """
    series: list[BackupEntry] = []
    for entry in _newest_first(store, origin=origin, not_after=until):
        series.append(entry)
        if entry.point_in_time < since:
            break
    return series[::-1]


def _newest(store: BackupStore, tied: list[BackupEntry]) -> BackupEntry:
    """Of backups with the same point in time (to the second): the newest by the manifests' timestamps."""
    if len(tied) == 1:
        return tied[0]
    with_manifest = [e for e in tied if e.has_manifest]
    if not with_manifest:
        return max(tied, key=lambda e: e.id)

    def order(entry: BackupEntry) -> tuple[datetime, datetime, str]:
        m = read_manifest(store, entry.id)
        return (m.point_in_time, m.created_at, entry.id)

    return max(with_manifest, key=order)
