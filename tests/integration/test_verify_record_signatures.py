"""Restore and the preflight trust a verification record only when a configured verifier key signed it,
and read it from verifications/ only.

Real parts: moto's S3 over HTTP, a real redis-server, real verification. The attacker
holds the backup job's store credentials: they can replace an RDB and write a record
saying it passed, but not sign it with the verifier's key.
"""

from __future__ import annotations

import json

import pytest

from harness.backup import open_store, take_backup, verify_backup
from harness.backup.catalog import find_backup
from harness.backup.layout import rdb_key, stray_verify_key, verify_key
from harness.backup.verify import read_verify_record
from harness.config import Settings
from harness.drills.pipeline import check_pipeline_backup
from harness.errors import RestoreRefused, VerificationFailed
from harness.restore import restore_backup
from harness.signing import VERIFIER_KEY_ENV, generate_keypair

pytestmark = pytest.mark.integration


@pytest.fixture
def verifier(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    pair = generate_keypair()
    monkeypatch.setenv(VERIFIER_KEY_ENV, pair.private_pem)
    return pair


def test_a_signed_record_is_trusted_and_a_forged_one_is_verified_again_and_refused(
        aws_env, bucket, source, redis_factory, data, verifier, monkeypatch):  # type: ignore[no-untyped-def]
    data.seed(source.client(), n=150)
    store = open_store(f"s3://{bucket}/signed")
    backup = take_backup(source.url, store, password=data.source_password)
    assert verify_backup(store, backup.id, min_keys=100).passed
    keys = (verifier.public,)
    record = read_verify_record(store, backup.id, trusted_keys=keys)
    assert record is not None and record.passed and record.trust == f"signed by verifier key {verifier.key_id}"

    # the attacker: a truncated RDB, and a record saying it passed, written with the store credentials only
    monkeypatch.delenv(VERIFIER_KEY_ENV)
    broken = store.get_bytes(rdb_key(backup.id))[:-200]
    store.put_bytes(rdb_key(backup.id), broken)
    forged = json.loads(store.get_bytes(verify_key(backup.id)))
    forged.pop("signature")
    forged.update(sha256=__import__("hashlib").sha256(broken).hexdigest(), version_id=None)
    store.put_bytes(verify_key(backup.id), json.dumps(forged).encode())

    untrusted = read_verify_record(store, backup.id, trusted_keys=keys)
    assert untrusted is not None and not untrusted.passed and untrusted.failed_check == "untrusted record: unsigned"
    assert not read_verify_record(store, backup.id).passed  # without keys configured it is not believed either

    target = redis_factory()
    with pytest.raises(RestoreRefused, match=r"untrusted record: unsigned; verified again: failed at"):
        restore_backup(store, backup.id, target_url=target.url, target_password=target.password, trusted_keys=keys)
    assert target.client().dbsize() == 0
    with pytest.raises(VerificationFailed, match=backup.id):
        check_pipeline_backup(store, Settings(min_keys=100, verifier_public_keys=keys))


def test_a_record_signed_by_another_key_is_not_trusted_but_an_intact_backup_verifies_again(
        aws_env, bucket, source, redis_factory, data, monkeypatch):  # type: ignore[no-untyped-def]
    stranger, verifier = generate_keypair(), generate_keypair()
    monkeypatch.setenv(VERIFIER_KEY_ENV, stranger.private_pem)
    data.seed(source.client(), n=150)
    store = open_store(f"s3://{bucket}/stranger")
    backup = take_backup(source.url, store, password=data.source_password)
    verify_backup(store, backup.id, min_keys=100)
    monkeypatch.delenv(VERIFIER_KEY_ENV)

    record = read_verify_record(store, backup.id, trusted_keys=(verifier.public,))
    assert record is not None and not record.passed and "not a configured verifier key" in record.trust

    target = redis_factory()
    result = restore_backup(store, backup.id, target_url=target.url, target_password=target.password,
                            trusted_keys=(verifier.public,))
    assert result.keys_restored == target.client().dbsize() >= 150
    found = check_pipeline_backup(store, Settings(min_keys=100, verifier_public_keys=(verifier.public,)))
    assert "its record is not trusted: signed by key" in found.verification


def test_a_record_beside_the_backup_is_ignored_even_when_signed_and_the_backup_verified_again(
        aws_env, bucket, source, redis_factory, data, verifier, monkeypatch):  # type: ignore[no-untyped-def]
    data.seed(source.client(), n=150)
    store = open_store(f"s3://{bucket}/old-location")
    backup = take_backup(source.url, store, password=data.source_password)
    assert verify_backup(store, backup.id, min_keys=100).passed
    signed = store.get_bytes(verify_key(backup.id))
    store.client.delete_object(Bucket=store.bucket, Key=f"{store.key_root}{verify_key(backup.id)}")
    store.put_bytes(stray_verify_key(backup.id), signed)  # under redis/, where the backup writer may write

    assert read_verify_record(store, backup.id, trusted_keys=(verifier.public,)) is None
    entry = find_backup(store, backup.id)
    assert not entry.has_verify_record and entry.ignored_record == stray_verify_key(backup.id)

    target = redis_factory()
    with pytest.raises(RestoreRefused, match=rf"has never been verified \(a record beside the backup, "
                                             rf"{stray_verify_key(backup.id)}, is ignored"):
        restore_backup(store, backup.id, target_url=target.url, target_password=target.password,
                       trusted_keys=(verifier.public,))
    assert target.client().dbsize() == 0
    found = check_pipeline_backup(store, Settings(min_keys=100, verifier_public_keys=(verifier.public,)))
    assert f"the one beside the backup, {stray_verify_key(backup.id)}, is ignored" in found.verification
    assert store.exists(verify_key(backup.id))  # the preflight verified it and wrote the record where it belongs


def test_without_a_verifier_key_restore_and_the_preflight_verify_again(
        aws_env, bucket, source, redis_factory, data, monkeypatch):  # type: ignore[no-untyped-def]
    data.seed(source.client(), n=150)
    store = open_store(f"s3://{bucket}/no-key")
    backup = take_backup(source.url, store, password=data.source_password)
    assert verify_backup(store, backup.id, min_keys=100).passed  # an unsigned record, as without any key

    broken = store.get_bytes(rdb_key(backup.id))[:-200]  # the writer swaps the RDB and fixes the record up
    store.put_bytes(rdb_key(backup.id), broken)
    forged = json.loads(store.get_bytes(verify_key(backup.id)))
    forged.update(sha256=__import__("hashlib").sha256(broken).hexdigest(), version_id=None)
    store.put_bytes(verify_key(backup.id), json.dumps(forged).encode())

    target = redis_factory()
    with pytest.raises(RestoreRefused, match=r"no verifier key configured .*; verified again: failed at"):
        restore_backup(store, backup.id, target_url=target.url, target_password=target.password, trusted_keys=())
    assert target.client().dbsize() == 0
    with pytest.raises(VerificationFailed, match=backup.id):
        check_pipeline_backup(store, Settings(min_keys=100))


def test_a_drill_verifying_again_without_the_key_keeps_the_signed_record(
        aws_env, bucket, source, data, verifier, monkeypatch):  # type: ignore[no-untyped-def]
    data.seed(source.client(), n=150)
    store = open_store(f"s3://{bucket}/kept")
    backup = take_backup(source.url, store, password=data.source_password)
    verify_backup(store, backup.id, min_keys=100)  # the verification job, with the verifier's key
    monkeypatch.delenv(VERIFIER_KEY_ENV)
    assert verify_backup(store, backup.id, min_keys=100).passed  # a drill, without it
    record = read_verify_record(store, backup.id, trusted_keys=(verifier.public,))
    assert record is not None and record.passed and record.trust == f"signed by verifier key {verifier.key_id}"
