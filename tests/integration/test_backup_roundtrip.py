"""Backup → verify → restore (network and file) gives back every key, type, value and TTL."""

from __future__ import annotations

import json

import pytest
import redis

from harness.backup import latest_backup, list_backups, open_store, read_manifest, take_backup, verify_backup
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
