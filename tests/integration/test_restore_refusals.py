"""Restore protects data: unverified backups and non-empty targets are refused unless overridden."""

from __future__ import annotations

import json
import logging

import pytest

from harness.backup import layout, list_backups, open_store, read_manifest, take_backup, verify_backup
from harness.errors import DrillError, RestoreRefused, UsageError
from harness.redis_process import MARKER_NAME, pid_alive
from harness.restore import restore_backup
from harness.restore.plane import PausedWrites
from harness.restore.process_plane import LocalProcessPlane
from harness.signing import VERIFIER_KEY_ENV, generate_keypair

pytestmark = pytest.mark.integration


@pytest.fixture
def verifier(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The verifier's key pair: its records are trusted (without one configured, none is)."""
    pair = generate_keypair()
    monkeypatch.setenv(VERIFIER_KEY_ENV, pair.private_pem)
    return pair


@pytest.fixture
def backup(file_store_url, source, data):
    data.seed(source.client(), n=2)
    store = open_store(file_store_url)
    return store, take_backup(source.url, store, password=data.source_password).id


def test_restore_refuses_an_unverified_backup(backup, cli, clean_env, file_store_url, redis_factory, data):
    _, backup_id = backup
    target = redis_factory()
    clean_env.setenv("DRILL_TARGET_REDIS_PASSWORD", data.target_password)
    code, out, err = cli("restore", backup_id, "--to", target.url, "--store", file_store_url)
    assert code == 1 and out == ""
    assert "has never been verified" in err and f"sentinel-drill verify {backup_id}" in err
    assert target.client().dbsize() == 0


def test_force_overrides_an_unverified_backup_and_says_so(backup, redis_factory, data, caplog):
    store, backup_id = backup
    target = redis_factory()
    with caplog.at_level(logging.WARNING, logger="harness.restore"):
        result = restore_backup(store, backup_id, target_url=target.url, target_password=data.target_password,
                                force=True)
    assert result.forced and "never been verified" in (result.force_reason or "")
    assert result.to_json()["forced"] is True
    assert any("forced" in r.getMessage() for r in caplog.records)
    assert target.client().dbsize() == result.keys_restored > 0


def test_restore_refuses_a_backup_that_failed_verification(backup, redis_factory, data, verifier):
    store, backup_id = backup
    assert not verify_backup(store, backup_id, min_keys=10**6).passed
    target = redis_factory()
    with pytest.raises(RestoreRefused, match=r"failed verification \(key_count\)"):
        restore_backup(store, backup_id, target_url=target.url, target_password=data.target_password,
                       trusted_keys=(verifier.public,))


def test_restore_refuses_a_file_changed_after_verification(backup, redis_factory, data, verifier):
    store, backup_id = backup
    assert verify_backup(store, backup_id, min_keys=1).passed
    raw = store.get_bytes(layout.rdb_key(backup_id))
    middle = len(raw) // 2
    store.put_bytes(layout.rdb_key(backup_id), raw[:middle] + bytes([raw[middle] ^ 1]) + raw[middle + 1 :])
    target = redis_factory()
    with pytest.raises(RestoreRefused, match="changed since it was verified"):
        restore_backup(store, backup_id, target_url=target.url, target_password=data.target_password, force=True,
                       trusted_keys=(verifier.public,))
    assert target.client().dbsize() == 0


@pytest.mark.parametrize("strategy", ["network", "file"])
def test_non_empty_target_is_refused_then_snapshotted_with_replace(backup, cli, clean_env, file_store_url,
                                                                   redis_factory, data, strategy):
    store, backup_id = backup
    verify_backup(store, backup_id, min_keys=1)
    target = redis_factory()
    target.client().mset({"precious:1": "a", "precious:2": "b"})
    clean_env.setenv("DRILL_TARGET_REDIS_PASSWORD", data.target_password)
    args = ["restore", backup_id, "--to", target.url, "--store", file_store_url, "--strategy", strategy, "--json"]

    code, out, err = cli(*args)
    assert code == 1 and "is not empty (2 keys)" in err and "--replace" in err
    assert target.client().dbsize() == 2

    code, out, err = cli(*args, "--replace")
    assert code == 0, err
    result = json.loads(out)
    snapshots = store.child(layout.SNAPSHOTS_PREFIX)
    [snap] = list_backups(snapshots)
    assert result["snapshot"] == snapshots.location(snap.rdb_key)
    assert read_manifest(snapshots, snap.id).key_count == 2
    assert target.client().exists("precious:1") == 0  # --replace is exact for both strategies


def test_file_strategy_from_the_cli_restarts_the_managed_server(backup, cli, clean_env, file_store_url,
                                                                redis_factory, data):
    store, backup_id = backup
    verify_backup(store, backup_id, min_keys=1)
    target = redis_factory()
    old_pid = target.pid
    clean_env.setenv("DRILL_TARGET_REDIS_PASSWORD", data.target_password)
    code, _, err = cli("restore", backup_id, "--to", target.url, "--store", file_store_url, "--strategy", "file")
    assert code == 0, err
    marker = json.loads((target.data_dir / MARKER_NAME).read_text())
    assert marker["pid"] != old_pid and pid_alive(marker["pid"])
    assert target.client().dbsize() > 0
    target.stop()  # the owner's stop also stops the successor the restore started
    assert not pid_alive(marker["pid"])


def test_file_strategy_refuses_a_server_the_harness_did_not_start(backup, cli, clean_env, file_store_url,
                                                                  redis_factory, data):
    store, backup_id = backup
    verify_backup(store, backup_id, min_keys=1)
    target = redis_factory()
    (target.data_dir / MARKER_NAME).unlink()
    clean_env.setenv("DRILL_TARGET_REDIS_PASSWORD", data.target_password)
    code, _, err = cli("restore", backup_id, "--to", target.url, "--store", file_store_url, "--strategy", "file")
    assert code == 2 and "not started by sentinel-drill" in err and "--strategy network" in err
    assert target.proc is not None and target.proc.poll() is None


def test_file_strategy_refuses_an_aof_server(backup, redis_factory, data):
    store, backup_id = backup
    verify_backup(store, backup_id, min_keys=1)
    target = redis_factory(appendonly=True)
    with pytest.raises(RestoreRefused, match="appendonly yes"):
        restore_backup(store, backup_id, target_url=target.url, target_password=data.target_password,
                       strategy="file", managed=target)


#: passes redis-check-rdb (it does not build a keyspace) but redis-server refuses it; CRC 0 = unchecked
DUPLICATED_KEY_RDB = b"REDIS0010\xfe\x00" + b"\x00\x01a\x01x" + b"\x00\x01a\x01y" + b"\xff" + b"\x00" * 8


def test_a_file_that_will_not_load_puts_the_snapshot_back_not_the_stale_disk_file(tmp_path, redis_factory, data,
                                                                                 file_store_url):
    """The local-process plane, driven as the gate drives it: snapshot, write (the server refuses the file),
    put back. The snapshot holds what was only in memory; the disk file was stale."""
    target = redis_factory()
    target.client().set("on-disk", "1")
    target.client().save()
    target.client().set("only-in-memory", "1")  # no save points: stopping the server loses this
    plane = LocalProcessPlane(target, target.url, data.target_password, snapshot_store=open_store(file_store_url),
                              load_timeout=10)
    snapshot = plane.snapshot(tmp_path)
    bad = tmp_path / "bad.rdb"
    bad.write_bytes(DUPLICATED_KEY_RDB)
    with pytest.raises(DrillError, match="duplicated key 'a'"):
        plane.write(bad, replace=True, hold=PausedWrites(target.client(), "t"))
    assert "put back" in plane.put_back(snapshot)
    assert target.client().get("only-in-memory") == b"1" and target.client().get("on-disk") == b"1"


def test_a_backup_that_does_not_load_is_refused_even_when_forced(tmp_path, file_store_url, redis_factory, data):
    store = open_store(file_store_url)
    store.put_bytes("redis/20241214-1200.rdb", DUPLICATED_KEY_RDB)
    report = verify_backup(store, "20241214-1200", min_keys=0)
    assert report.failed_check is not None and report.failed_check.name == "load"
    assert "duplicated key 'a'" in report.failed_check.reason
    for strategy in ("network", "file"):
        target = redis_factory()
        target.client().set("kept", "1")
        with pytest.raises(RestoreRefused, match="does not load into redis-server"):
            restore_backup(store, "20241214-1200", target_url=target.url, target_password=data.target_password,
                           strategy=strategy, managed=target, replace=True, force=True)
        assert target.client().get("kept") == b"1" and target.proc is not None and target.proc.poll() is None


def test_unknown_strategy_is_a_usage_error(backup, redis_factory, data):
    store, backup_id = backup
    with pytest.raises(UsageError):
        restore_backup(store, backup_id, target_url=redis_factory().url, target_password=data.target_password,
                       strategy="carrier-pigeon")  # type: ignore[arg-type]
