"""Damaged backups: `verify` exits 1 naming the failed check; `restore` refuses them and leaves the target alone."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from harness.backup import layout, open_store, read_manifest, take_backup
from harness.backup.store import BackupStore

pytestmark = pytest.mark.integration

Damage = Callable[[BackupStore, str], str]  # (store, good id) -> id to verify


def _rdb(store: BackupStore, backup_id: str) -> bytes:
    return store.get_bytes(layout.rdb_key(backup_id))


def _put_rdb(store: BackupStore, backup_id: str, raw: bytes, *, fix_manifest: bool = False) -> str:
    store.put_bytes(layout.rdb_key(backup_id), raw)
    if fix_manifest:  # a manifest that agrees with the damaged file: only deeper levels can tell
        import hashlib

        m = read_manifest(store, backup_id)
        fixed = m.model_copy(update={"size": len(raw), "sha256": hashlib.sha256(raw).hexdigest()})
        store.put_bytes(layout.manifest_key(backup_id), fixed.to_json())
    return backup_id


def _flip(raw: bytes, at: int) -> bytes:
    return raw[:at] + bytes([raw[at] ^ 0xFF]) + raw[at + 1 :]


def _edit_manifest(store: BackupStore, backup_id: str, **update: object) -> str:
    m = read_manifest(store, backup_id)
    store.put_bytes(layout.manifest_key(backup_id), m.model_copy(update=update).to_json())
    return backup_id


def _as_legacy(store: BackupStore, raw: bytes) -> str:
    store.put_bytes("redis/20241214-1200.rdb", raw)
    return "20241214-1200"


CASES: dict[str, tuple[Damage, str]] = {
    "truncated": (lambda s, i: _put_rdb(s, i, _rdb(s, i)[: len(_rdb(s, i)) // 2]), "checksum"),
    "truncated, manifest agrees": (
        lambda s, i: _put_rdb(s, i, _rdb(s, i)[: len(_rdb(s, i)) // 2], fix_manifest=True), "rdb_check"),
    "truncated legacy": (lambda s, i: _as_legacy(s, _rdb(s, i)[:-40]), "rdb_check"),
    "one flipped byte": (lambda s, i: _put_rdb(s, i, _flip(_rdb(s, i), len(_rdb(s, i)) // 2)), "checksum"),
    "one flipped byte, manifest agrees": (
        lambda s, i: _put_rdb(s, i, _flip(_rdb(s, i), len(_rdb(s, i)) // 2), fix_manifest=True), "rdb_check"),
    "manifest sha256 mismatch": (lambda s, i: _edit_manifest(s, i, sha256="0" * 64), "checksum"),
    "missing manifest with a non-RDB file": (lambda s, i: _as_legacy(s, b"<html>not a backup</html>\n"), "header"),
    "missing manifest (new layout)": (lambda s, i: _delete_manifest(s, i), "checksum"),
    "duplicated key (passes redis-check-rdb)": (
        lambda s, i: _as_legacy(s, b"REDIS0010\xfe\x00\x00\x01a\x01x\x00\x01a\x01y\xff" + b"\x00" * 8), "load"),
    "empty file": (lambda s, i: _put_rdb(s, i, b""), "header"),
    "foreign header": (lambda s, i: _put_rdb(s, i, b"\x1f\x8b\x08\x00gzip" + _rdb(s, i)[9:]), "header"),
    "sample digest mismatch": (lambda s, i: _bad_sample(s, i), "sample_digests"),
    "canary missing": (lambda s, i: _edit_manifest(s, i, canary_high_water=10**6), "canary"),
    "fewer keys than the manifest": (lambda s, i: _edit_manifest(s, i, key_count=999), "key_count"),
}

#: the RDB itself is sound here (only the manifest is missing or edited), so --force may restore it
FORCE_WOULD_RESTORE = {
    "missing manifest (new layout)", "sample digest mismatch", "canary missing", "fewer keys than the manifest",
}


def _bad_sample(store: BackupStore, backup_id: str) -> str:
    samples = read_manifest(store, backup_id).samples
    wrong = samples[0].model_copy(update={"digest": "f" * 64})
    return _edit_manifest(store, backup_id, samples=(wrong, *samples[1:]))


def _delete_manifest(store: BackupStore, backup_id: str) -> str:
    from pathlib import Path

    root = Path(store.url.removeprefix("file://"))
    (root / layout.manifest_key(backup_id)).unlink()
    return backup_id


@pytest.mark.parametrize("case", list(CASES))
def test_verify_rejects_and_restore_refuses_a_damaged_backup(
    case, cli, clean_env, file_store_url, source, redis_factory, data
):
    damage, failing_check = CASES[case]
    data.seed(source.client(), n=3)
    source.client().set("drill:canary:last", 7)
    source.client().set("drill:canary:000000000007", "{}")
    store = open_store(file_store_url)
    good = take_backup(source.url, store, password=data.source_password)
    backup_id = damage(store, good.id)

    code, out, err = cli("verify", backup_id, "--store", file_store_url, "--min-keys", "1", "--json")
    report = json.loads(out)
    assert code == 1, (out, err)
    assert report["failed_check"] == failing_check, report["checks"]
    statuses = [c["status"] for c in report["checks"]]
    assert statuses[statuses.index("failed") + 1 :] == ["not run"] * (len(statuses) - statuses.index("failed") - 1)
    assert err.count("\n") == 1 and f"at {failing_check}" in err and "Traceback" not in err

    target = redis_factory()
    target.client().set("untouched", "yes")
    before = data.dataset(target.client())
    clean_env.setenv("DRILL_TARGET_REDIS_PASSWORD", data.target_password)
    attempts = [[], ["--replace"]]
    if case not in FORCE_WOULD_RESTORE:  # the file itself is bad: refused even when forced
        attempts += [["--replace", "--force"], ["--replace", "--force", "--strategy", "file"]]
    for extra in attempts:
        code, out, err = cli("restore", backup_id, "--to", target.url, "--store", file_store_url, *extra)
        assert code == 1, (extra, out, err)
        assert "Traceback" not in err
    assert data.dataset(target.client()) == before
    assert target.proc is not None and target.proc.poll() is None


def test_human_report_names_each_level(cli, file_store_url, source, data):
    source.client().set("a", "1")
    store = open_store(file_store_url)
    good = take_backup(source.url, store, password=data.source_password)
    _put_rdb(store, good.id, b"")
    code, out, _ = cli("verify", good.id, "--store", file_store_url, "--min-keys", "0")
    assert code == 1
    lines = out.splitlines()
    assert lines[1].split()[:2] == ["FAIL", "header"] and "empty" in lines[1]
    assert all(line.split()[0] == "--" for line in lines[2:-1])
    assert lines[-1] == "FAILED at header"
