"""Configuration backup: export Secrets/ConfigMaps, encrypt, store, restore; rotate secrets.

The runbook's "kubectl get secret -o yaml > secrets/…; gpg --encrypt" with a
symmetric Fernet key (AES-128-CBC + HMAC-SHA256) from `DRILL_CONFIG_KEY` (or the
target's key file): the store only ever holds ciphertext, and a wrong key is
named as such instead of yielding garbage.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets as pysecrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from harness.backup.store import BackupStore
from harness.errors import CheckFailed, ConfigError, StoreError
from harness.platform.client import Cluster, Obj
from harness.platform.config_objects import ALL, export_config_objects, import_config_objects
from harness.platform.manifests import apply_objects
from harness.redaction import register_secret

KEY_ENV = "DRILL_CONFIG_KEY"
EXPORT_PREFIX = "config/"


@dataclass(frozen=True)
class ConfigExport:
    """One encrypted export in the store."""

    export_id: str
    key: str
    created_at: datetime
    objects: tuple[str, ...]
    plaintext_sha256: str

    def to_json(self) -> dict[str, Any]:
        return {"export_id": self.export_id, "key": self.key, "created_at": self.created_at.isoformat(),
                "objects": list(self.objects), "plaintext_sha256": self.plaintext_sha256}


def new_key() -> str:
    """A fresh Fernet key (url-safe base64 of 32 random bytes)."""
    return Fernet.generate_key().decode()


def _fernet(key: str) -> Fernet:
    try:
        return Fernet(key.encode())
    except (ValueError, TypeError):
        raise ConfigError(f"{KEY_ENV} is not a valid Fernet key",
                          fix="generate one: python -c 'from cryptography.fernet import Fernet; "
                          "print(Fernet.generate_key().decode())'") from None


def _describe(obj: Obj) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def export_config(cluster: Cluster, store: BackupStore, *, namespace: str, key: str) -> ConfigExport:
    """Export every Secret and ConfigMap of `namespace`, encrypt them and store the ciphertext."""
    objects = export_config_objects(cluster, namespace=namespace, secrets=[ALL], config_maps=[ALL])
    plaintext = json.dumps({"namespace": namespace, "objects": objects}, sort_keys=True).encode()
    now = datetime.now(UTC)
    export_id = now.strftime("%Y%m%dT%H%M%SZ") + "-" + pysecrets.token_hex(3)
    store_key = f"{EXPORT_PREFIX}{now:%Y/%m/%d}/{export_id}.json.enc"
    store.put_bytes(store_key, _fernet(key).encrypt(plaintext))
    export = ConfigExport(export_id, store_key, now, tuple(_describe(o) for o in objects),
                          hashlib.sha256(plaintext).hexdigest())
    store.put_bytes(store_key.replace(".json.enc", ".meta.json"), json.dumps(export.to_json()).encode())
    return export


def latest_export(store: BackupStore) -> ConfigExport:
    """The newest export's metadata; StoreError when the store holds none."""
    metas = sorted(o.key for o in store.list(EXPORT_PREFIX) if o.key.endswith(".meta.json"))
    if not metas:
        raise StoreError(f"no configuration export in {store.location(EXPORT_PREFIX)}",
                         fix="export one first (the drills do; or `sentinel-drill` scenario 3's Given step)")
    data = json.loads(store.get_bytes(metas[-1]))
    return ConfigExport(data["export_id"], data["key"], datetime.fromisoformat(data["created_at"]),
                        tuple(data["objects"]), data["plaintext_sha256"])


def read_export(store: BackupStore, export: ConfigExport, *, key: str) -> list[Obj]:
    """Decrypt an export and check it against its recorded digest."""
    try:
        plaintext = _fernet(key).decrypt(store.get_bytes(export.key))
    except InvalidToken:
        raise CheckFailed(f"configuration export {export.export_id} cannot be decrypted with the given key",
                          fix=f"set {KEY_ENV} to the key it was exported with") from None
    if hashlib.sha256(plaintext).hexdigest() != export.plaintext_sha256:
        raise CheckFailed(f"configuration export {export.export_id} does not match its recorded digest",
                          fix="the export was altered; use an older one")
    return list(json.loads(plaintext)["objects"])


def restore_config(cluster: Cluster, store: BackupStore, *, namespace: str, key: str) -> list[Obj]:
    """Apply the newest export's Secrets and ConfigMaps into `namespace`; return the objects applied."""
    objects = read_export(store, latest_export(store), key=key)
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    import_config_objects(cluster, objects, namespace=namespace)
    return objects


def restored_mismatches(cluster: Cluster, objects: list[Obj], *, namespace: str) -> list[str]:
    """Objects whose data in the cluster differs from what was restored (names only, never values)."""
    wrong = []
    for obj in objects:
        plural = "secrets" if obj["kind"] == "Secret" else "configmaps"
        live = cluster.get(f"/api/v1/namespaces/{namespace}/{plural}/{obj['metadata']['name']}")
        if (live.get("data") or {}) != (obj.get("data") or {}):
            wrong.append(_describe(obj))
    return wrong


@dataclass(frozen=True)
class Rotation:
    """Which Secret keys got a new value and which (impossibly) kept the old one; names only."""

    secrets: tuple[str, ...]
    rotated: tuple[str, ...]
    unchanged: tuple[str, ...]


def rotate_secrets(cluster: Cluster, *, source_namespace: str, namespace: str, redis_password: str) -> Rotation:
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
    apply_objects(cluster, fresh_objects, namespace=namespace)
    return Rotation(tuple(_describe(o) for o in fresh_objects), tuple(rotated), tuple(unchanged))
