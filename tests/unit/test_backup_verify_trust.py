"""A verification record is believed only when a configured verifier key signed it, and only from verifications/.

The attacker holds the backup writer's credentials: they may write anything under
`redis/` (an RDB, a record beside it) but not under `verifications/`, and they do
not hold the verifier's private key. A file store and a damaged RDB stand in for the
bucket: the verification run again fails at its first level, with no Redis needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.backup import layout
from harness.backup.catalog import find_backup
from harness.backup.store import FileStore
from harness.backup.verify import read_verify_record, trusted_verification
from harness.signing import generate_keypair, load_private_key, sign_record

BACKUP = "20261126T061500Z-1a2b3c"
VERIFIER = generate_keypair()


def _record(*, passed: bool = True) -> dict[str, object]:
    return {"backup_id": BACKUP, "passed": passed, "failed_check": None, "sha256": "0" * 64,
            "verified_at": "2026-11-26T06:20:00+00:00"}


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    """A backup that does not verify (not an RDB) and the pipeline's manifest-less upload of it."""
    store = FileStore(tmp_path)
    store.put_bytes(layout.rdb_key(BACKUP), b"not an rdb at all")
    return store


def test_without_a_verifier_key_a_planted_passed_record_is_not_believed(store: FileStore) -> None:
    store.put_bytes(layout.verify_key(BACKUP), json.dumps(_record()).encode())

    verification = trusted_verification(store, BACKUP, trusted_keys=())
    assert not verification.passed and verification.again is not None  # verified again: the RDB fails
    assert verification.no_verifier_key
    record = read_verify_record(store, BACKUP)
    assert record is not None and not record.passed and record.says_passed
    assert "no verifier key" in record.trust
    assert "verified again: failed at header" in verification.why_not()


def test_a_record_beside_the_backup_is_ignored_even_when_signed(store: FileStore) -> None:
    signed = sign_record(_record(), load_private_key(VERIFIER.private_pem))
    beside = layout.rdb_key(BACKUP).removesuffix(".rdb") + ".verify.json"  # under redis/: the writer can put it there
    store.put_bytes(beside, json.dumps(signed).encode())

    assert read_verify_record(store, BACKUP, trusted_keys=(VERIFIER.public,)) is None
    entry = find_backup(store, BACKUP)
    assert not entry.has_verify_record and entry.ignored_record == beside
    verification = trusted_verification(store, BACKUP, trusted_keys=(VERIFIER.public,))
    assert verification.record is None and not verification.passed and verification.ignored_record == beside


def test_a_record_signed_by_the_configured_key_is_trusted_without_verifying_again(store: FileStore) -> None:
    signed = sign_record(_record(), load_private_key(VERIFIER.private_pem))
    store.put_bytes(layout.verify_key(BACKUP), json.dumps(signed).encode())

    verification = trusted_verification(store, BACKUP, trusted_keys=(VERIFIER.public,))
    assert verification.passed and verification.again is None and not verification.no_verifier_key


def test_backups_lists_an_untrusted_record_and_an_ignored_one_as_such(  # type: ignore[no-untyped-def]
        tmp_path: Path, cli, clean_env) -> None:
    store = FileStore(tmp_path)
    other = "20261126T071500Z-2b3c4d"
    for backup_id in (BACKUP, other):
        store.put_bytes(layout.rdb_key(backup_id), b"REDIS0010")
    store.put_bytes(layout.verify_key(BACKUP), json.dumps(_record()).encode())
    store.put_bytes(layout.stray_verify_key(other), json.dumps({**_record(), "backup_id": other}).encode())

    code, out, _ = cli("backups", "--store", f"file://{tmp_path}", "--json")

    rows = {row["id"]: row for row in json.loads(out)}
    assert code == 0
    assert rows[BACKUP]["verified"] == "passed, not trusted (verified again before use)"
    assert "no verifier key configured" in rows[BACKUP]["record_trust"]
    assert rows[other]["verified"] == "unverified (record beside the backup ignored)"
    assert rows[other]["ignored_record"] == layout.stray_verify_key(other)
