"""The Prometheus row: its configuration names a `remote_write` endpoint (presence, not history).

Metrics history lives wherever remote write sends it; from here one can only
show the configuration ships it somewhere and whether that endpoint answers.
An answer of any HTTP status counts as reachable (a receiver refuses an empty
write with 400); no answer is reported, not failed, since the endpoint may
only be reachable from inside the cluster.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import yaml

from harness.config import redact_url
from harness.coverage.report import CoverageRow, row
from harness.errors import DrillError
from harness.platform.client import namespaced
from harness.target.base import Target

PRESENCE_ONLY = "the metrics history itself (this row checks that remote write is configured, not what it stored)"


def remote_write_urls(text: str) -> list[str]:
    """The `remote_write[].url` values of a Prometheus configuration ([] when none; ValueError when not YAML)."""
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc.__class__.__name__}") from None
    if not isinstance(config, dict):
        raise ValueError("not a mapping")  # noqa: TRY004 - one error type for "cannot be read"
    entries = config.get("remote_write") or []
    return [str(e["url"]) for e in entries if isinstance(e, dict) and e.get("url")]


def cluster_internal(url: str) -> bool:
    """A Service name (no dot, or under .svc / .cluster.local) resolves inside the cluster only."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    return "." not in host or host.endswith((".svc", ".cluster.local"))


def reachability(url: str, *, timeout: float = 3.0) -> str:
    """What the endpoint answered an empty remote-write POST (one line); cluster-internal names are not probed."""
    if cluster_internal(url):
        return "cluster-internal name, not probed from outside the cluster"
    request = urllib.request.Request(url, data=b"", method="POST",
                                     headers={"Content-Type": "application/x-protobuf",
                                              "X-Prometheus-Remote-Write-Version": "0.1.0"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return f"reachable: answered HTTP {answer.status}"
    except urllib.error.HTTPError as exc:
        return f"reachable: answered HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return f"no answer from here ({getattr(exc, 'reason', exc.__class__.__name__)})"


def prometheus_row(target: Target) -> CoverageRow:
    settings = target.settings
    namespace, _, name = settings.prometheus_config_map.rpartition("/")
    namespace = namespace or target.namespace
    where = f"ConfigMap {namespace}/{name} key {settings.prometheus_config_key}"
    backed_up = "metrics history: Prometheus remote write"
    try:
        config_map = target.cluster().get(namespaced("v1", "configmaps", namespace, name), what=f"configmap {where}")
        text = (config_map.get("data") or {}).get(settings.prometheus_config_key)
    except DrillError as exc:
        return row("Prometheus", backed_up, f"no Prometheus configuration: {exc.message}",
                   [f"{where}: {exc.message}"], not_checked=(PRESENCE_ONLY,))
    if text is None:
        return row("Prometheus", backed_up, f"{where} is missing", [f"{where} does not exist"],
                   not_checked=(PRESENCE_ONLY,))
    try:
        urls = remote_write_urls(text)
    except ValueError as exc:
        return row("Prometheus", backed_up, f"{where} cannot be read", [f"{where} is {exc}"],
                   not_checked=(PRESENCE_ONLY,))
    endpoints: list[dict[str, Any]] = [{"url": redact_url(u), "reachability": reachability(u)} for u in urls]
    summary = ("remote_write to " + "; ".join(f"{e['url']} ({e['reachability']})" for e in endpoints)
               if endpoints else "no remote_write endpoint")
    return row("Prometheus", backed_up, summary,
               [] if urls else [f"{where} has no remote_write url: metrics history is not shipped anywhere"],
               not_checked=(PRESENCE_ONLY,), details={"config": where, "remote_write": endpoints})
