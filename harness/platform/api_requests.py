"""How many requests the harness sent to Kubernetes, by verb: the cost of a drill at scale, counted at the transport.

Every request goes through `Cluster._exchange`, which records it here. A
`RequestCounter` is cheap (a dict increment under a lock) and a Cluster records
into the process-wide `REQUESTS` unless given its own, because a drill opens many
short-lived Clusters (one per chaos activity) and the bench wants their sum.
Verbs are Kubernetes' own (get, list, watch, create, update, patch, delete),
with the subresource after a slash (`create/eviction`, `patch/scale`).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

_METHOD_VERB = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def verb_of(method: str, path: str, query: Mapping[str, Any] | None = None) -> str:
    """The Kubernetes verb of one request: GET on a collection is `list` (or `watch`), on an object `get`."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    # /api/v1/... or /apis/<group>/<version>/...; anything else (/version, /healthz) is a plain get
    if parts[:1] == ["api"]:
        rest = parts[2:]
    elif parts[:1] == ["apis"]:
        rest = parts[3:]
    else:
        return "get" if method.upper() == "GET" else _METHOD_VERB.get(method.upper(), method.lower())
    if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) > 2:
        rest = rest[2:]  # namespaces/<ns>/<plural>/...
    # rest: [plural] | [plural, name] | [plural, name, subresource]
    subresource = rest[2] if len(rest) >= 3 else None
    if method.upper() == "GET":
        if len(rest) == 1:
            return "watch" if str((query or {}).get("watch", "")).lower() in ("1", "true") else "list"
        verb = "get"
    else:
        verb = _METHOD_VERB.get(method.upper(), method.lower())
        if verb == "delete" and len(rest) == 1:
            verb = "deletecollection"
    return f"{verb}/{subresource}" if subresource else verb


class RequestCounter:
    """Requests by verb, thread-safe; `snapshot()` for a report, `since(before)` for one step's share."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def record(self, method: str, path: str, query: Mapping[str, Any] | None = None) -> None:
        verb = verb_of(method, path, query)
        with self._lock:
            self._counts[verb] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())

    def since(self, before: Mapping[str, int]) -> dict[str, int]:
        """Requests by verb recorded after `before` (an earlier snapshot); verbs with none left out."""
        now = self.snapshot()
        return {verb: n - before.get(verb, 0) for verb, n in sorted(now.items()) if n - before.get(verb, 0)}


#: every Cluster records here unless it was given its own counter
REQUESTS = RequestCounter()
