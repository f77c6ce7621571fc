"""The configuration export in the store is ciphertext; a wrong key or an altered export is named."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from harness.backup.config_export import ConfigExport, latest_export, new_key, read_export
from harness.backup.store import FileStore
from harness.errors import CheckFailed, ConfigError, StoreError

OBJECTS = [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sentinel-redis"},
            "data": {"password": "czNjcjN0"}}]


def _stored(tmp_path: Path, key: str) -> tuple[FileStore, ConfigExport]:
    store = FileStore(tmp_path)
    plaintext = json.dumps({"namespace": "sentinel", "objects": OBJECTS}, sort_keys=True).encode()
    export = ConfigExport("e1", "config/2026/11/26/e1.json.enc", datetime.now(UTC), ("Secret/sentinel-redis",),
                          hashlib.sha256(plaintext).hexdigest())
    store.put_bytes(export.key, Fernet(key.encode()).encrypt(plaintext))
    store.put_bytes("config/2026/11/26/e1.meta.json", json.dumps(export.to_json()).encode())
    return store, export


def test_round_trip_and_the_store_holds_no_plaintext(tmp_path: Path):
    key = new_key()
    store, export = _stored(tmp_path, key)
    assert read_export(store, latest_export(store), key=key) == OBJECTS
    assert b"czNjcjN0" not in (tmp_path / export.key).read_bytes()


def test_a_wrong_key_is_named(tmp_path: Path):
    store, export = _stored(tmp_path, new_key())
    with pytest.raises(CheckFailed, match="cannot be decrypted"):
        read_export(store, export, key=new_key())


def test_an_invalid_key_is_a_config_error(tmp_path: Path):
    store, export = _stored(tmp_path, new_key())
    with pytest.raises(ConfigError, match="DRILL_CONFIG_KEY"):
        read_export(store, export, key="not-a-key")


def test_an_empty_store_has_no_export(tmp_path: Path):
    with pytest.raises(StoreError, match="no configuration export"):
        latest_export(FileStore(tmp_path))
