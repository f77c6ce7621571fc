"""Secret rotation (scenario 4): every Secret key gets a fresh value, the Redis password included.

The configuration backup (export, encrypt, store, restore) lives in
harness/backup/config_export.py.
"""

from __future__ import annotations

import base64
import secrets as pysecrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from harness.backup.config_export import describe
from harness.platform.client import Cluster, Obj
from harness.platform.config_objects import ALL, export_config_objects
from harness.platform.manifests import apply_objects
from harness.redaction import register_secret


@dataclass(frozen=True)
class Rotation:
    """Which Secret keys got a new value and which (impossibly) kept the old one; names only."""

    secrets: tuple[str, ...]
    rotated: tuple[str, ...]
    unchanged: tuple[str, ...]


def rotate_secrets(cluster: Cluster, *, source_namespace: str, namespace: str, redis_password: str,
                   labels: Mapping[str, str] | None = None) -> Rotation:
    """Give every key of every Secret of `source_namespace` a fresh random value, applied into `namespace`.

    The `password` key of `sentinel-redis` gets `redis_password`, which the
    target applies to Redis itself in the same rotation.
    """
    fresh_objects: list[Obj] = []
    rotated: list[str] = []
    unchanged: list[str] = []
    for old in export_config_objects(cluster, namespace=source_namespace, secrets=[ALL]):
        name = old["metadata"]["name"]
        data = {}
        for k, old_value in (old.get("data") or {}).items():
            value = redis_password if (name, k) == ("sentinel-redis", "password") else pysecrets.token_urlsafe(32)
            register_secret(value)
            data[k] = base64.b64encode(value.encode()).decode()
            (unchanged if data[k] == old_value else rotated).append(f"{name}/{k}")
        fresh_objects.append({
            "apiVersion": "v1", "kind": "Secret", "type": old.get("type", "Opaque"), "data": data,
            "metadata": {"name": name, "namespace": namespace,
                         "annotations": {"sentinel-drill/rotated-at": datetime.now(UTC).isoformat()}},
        })
    apply_objects(cluster, fresh_objects, namespace=namespace, labels=labels)
    return Rotation(tuple(describe(o) for o in fresh_objects), tuple(rotated), tuple(unchanged))
