"""`evidence verify --chain`: every bundle and every link, first to newest, each tampering named.

One bundle's check (verify.py) cannot see what is *missing* or *out of place*.
This module reads the links all the bundles in a directory state (links.py) and
judges them together:

- **deleted** — a bundle links to a predecessor that is not there, the sequence
  numbers skip, or a locked chain head names a bundle that is gone;
- **edited** — a predecessor's SHA256SUMS no longer has the hash its successor
  recorded (also when its own SHA256SUMS was regenerated to match the edit), or
  a bundle differs from its locked chain head;
- **reordered** — a bundle follows one with a later sequence number or creation time;
- **forked** — two bundles follow the same predecessor, or two bundles both claim
  to be the first.

Signatures are checked per bundle against the configured public keys. The
locked chain heads (object-locked in the store, `chain_store.py`) are what
make a history rewritten from some point onwards visible: the rewrite cannot
replace a head written before it. Without them — a local copy, a file:// store,
a bucket without object lock — deleting the newest bundles together with their
heads leaves a shorter chain that is consistent in itself: the report says so
(`unanchored`), and the CLI fails such a chain unless told `--allow-unanchored`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import CheckFailed
from harness.evidence import integrity
from harness.evidence.clock_check import DEFAULT_CLOCK_TOLERANCE_S
from harness.evidence.links import BundleLink, incomplete_dirs, read_links, refused_entries
from harness.evidence.verify import verify_bundle


@dataclass(frozen=True)
class ChainHead:
    """One locked record of the chain's newest bundle at the time it was uploaded."""

    run_id: str
    sequence: int
    sums_sha256: str
    name: str
    locked_until: str | None = None
    trust_problem: str | None = None  # its signature does not hold up against the configured keys


@dataclass(frozen=True)
class BundleStatus:
    run_id: str
    sequence: int | None
    created_at: str
    signature: str
    problems: tuple[str, ...]
    recomputed: str = "not asked"

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class ChainReport:
    """The whole chain's verdict: per-bundle status in chain order, every problem by name, and what
    could not be checked.

    `unanchored` says why a truncation — the newest bundle(s) deleted together with their chain
    heads — would go unseen here (no chain heads, or heads that are not object-locked); None when
    every head is locked. `ok` is about what was checked; the CLI fails an unanchored chain too,
    unless told `--allow-unanchored`.
    """

    location: str
    bundles: tuple[BundleStatus, ...]
    problems: tuple[str, ...]
    notes: tuple[str, ...]
    head: str
    unanchored: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def anchored(self) -> bool:
        return self.unanchored is None

    def to_json(self) -> dict[str, Any]:
        return {"location": self.location, "ok": self.ok, "head": self.head, "anchored": self.anchored,
                "truncation_not_checked": self.unanchored,
                "bundles": [{"run_id": b.run_id, "sequence": b.sequence, "created_at": b.created_at,
                             "signature": b.signature, "recomputed": b.recomputed, "ok": b.ok,
                             "problems": list(b.problems)}
                            for b in self.bundles],
                "problems": list(self.problems), "notes": list(self.notes)}


@dataclass
class _Findings:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unanchored: str | None = None


def _check_links(links: Mapping[str, BundleLink], found: _Findings) -> None:
    """deleted / edited / forked / reordered, from what each bundle says about its predecessor."""
    followers: dict[str, list[str]] = {}
    firsts: list[str] = []
    by_sequence = {link.sequence: link.run_id for link in links.values() if link.sequence is not None}
    for link in sorted(links.values(), key=_order):
        if link.previous_problem:
            found.problems.append(f"{link.run_id}: {link.previous_problem}")
            continue
        if link.previous is None:
            firsts.append(link.run_id)
            continue
        before_id, recorded = link.previous
        followers.setdefault(before_id, []).append(link.run_id)
        before = links.get(before_id)
        if before is None:
            found.problems.append(f"deleted: bundle {before_id} is missing — {link.run_id} links to it")
            continue
        if before.sums_sha256 != recorded:
            found.problems.append(
                f"edited: bundle {before_id} changed after {link.run_id} was linked to it (its SHA256SUMS has "
                f"sha256 {before.sums_sha256[:16]}…, {link.run_id} recorded {recorded[:16]}…)")
        _check_order(before, link, found, by_sequence)
    if len(firsts) > 1:
        found.problems.append(f"forked: {' and '.join(firsts)} each claim to be the first bundle of the chain")
    for before_id, after in followers.items():
        if len(after) > 1:
            found.problems.append(f"forked: {' and '.join(after)} both follow {before_id}")


def _check_order(before: BundleLink, after: BundleLink, found: _Findings, by_sequence: Mapping[int, str]) -> None:
    if before.sequence is not None and after.sequence is not None:
        if after.sequence <= before.sequence:
            found.problems.append(f"reordered: {after.run_id} (#{after.sequence}) follows {before.run_id} "
                                  f"(#{before.sequence}), which comes later in the chain")
            return
        skipped = range(before.sequence + 1, after.sequence)
        absent = [n for n in skipped if n not in by_sequence]
        if absent:
            found.problems.append(
                f"deleted: {len(absent)} bundle(s) missing between {before.run_id} (#{before.sequence}) and "
                f"{after.run_id} (#{after.sequence}), which was relinked over the gap")
            return
        if skipped:
            found.problems.append(
                f"reordered: {after.run_id} (#{after.sequence}) follows {before.run_id} (#{before.sequence}), "
                f"skipping {', '.join(by_sequence[n] for n in skipped)} (present elsewhere in the chain)")
            return
    if before.created_at and after.created_at and after.created_at < before.created_at:
        found.problems.append(f"reordered: {after.run_id} (created {after.created_at}) follows {before.run_id} "
                              f"(created {before.created_at})")


