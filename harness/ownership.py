"""What a drill run owns, and how it proves it: one run id stamped on everything the run creates.

A drill deletes, flushes and scales only what it can show is its own. Names
prove nothing (a DR namespace may be production's by a typo), so every object
the run creates carries the label `sentinel-drill/run-id=<run id>`, a Redis it
fills carries a claim key holding the run id, and teardown selects by that mark,
never by "the stack's names" or "every key".

The run id comes from `DRILL_RUN_ID` (the CLI sets it for the pytest child, so
the evidence bundle, the labels and the undo ledger all name the same run), else
a new one is made when the run starts.
"""

from __future__ import annotations

import copy
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.config import Settings

RUN_ID_ENV = "DRILL_RUN_ID"
#: the label every object the drill creates carries (its value: the run id)
RUN_LABEL = "sentinel-drill/run-id"
#: the ConfigMap that marks a DR namespace as claimed by one run (created only after the namespace was proven empty)
CLAIM_CONFIGMAP = "sentinel-drill-claim"
#: the key that marks a Redis as claimed by one run (set only after the Redis was proven empty)
REDIS_CLAIM_KEY = "sentinel-drill:claim"

_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")


def new_run_id(target: str, *, now: datetime | None = None) -> str:
    """A fresh run id: UTC time, the target's name and 4 random hex digits (a valid label value, ≤ 63 chars)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    name = re.sub(r"[^a-z0-9-]+", "-", target.lower()).strip("-")[:30] or "target"
    return f"{stamp}-{name}-{secrets.token_hex(2)}"


def with_run_id(settings: Settings) -> Settings:
    """`settings` with a run id: its own (DRILL_RUN_ID), else a new one for this run."""
    if settings.run_id:
        return settings
    return settings.model_copy(update={"run_id": new_run_id(settings.target)})


def valid_run_id(run_id: str) -> bool:
    """A run id must be usable as a label value and a store key component as it is."""
    return bool(_LABEL_VALUE.match(run_id))


def run_labels(run_id: str) -> dict[str, str]:
    return {RUN_LABEL: run_id}


def run_selector(run_id: str) -> str:
    """The label selector of everything `run_id` created."""
    return f"{RUN_LABEL}={run_id}"


def stamp(objects: Iterable[Mapping[str, Any]], run_id: str) -> list[dict[str, Any]]:
    """Copies of `objects` carrying the run's label (their other labels kept)."""
    stamped = []
    for obj in objects:
        copied = copy.deepcopy(dict(obj))
        meta = copied.setdefault("metadata", {})
        meta["labels"] = {**(meta.get("labels") or {}), **run_labels(run_id)}
        stamped.append(copied)
    return stamped


def owner_of(obj: Mapping[str, Any]) -> str | None:
    """The run id an object was created by, or None when no drill run created it."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    value = labels.get(RUN_LABEL)
    return str(value) if value else None


def owned_by(obj: Mapping[str, Any], run_id: str) -> bool:
    return owner_of(obj) == run_id
