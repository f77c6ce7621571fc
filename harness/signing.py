"""Ed25519 signatures for the records others must be able to trust offline (verification records).

Asymmetric on purpose: whoever checks a signature holds only the public key and
cannot forge one. The verifier's private key is given to the verification job
alone, never to the backup job (which holds the store credentials an attacker of
scenario 4 is assumed to have). A record is signed over its canonical JSON
without the `signature` field; the signature names the key by a short id.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.errors import ConfigError

#: the verification job's private key (PEM text; from a Secret only that job mounts)
VERIFIER_KEY_ENV = "DRILL_VERIFIER_KEY"
SIGNATURE_FIELD = "signature"


def public_key_text(key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key, base64: what goes into configuration."""
    return base64.b64encode(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def key_id(public_text: str) -> str:
    """A short, stable name for a public key (first 16 hex digits of its SHA-256)."""
    return hashlib.sha256(public_text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class KeyPair:
    private_pem: str
    public: str

    @property
    def key_id(self) -> str:
        return key_id(self.public)


def generate_keypair() -> KeyPair:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return KeyPair(pem, public_key_text(private.public_key()))


def load_private_key(pem: str, *, env_name: str = VERIFIER_KEY_ENV) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"{env_name} is not a PEM private key",
                          fix="use the .key file `sentinel-drill keys generate` wrote") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{env_name} is not an Ed25519 key", fix="generate one with `sentinel-drill keys generate`")
    return key


def signer_from_env(env: Mapping[str, str] | None = None, *,
                    env_name: str = VERIFIER_KEY_ENV) -> Ed25519PrivateKey | None:
    """The private key in `env_name` when this process is the one that signs (None elsewhere)."""
    pem = (os.environ if env is None else env).get(env_name, "")
    return load_private_key(pem, env_name=env_name) if pem.strip() else None


def load_public_key(text: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError):
        raise ConfigError(f"public key {text[:12]}… is not a base64 Ed25519 key",
                          fix="copy the .pub file `sentinel-drill keys generate` wrote") from None


def _canonical(record: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in record.items() if k != SIGNATURE_FIELD}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign_record(record: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """`record` with a `signature` field: the key's id and the Ed25519 signature of the rest."""
    return {**record, SIGNATURE_FIELD: sign_bytes(_canonical(record), key)}


def sign_bytes(data: bytes, key: Ed25519PrivateKey) -> dict[str, str]:
    """{key_id, ed25519}: a detached signature of `data` naming its key."""
    return {"key_id": key_id(public_key_text(key.public_key())),
            "ed25519": base64.b64encode(key.sign(data)).decode()}


def signature_trust(data: bytes, signature: object, trusted: Iterable[str], *,
                    role: str = "verifier", what: str = "the record") -> tuple[bool, str]:
    """(trusted?, why): `signature` ({key_id, ed25519}) is valid over `data` by one of the `trusted` keys."""
    if not isinstance(signature, Mapping) or not signature.get("ed25519"):
        return False, "unsigned"
    keys = {key_id(k): k for k in trusted}
    public = keys.get(str(signature.get("key_id")))
    if public is None:
        return False, f"signed by key {signature.get('key_id')}, which is not a configured {role} key"
    try:
        load_public_key(public).verify(base64.b64decode(str(signature["ed25519"])), data)
    except (InvalidSignature, ValueError):
        return False, f"the signature by key {signature.get('key_id')} does not match {what}"
    return True, f"signed by {role} key {signature.get('key_id')}"


def record_trust(record: Mapping[str, Any], trusted: Iterable[str]) -> tuple[bool, str]:
    """(trusted?, why): a valid signature by one of the `trusted` public keys (base64)."""
    return signature_trust(_canonical(record), record.get(SIGNATURE_FIELD), trusted)


def write_keypair(directory: Path, name: str) -> KeyPair:
    """`<name>.key` (0600, PEM) and `<name>.pub` (base64) in `directory`; refuses to overwrite."""
    directory.mkdir(parents=True, exist_ok=True)
    private, public = directory / f"{name}.key", directory / f"{name}.pub"
    for path in (private, public):
        if path.exists():
            raise ConfigError(f"{path} exists", fix="choose another --name or directory; keys are never overwritten")
    pair = generate_keypair()
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(pair.private_pem)
    public.write_text(pair.public + "\n")
    return pair