def _check_heads(links: Mapping[str, BundleLink], heads: Sequence[ChainHead] | None, found: _Findings,
                 now: datetime) -> str:
    """Every chain head must still match its bundle; returns the head line of the report.

    Sets `found.unanchored` when a truncation could not be seen: without heads, or while any head
    can be deleted (not object-locked, or its lock has run out), the newest bundles can go with theirs.
    """
    if heads is None:
        found.unanchored = "no chain heads at this location (a local copy); verify the store's copy"
        return "not checked (no chain heads here)"
    if not heads:
        found.unanchored = "the store holds no chain head yet"
        return "none stored"
    for head in heads:
        if head.trust_problem:
            found.problems.append(f"chain head {head.name}: {head.trust_problem}")
        bundle = links.get(head.run_id)
        if bundle is None:
            found.problems.append(f"deleted: bundle {head.run_id} (#{head.sequence}) is recorded by the chain "
                                  f"head {head.name} but is not in the chain")
        elif bundle.sums_sha256 != head.sums_sha256:
            found.problems.append(f"edited: bundle {head.run_id} differs from the chain head {head.name} "
                                  f"(SHA256SUMS sha256 {bundle.sums_sha256[:16]}…, head recorded "
                                  f"{head.sums_sha256[:16]}…)")
    unlocked = [head.name for head in heads if not head.locked_until]
    expired = [head.name for head in heads if head.locked_until and _lock_ended(head.locked_until, now)]
    if unlocked:
        found.unanchored = (f"{len(unlocked)} of {len(heads)} chain head(s) are not object-locked (a file:// store or "
                            "a bucket without object lock): they can be deleted with the bundles")
    elif expired:
        found.unanchored = f"the object lock of {len(expired)} of {len(heads)} chain head(s) has run out"
    newest = max(heads, key=lambda h: h.sequence)
    later = [link.run_id for link in links.values() if (link.sequence or 0) > newest.sequence]
    if later:
        found.notes.append(f"{len(later)} bundle(s) newer than the newest chain head (not uploaded yet?): "
                           f"{', '.join(sorted(later))}")
    if newest.locked_until:
        return f"newest locked head #{newest.sequence} is {newest.run_id}, locked until {newest.locked_until}"
    return f"newest chain head #{newest.sequence} is {newest.run_id}, not locked"


def _lock_ended(until: str, now: datetime) -> bool:
    """A retain-until date in the past; an unreadable one counts as ended (it proves nothing)."""
    try:
        parsed = datetime.fromisoformat(until)
    except ValueError:
        return True
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)) <= now


def _order(link: BundleLink) -> tuple[int, str, str]:
    return (link.sequence if link.sequence is not None else 1 << 30, link.created_at, link.run_id)


def verify_chain(root: Path, *, trusted_keys: Sequence[str] | None = None, heads: Sequence[ChainHead] | None = None,
                 env: Mapping[str, str] | None = None, location: str | None = None,
                 store_problems: Sequence[str] = (), now: datetime | None = None,
                 recompute: bool = False, clock_tolerance_s: float = DEFAULT_CLOCK_TOLERANCE_S) -> ChainReport:
    """Verify every bundle under `root` and every link between them, against `heads` when given.

    `trusted_keys` default to DRILL_EVIDENCE_PUBLIC_KEYS. `recompute` derives every
    bundle's figures again from its raw observations (`verify_bundle`). `store_problems` are
    findings of the store itself (replaced or deleted object versions) to report
    with the rest. Raises CheckFailed when `root` holds no bundle at all.
    """
    env = os.environ if env is None else env
    trusted = tuple(trusted_keys) if trusted_keys is not None else integrity.trusted_keys_from_env(env)
    links = read_links(root)
    found = _Findings(problems=list(store_problems))
    found.problems.extend(refused_entries(root))
    for stray in incomplete_dirs(root):
        found.problems.append(f"stripped: {stray.name} has a run.json but no {integrity.SUMS}, so nothing in it "
                              "can be checked")
    if not links and not found.problems:
        raise CheckFailed(f"{location or root} holds no evidence bundle", fix="pass the directory that holds the "
                          "bundles (reports/evidence) or the store (s3://bucket/prefix)")
    statuses: list[BundleStatus] = []
    for link in sorted(links.values(), key=_order):
        report = verify_bundle(root / link.run_id, trusted_keys=trusted, env=env, link=False, recompute=recompute,
                               clock_tolerance_s=clock_tolerance_s)
        problems = tuple(f"{link.run_id}: {p}" for p in report.problems)
        found.problems.extend(problems)
        found.notes.extend(f"{link.run_id}: {n}" for n in report.notes)
        statuses.append(BundleStatus(link.run_id, link.sequence, link.created_at, report.signature, problems,
                                     report.recomputed))
    _check_links(links, found)
    head = _check_heads(links, heads, found, now or datetime.now(UTC))
    return ChainReport(location or str(root), tuple(statuses), tuple(found.problems), tuple(found.notes), head,
                       found.unanchored)
