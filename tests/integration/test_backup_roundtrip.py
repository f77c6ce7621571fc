"""Backup → verify → restore (network and file) gives back every key, type, value and TTL."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
import redis

from harness.backup import (
    latest_backup,
    layout,
    list_backups,
    open_store,
    read_manifest,
    take_backup,
    verify_backup,
)
from harness.restore import restore_backup

pytestmark = pytest.mark.integration


def test_round_trip_restores_every_key_type_value_and_ttl(store_url, source, redis_factory, data):
    data.seed(source.client())
    expected = data.dataset(source.client())
    store = open_store(store_url)

    result = take_backup(source.url, store, password=data.source_password)
    report = verify_backup(store, result.id, min_keys=10)
    assert report.passed, [c for c in report.checks if not c.passed]
    assert [c.name for c in report.checks] == [
        "header", "checksum", "rdb_check", "load", "key_count", "sample_digests", "canary",
    ]

    network_target = redis_factory()
    net = restore_backup(store, result.id, target_url=network_target.url,
                         target_password=data.target_password, strategy="network")
    assert net.keys_restored == len(expected) and not net.forced and net.snapshot is None
    data.assert_same(expected, data.dataset(network_target.client()))

    file_target = redis_factory()
    fil = restore_backup(store, result.id, target_url=file_target.url, target_password=data.target_password,
                         strategy="file", managed=file_target)
    assert fil.keys_restored == len(expected)
    data.assert_same(expected, data.dataset(file_target.client()))


def test_manifest_describes_the_file(file_store_url, source, data):
    data.seed(source.client(), n=5)
    store = open_store(file_store_url)
    result = take_backup(source.url, store, password=data.source_password)
    manifest = read_manifest(store, result.id)
    assert manifest == result.manifest
    assert manifest.key_count == source.client().dbsize()
    assert manifest.types == {"hash": 6, "list": 5, "set": 5, "stream": 5, "string": 12, "zset": 5}
    assert manifest.rdb_version == 10 and manifest.redis_version.startswith("7.")
    assert manifest.source.port == source.port and manifest.source.role == "master"
    assert len(manifest.samples) == min(64, manifest.key_count)
    assert result.id.startswith(manifest.point_in_time.strftime("%Y%m%dT%H%M%SZ"))
    assert data.source_password not in manifest.to_json().decode()


@pytest.mark.parametrize("diskless", ["yes", "no"])
def test_a_backup_forks_the_source_once_and_hashes_what_it_fetched(file_store_url, source, data, tmp_path, diskless):
    """The SYNC's save is the backup's BGSAVE: one fork on the source, and the stored file is what was hashed.

    Diskless (the source streams at once: delay 0) writes nothing to the source's disk and does not count as a
    save there, so the point in time is the file's ctime; on disk it is that save's LASTSAVE."""
    data.seed(source.client(), n=5)
    client = source.client()
    client.config_set("repl-diskless-sync", diskless)
    store = open_store(file_store_url)
    forks, saves = int(client.info("stats")["total_forks"]), int(client.info("persistence")["rdb_saves"])
    before = int(time.time())
    result = take_backup(source.url, store, password=data.source_password)
    assert before <= result.manifest.point_in_time.timestamp() <= time.time()
    assert int(client.info("stats")["total_forks"]) == forks + 1
    if diskless == "yes":
        assert int(client.info("persistence")["rdb_saves"]) == saves
        assert result.manifest.point_in_time == result.manifest.rdb_ctime
    else:
        assert int(client.info("persistence")["rdb_saves"]) == saves + 1
        assert result.manifest.point_in_time.timestamp() == client.lastsave().timestamp()
    assert set(result.phases) == {"save", "fetch", "describe", "upload"}
    data_file = tmp_path / "stored.rdb"
    store.get_file(layout.rdb_key(result.id), data_file)
    assert hashlib.sha256(data_file.read_bytes()).hexdigest() == result.manifest.sha256
    assert data_file.stat().st_size == result.manifest.size
    assert verify_backup(store, result.id, min_keys=1).passed


def test_samples_are_the_same_for_the_same_data_and_span_every_database(file_store_url, source, data):
    client = source.client()
    for db in (0, 3):
        c = redis.Redis(port=source.port, password=data.source_password, db=db)
        c.mset({f"db{db}:k{i}": i for i in range(100)})
        c.sadd(f"db{db}:set", "a")
    store = open_store(file_store_url)
    first = take_backup(source.url, store, password=data.source_password).manifest
    second = take_backup(source.url, store, password=data.source_password).manifest
    assert [(s.db, s.key) for s in first.samples] == [(s.db, s.key) for s in second.samples]
    assert len(first.samples) == 64 and {s.db for s in first.samples} == {0, 3}
    assert first.types == {"set": 2, "string": 200} and first.keyspace == {0: 101, 3: 101}
    assert all(s.type == ("set" if s.key.endswith(":set") else "string") for s in first.samples)
    assert client.dbsize() == 101


def test_latest_is_the_newest_point_in_time_not_a_mutable_object(file_store_url, source, data):
    store = open_store(file_store_url)
    source.client().set("k", "1")
    first = take_backup(source.url, store, password=data.source_password)
    source.client().set("k", "2")
    second = take_backup(source.url, store, password=data.source_password)
    assert [e.id for e in list_backups(store)][-1] in (first.id, second.id)
    assert latest_backup(store).id == second.id
    assert not any(o.key.endswith("latest.rdb") for o in store.list(""))


def test_multiple_databases_restore_into_their_own_numbers(file_store_url, source, redis_factory, data):
    source.client().set("zero", "0")
    db3 = redis.Redis(host="127.0.0.1", port=source.port, password=data.source_password, db=3)
    db3.set("three", "3")
    store = open_store(file_store_url)
    result = take_backup(source.url, store, password=data.source_password)
    assert result.manifest.keyspace == {0: 1, 3: 1}
    assert verify_backup(store, result.id, min_keys=1).passed
    target = redis_factory()
    restore_backup(store, result.id, target_url=target.url, target_password=data.target_password)
    t3 = redis.Redis(host="127.0.0.1", port=target.port, password=data.target_password, db=3)
    assert target.client().get("zero") == b"0" and t3.get("three") == b"3"


def test_cli_round_trip_prints_the_id_last(cli, clean_env, file_store_url, source, redis_factory, data):
    clean_env.setenv("REDIS_PASSWORD", data.source_password)
    clean_env.setenv("DRILL_STORE_URL", file_store_url)
    data.seed(source.client(), n=3)
    code, out, err = cli("backup", "--redis-url", source.url)
    assert code == 0, err
    backup_id = out.strip().splitlines()[-1]

    code, out, err = cli("backups", "--json")
    assert code == 0 and [r["id"] for r in json.loads(out)] == [backup_id]

    code, out, err = cli("verify", "--latest", "--min-keys", "5")
    assert code == 0, out + err
    assert "PASSED" in out

    target = redis_factory()
    clean_env.setenv("DRILL_TARGET_REDIS_PASSWORD", data.target_password)
    code, out, err = cli("restore", backup_id, "--to", target.url, "--json")
    assert code == 0, err
    assert json.loads(out)["keys_restored"] == source.client().dbsize()
