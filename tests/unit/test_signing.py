"""Ed25519 record signatures: only a configured verifier key makes a record trusted, and every forgery is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.signing import generate_keypair, load_private_key, record_trust, sign_record, write_keypair

RECORD = {"backup_id": "20261129T050000Z-abcdef", "passed": True, "sha256": "ab" * 32}


def test_a_signed_record_is_trusted_by_its_public_key_only():
    verifier, stranger = generate_keypair(), generate_keypair()
    signed = sign_record(RECORD, load_private_key(verifier.private_pem))

    assert record_trust(signed, [verifier.public]) == (True, f"signed by verifier key {verifier.key_id}")
    trusted, why = record_trust(signed, [stranger.public])
    assert not trusted and "not a configured verifier key" in why


def test_an_unsigned_an_edited_and_a_strangers_record_are_each_named():
    verifier, stranger = generate_keypair(), generate_keypair()
    assert record_trust(RECORD, [verifier.public]) == (False, "unsigned")
    edited = {**sign_record(RECORD, load_private_key(verifier.private_pem)), "passed": False}
    assert record_trust(edited, [verifier.public])[1].endswith("does not match the record")
    forged = sign_record(RECORD, load_private_key(stranger.private_pem))
    forged["signature"]["key_id"] = verifier.key_id  # claims the verifier's key id
    assert record_trust(forged, [verifier.public])[1].endswith("does not match the record")


def test_keys_generate_writes_a_private_file_only_its_owner_reads_and_never_overwrites(tmp_path: Path):
    pair = write_keypair(tmp_path, "verifier")
    assert (tmp_path / "verifier.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "verifier.pub").read_text().strip() == pair.public
    with pytest.raises(ConfigError, match="exists"):
        write_keypair(tmp_path, "verifier")
    with pytest.raises(ConfigError, match="not a PEM private key"):
        load_private_key("not a key")
