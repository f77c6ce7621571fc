"""What a Redis holds, by key prefix: counted and compared by name, never by value.

A backup is judged by what production held, not by its own manifest: a pipeline
that backs up the wrong server, or writes a truncated or wrongly-keyed RDB,
writes a manifest that agrees with its file. So before the fault the drill
counts production's keys by prefix (the text up to the first `:`), and after
the restore the restored Redis the same way; a prefix that came back with
fewer keys than production had, beyond the tolerance, is named. Scenario 4's
assessment compares the compromised Redis with the newest verified backup the
same way, and names a sample of the keys added, removed or changed — names
only: values never leave Redis (a changed value is found by comparing a digest
of each key's DUMP payload, computed inside this process and kept nowhere).
The drill's own keys (`drill:` canaries, the `sentinel-drill:` claim key) are not SENTINEL's data.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import redis

from harness.backup.dataset import key_digest

#: the drill's own keys (canaries; the claim key of harness.ownership): never counted as SENTINEL's data
DRILL_PREFIXES = (b"drill:", b"sentinel-drill:")
NO_PREFIX = "(no prefix)"
SAMPLE_NAMES = 5
_BATCH = 1000


def prefix_of(key: bytes) -> str:
    """`session:` for `session:abc`; NO_PREFIX for a key without a colon. Undecodable bytes are escaped."""
    text = key.decode("utf-8", errors="backslashreplace")
    head, colon, _ = text.partition(":")
    return f"{head}:" if colon else NO_PREFIX


def shown_name(key: bytes) -> str:
    """A key name fit for a report line (names are not secrets here; values never are shown)."""
    text = key.decode("utf-8", errors="backslashreplace")
    return text if len(text) <= 80 else text[:80] + "…"


def _keys(client: redis.Redis) -> Iterator[bytes]:
    for key in client.scan_iter(count=_BATCH):
        raw = key if isinstance(key, bytes) else str(key).encode()
        if not raw.startswith(DRILL_PREFIXES):
            yield raw


@dataclass(frozen=True)
class KeyCensus:
    """Keys per prefix (the drill's own left out), with a few names of each."""

    prefixes: dict[str, int]
    samples: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.prefixes.values())

    def to_json(self) -> dict[str, Any]:
        return {"total": self.total, "prefixes": dict(sorted(self.prefixes.items())),
                "samples": {k: list(v) for k, v in sorted(self.samples.items())}}


def census(client: redis.Redis) -> KeyCensus:
    """Count the keys of `client`'s database by prefix (SCAN: never blocks the server)."""
    counts: Counter[str] = Counter()
    samples: dict[str, list[str]] = {}
    for key in _keys(client):
        prefix = prefix_of(key)
        counts[prefix] += 1
        names = samples.setdefault(prefix, [])
        if len(names) < SAMPLE_NAMES:
            names.append(shown_name(key))
    return KeyCensus(dict(counts), {k: tuple(v) for k, v in samples.items()})


@dataclass(frozen=True)
class Shortfall:
    """A prefix the restored data holds fewer keys of than production did."""

    prefix: str
    expected: int
    restored: int

    def describe(self) -> str:
        return f"{self.prefix} {self.restored} of {self.expected} key(s)"


def shortfalls(expected: KeyCensus, restored: KeyCensus, *, tolerance: float) -> list[Shortfall]:
    """Prefixes with fewer restored keys than `(1 − tolerance) × expected`, worst first; a prefix gone always counts."""
    short = [Shortfall(prefix, n, got) for prefix, n in expected.prefixes.items()
             if (got := restored.prefixes.get(prefix, 0)) < (1 - tolerance) * n or (n and not got)]
    return sorted(short, key=lambda s: (s.restored / s.expected if s.expected else 1.0, s.prefix))


@dataclass(frozen=True)
class PrefixDifference:
    """One prefix's keys: only live (added), only in the backup (removed), in both with another value (changed)."""

    prefix: str
    added: int
    removed: int
    changed: int
    sample_added: tuple[str, ...] = ()
    sample_removed: tuple[str, ...] = ()
    sample_changed: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"prefix": self.prefix, "added": self.added, "removed": self.removed, "changed": self.changed,
                "sample_added": list(self.sample_added), "sample_removed": list(self.sample_removed),
                "sample_changed": list(self.sample_changed)}


def _payload_digests(client: redis.Redis, keys: list[bytes]) -> dict[bytes, bytes | None]:
    """A digest of each key's DUMP payload (None: gone meanwhile). The payload itself is dropped at once."""
    out: dict[bytes, bytes | None] = {}
    for start in range(0, len(keys), _BATCH):
        batch = keys[start:start + _BATCH]
        pipe = client.pipeline(transaction=False)
        for key in batch:
            pipe.dump(key)
        for key, payload in zip(batch, pipe.execute(), strict=True):
            out[key] = hashlib.sha256(payload).digest() if payload is not None else None
    return out


def _values_differ(live: redis.Redis, backup: redis.Redis, key: bytes) -> bool:
    """Whether the key's values differ in a canonical form (type, sorted members): DUMP payloads of equal
    hashtable-encoded sets, hashes and zsets differ with the table's history, so a payload mismatch is confirmed."""
    kinds = [_type(c, key) for c in (live, backup)]
    return kinds[0] != kinds[1] or key_digest(live, key, kinds[0]) != key_digest(backup, key, kinds[1])


def _type(client: redis.Redis, key: bytes) -> str:
    kind = client.type(key)
    return kind.decode() if isinstance(kind, bytes) else str(kind)


def differences(live: redis.Redis, backup: redis.Redis) -> list[PrefixDifference]:
    """How `live` differs from `backup` (a scratch server holding the backup), by prefix; names only.

    Values are compared by the digest of their DUMP payload first, and a mismatch confirmed on a canonical
    digest of the value (harness.backup.dataset.key_digest); the values themselves are kept nowhere.
    """
    live_keys, backup_keys = set(_keys(live)), set(_keys(backup))
    common = sorted(live_keys & backup_keys)
    live_digests, backup_digests = _payload_digests(live, common), _payload_digests(backup, common)
    changed = [k for k in common if live_digests[k] != backup_digests[k] and _values_differ(live, backup, k)]
    by_prefix: dict[str, dict[str, list[bytes]]] = {}
    for kind, keys in (("added", sorted(live_keys - backup_keys)), ("removed", sorted(backup_keys - live_keys)),
                       ("changed", changed)):
        for key in keys:
            by_prefix.setdefault(prefix_of(key), {}).setdefault(kind, []).append(key)
    out = []
    for prefix, kinds in sorted(by_prefix.items()):
        added, removed, moved = kinds.get("added", []), kinds.get("removed", []), kinds.get("changed", [])
        out.append(PrefixDifference(prefix, len(added), len(removed), len(moved),
                                    tuple(shown_name(k) for k in added[:SAMPLE_NAMES]),
                                    tuple(shown_name(k) for k in removed[:SAMPLE_NAMES]),
                                    tuple(shown_name(k) for k in moved[:SAMPLE_NAMES])))
    return out
