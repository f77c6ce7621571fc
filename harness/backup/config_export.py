"""Configuration backup: the runbook's Secrets and ConfigMaps, exported, encrypted and stored "on change".

The runbook's `kubectl get secret … -o yaml; gpg --encrypt`, with a symmetric
Fernet key (AES-128-CBC + HMAC-SHA256) from `DRILL_CONFIG_KEY`: the store only
ever holds ciphertext, and a wrong key is named as such instead of yielding
garbage. Beside each export a metadata file lists the objects and a keyed
digest (HMAC-SHA256 under a key derived from the Fernet key) of each one's data,
so "nothing changed since the newest export" and drift are decided without
decrypting and without publishing a plain hash a short secret could be guessed
back from.

Layout: `config/YYYY/MM/DD/<id>.json.enc` + `<id>.meta.json`, ids sort by time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets as pysecrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from harness.backup.manifest import PIPELINE, Origin
from harness.backup.store import BackupStore
from harness.errors import CheckFailed, ConfigError, StoreError
from harness.platform.client import Cluster, Obj, ObjectNotFound
from harness.platform.config_objects import export_config_objects, import_config_objects

KEY_ENV = "DRILL_CONFIG_KEY"
EXPORT_PREFIX = "config/"
_DIGEST_CONTEXT = b"sentinel-drill configuration digest v1"


@dataclass(frozen=True)
class ConfigExport:
    """One encrypted export in the store, as its metadata file describes it."""

    export_id: str
    key: str
    created_at: datetime
    objects: tuple[str, ...]
    plaintext_sha256: str
    origin: Origin = PIPELINE
    digests: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"export_id": self.export_id, "key": self.key, "created_at": self.created_at.isoformat(),
                "objects": list(self.objects), "plaintext_sha256": self.plaintext_sha256, "origin": self.origin,
                "digests": dict(self.digests)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConfigExport:
        return cls(data["export_id"], data["key"], datetime.fromisoformat(data["created_at"]),
                   tuple(data["objects"]), data["plaintext_sha256"], data.get("origin", PIPELINE),
                   dict(data.get("digests") or {}))


@dataclass(frozen=True)
class ExportOutcome:
    """What `backup_config` did: wrote `export`, or found nothing changed since `unchanged_since`."""

    export: ConfigExport | None
    unchanged_since: ConfigExport | None
    objects: tuple[str, ...]

    @property
    def written(self) -> bool:
        return self.export is not None

    def to_json(self) -> dict[str, Any]:
        return {"written": self.written, "export": self.export.to_json() if self.export else None,
                "unchanged_since": self.unchanged_since.export_id if self.unchanged_since else None,
                "objects": list(self.objects)}


def new_key() -> str:
    """A fresh Fernet key (url-safe base64 of 32 random bytes)."""
    return Fernet.generate_key().decode()


def fernet(key: str) -> Fernet:
    try:
        return Fernet(key.encode())
    except (ValueError, TypeError):
        raise ConfigError(f"{KEY_ENV} is not a valid Fernet key",
                          fix="generate one: python -c 'from cryptography.fernet import Fernet; "
                          "print(Fernet.generate_key().decode())'") from None


def describe(obj: Obj) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def data_digest(obj: Obj, *, key: str) -> str:
    """Keyed digest of what an object holds (type, data, binaryData), never of its bookkeeping."""
    fernet(key)  # a malformed key is named before it is used
    mac_key = hashlib.sha256(_DIGEST_CONTEXT + key.encode()).digest()
    body = {"type": obj.get("type"), "data": obj.get("data") or {}, "binaryData": obj.get("binaryData") or {}}
    return hmac.new(mac_key, json.dumps(body, sort_keys=True).encode(), hashlib.sha256).hexdigest()


def data_digests(objects: Iterable[Obj], *, key: str) -> dict[str, str]:
    return {describe(o): data_digest(o, key=key) for o in objects}


def backup_config(cluster: Cluster, store: BackupStore, *, namespace: str, key: str,
                  secrets: Sequence[str], config_maps: Sequence[str], origin: Origin = PIPELINE) -> ExportOutcome:
    """The "on change" backup: export only when names or data differ from the newest export of `origin`.

    A newest export whose digests were made with another key cannot be compared,
    so it counts as changed (the new export is readable with today's key).
    """
    objects = export_config_objects(cluster, namespace=namespace, secrets=secrets, config_maps=config_maps)
    names = tuple(describe(o) for o in objects)
    newest = newest_export(store, origin=origin)
    if newest is not None and newest.digests == data_digests(objects, key=key):
        return ExportOutcome(None, newest, names)
    return ExportOutcome(_write(store, objects, namespace=namespace, key=key, origin=origin), newest, names)


def _write(store: BackupStore, objects: list[Obj], *, namespace: str, key: str, origin: Origin) -> ConfigExport:
    plaintext = json.dumps({"namespace": namespace, "objects": objects}, sort_keys=True).encode()
    now = datetime.now(UTC)
    export_id = now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}Z-" + pysecrets.token_hex(3)
    store_key = f"{EXPORT_PREFIX}{now:%Y/%m/%d}/{export_id}.json.enc"
    store.put_bytes(store_key, fernet(key).encrypt(plaintext))
    export = ConfigExport(export_id, store_key, now, tuple(describe(o) for o in objects),
                          hashlib.sha256(plaintext).hexdigest(), origin, data_digests(objects, key=key))
    store.put_bytes(meta_key(store_key), json.dumps(export.to_json()).encode())  # last: marks the export complete
    return export


def meta_key(encrypted_key: str) -> str:
    return encrypted_key.removesuffix(".json.enc") + ".meta.json"


def _meta_keys_newest_first(store: BackupStore) -> list[str]:
    return sorted((o.key for o in store.list(EXPORT_PREFIX) if o.key.endswith(".meta.json")),
                  key=lambda k: k.rsplit("/", 1)[-1], reverse=True)


def _read_meta(store: BackupStore, key: str) -> ConfigExport:
    try:
        return ConfigExport.from_json(json.loads(store.get_bytes(key)))
    except (ValueError, KeyError, TypeError):
        raise StoreError(f"configuration export metadata {store.location(key)} is malformed",
                         fix="remove it or restore it from the bucket's previous version") from None


def list_exports(store: BackupStore) -> list[ConfigExport]:
    """Every complete export (its metadata written), oldest first."""
    return [_read_meta(store, k) for k in reversed(_meta_keys_newest_first(store))]


def newest_export(store: BackupStore, *, origin: Origin | None = None) -> ConfigExport | None:
    """The newest complete export of `origin` (any when None), reading metadata only as far as needed."""
    for key in _meta_keys_newest_first(store):
        export = _read_meta(store, key)
        if origin is None or export.origin == origin:
            return export
    return None


def latest_export(store: BackupStore, *, origin: Origin | None = None) -> ConfigExport:
    """The newest export (of `origin`, when given); StoreError when the store holds none."""
    newest = newest_export(store, origin=origin)
    if newest is None:
        which = f"{origin} " if origin else ""
        raise StoreError(f"no {which}configuration export in {store.location(EXPORT_PREFIX)}",
                         fix="run `sentinel-drill backup config` (what the config-backup CronJob runs)")
    return newest


def read_export(store: BackupStore, export: ConfigExport, *, key: str) -> list[Obj]:
    """Decrypt an export and check it against its recorded digest."""
    try:
        plaintext = fernet(key).decrypt(store.get_bytes(export.key))
    except InvalidToken:
        raise CheckFailed(f"configuration export {export.export_id} cannot be decrypted with the configured key",
                          fix=f"set {KEY_ENV} to the key it was exported with") from None
    if hashlib.sha256(plaintext).hexdigest() != export.plaintext_sha256:
        raise CheckFailed(f"configuration export {export.export_id} does not match its recorded digest",
                          fix="the export was altered; use an older one")
    return list(json.loads(plaintext)["objects"])


def restore_export(cluster: Cluster, store: BackupStore, export: ConfigExport, *, namespace: str,
                   key: str, labels: Mapping[str, str] | None = None) -> list[Obj]:
    """Apply an export's Secrets and ConfigMaps into `namespace` (with `labels` added); return the objects applied."""
    objects = read_export(store, export, key=key)
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    import_config_objects(cluster, objects, namespace=namespace, labels=labels)
    return objects


def restored_mismatches(cluster: Cluster, objects: list[Obj], *, namespace: str) -> list[str]:
    """Objects whose data in the cluster differs from what was restored (names only, never values)."""
    wrong = []
    for obj in objects:
        plural = "secrets" if obj["kind"] == "Secret" else "configmaps"
        live = cluster.get(f"/api/v1/namespaces/{namespace}/{plural}/{obj['metadata']['name']}")
        if (live.get("data") or {}) != (obj.get("data") or {}):
            wrong.append(describe(obj))
    return wrong


def live_objects(cluster: Cluster, *, namespace: str, secrets: Sequence[str], config_maps: Sequence[str]) -> list[Obj]:
    """The named objects as the namespace holds them now; a missing one is simply absent (`drift` names it)."""
    found: list[Obj] = []
    for kind, names in (("secrets", secrets), ("config_maps", config_maps)):
        for name in names:
            try:
                found += export_config_objects(cluster, namespace=namespace, **{kind: [name]})
            except ObjectNotFound:
                continue
    return found


def drift(exported: Sequence[Obj], live: Sequence[Obj], *, key: str) -> list[str]:
    """How the live objects differ from an export, by object and data key name; values never appear."""
    ours, theirs = {describe(o): o for o in exported}, {describe(o): o for o in live}
    out: list[str] = []
    for name in sorted(set(ours) | set(theirs)):
        if name not in theirs:
            out.append(f"{name}: in the export, missing from the namespace")
        elif name not in ours:
            out.append(f"{name}: in the namespace, not in the export")
        elif data_digest(ours[name], key=key) != data_digest(theirs[name], key=key):
            a = {**(ours[name].get("data") or {}), **(ours[name].get("binaryData") or {})}
            b = {**(theirs[name].get("data") or {}), **(theirs[name].get("binaryData") or {})}
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            out.append(f"{name}: changed since the export (keys: {', '.join(keys) or 'type'})")
    return out
