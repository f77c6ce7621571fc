"""The manifest round-trips through JSON and rejects what it cannot trust."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from harness.backup.dataset import decode_key, encode_key
from harness.backup.manifest import SCHEMA_VERSION, KeySample, Manifest, SourceInfo
from harness.errors import StoreError


def _manifest(**overrides: object) -> Manifest:
    fields: dict[str, object] = {
        "id": "20261126T061500Z-1a2b3c",
        "point_in_time": datetime(2026, 11, 26, 6, 15, tzinfo=UTC),
        "rdb_ctime": datetime(2026, 11, 26, 6, 14, 59, tzinfo=UTC),
        "source": SourceInfo(host="10.0.0.5", port=6379, role="master", run_id="abc"),
        "redis_version": "7.0.15",
        "rdb_version": 10,
        "size": 1234,
        "sha256": "ab" * 32,
        "key_count": 3,
        "keys_expired_at_backup": 1,
        "keyspace": {0: 2, 3: 1},
        "types": {"string": 2, "hash": 1},
        "samples": (KeySample(key="b64:AP8=", db=0, type="string", digest="cd" * 32, expires_at_ms=1795674000000),),
        "canary_high_water": 41,
        "created_at": datetime(2026, 11, 26, 6, 15, 2, tzinfo=UTC),
        "tool_version": "0.1.0",
    }
    fields.update(overrides)
    return Manifest(**fields)  # type: ignore[arg-type]


def test_manifest_round_trips_through_json():
    m = _manifest()
    assert Manifest.from_json(m.to_json()) == m
    data = json.loads(m.to_json())
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["point_in_time"] == "2026-11-26T06:15:00Z"
    assert data["keyspace"] == {"0": 2, "3": 1}


def test_manifest_is_frozen():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        _manifest().key_count = 5  # type: ignore[misc]


def test_a_newer_schema_is_refused_with_a_fix():
    raw = json.loads(_manifest().to_json())
    raw["schema_version"] = 2
    with pytest.raises(StoreError, match="schema_version 2"):
        Manifest.from_json(json.dumps(raw), where="s3://b/m.json")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("sha256"), "field sha256"),
        (lambda d: d.update(size="big"), "field size"),
        (lambda d: d.update(extra=1), "field extra"),
    ],
)
def test_a_malformed_manifest_names_the_field(mutate, message):
    raw = json.loads(_manifest().to_json())
    mutate(raw)
    with pytest.raises(StoreError, match=message):
        Manifest.from_json(json.dumps(raw))


def test_non_json_is_refused():
    with pytest.raises(StoreError, match="not valid JSON"):
        Manifest.from_json(b"REDIS0010...")
    with pytest.raises(StoreError, match="not a JSON object"):
        Manifest.from_json(b"[1]")


@pytest.mark.parametrize("key", [b"plain:key", "ключ".encode(), b"\x00\xff", b"b64:looks-encoded"])
def test_any_key_survives_json(key):
    text = encode_key(key)
    assert json.loads(json.dumps(text)) == text
    assert decode_key(text) == key
