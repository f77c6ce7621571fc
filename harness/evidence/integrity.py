"""Tamper evidence for a bundle: SHA256SUMS, the hash chain to the previous bundle, a signature.

`SHA256SUMS` is in `sha256sum` format (`sha256sum -c SHA256SUMS` works inside a
bundle). `previous` holds the sha256 of the previous bundle's SHA256SUMS in the
same format relative to the bundles' parent directory, so editing an old
bundle breaks the next one's link. `attestation.dsse.json` is the signature: a
DSSE envelope over an in-toto Statement of every file's sha256, by the
pipeline's Ed25519 evidence key (attestation.py): asymmetric, so an auditor who
checks it with the public key cannot forge one (the HMAC of the first bundles
could). Bundles signed before it carry `SHA256SUMS.sig`, an Ed25519 signature
over SHA256SUMS, which still verifies.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.digests import sha256_file
from harness.safe_paths import path_under
from harness.signing import sign_bytes

SUMS = "SHA256SUMS"
#: the signature of bundles made before DSSE envelopes: {key_id, ed25519} over SHA256SUMS; still verified
SIGNATURE = "SHA256SUMS.sig"
#: the signature: a DSSE envelope over an in-toto Statement whose subject is every file (attestation.py)
ATTESTATION = "attestation.dsse.json"
#: what run.json's `signature_format` says of a bundle signed with an ATTESTATION
DSSE_FORMAT = "dsse"
#: the HMAC signature of bundles made before Ed25519; listed so old bundles still verify, never trusted
LEGACY_HMAC = "SHA256SUMS.hmac"
PREVIOUS = "previous"
RUN_JSON = "run.json"
#: the pipeline's evidence signing key (PEM); never the verifier's key, never written anywhere
SIGNING_KEY_ENV = "DRILL_EVIDENCE_SIGNING_KEY"
#: the public keys an auditor trusts (base64, comma-separated), when not given as settings or flags
PUBLIC_KEYS_ENV = "DRILL_EVIDENCE_PUBLIC_KEYS"
NO_PREVIOUS = "none (first bundle in this chain)\n"
#: files SHA256SUMS does not list (itself and the signatures over it)
UNLISTED = frozenset({SUMS, SIGNATURE, LEGACY_HMAC, ATTESTATION})

_SUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *](\S(?:.*\S)?)$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._/+\-@]+$")


def bundle_files(bundle: Path) -> list[str]:
    """Every file under `bundle` (relative POSIX paths, sorted) except SHA256SUMS and its signature.

    A symbolic link to a directory is listed too (it is not descended into), so that
    `verify` refuses it like a link to a file instead of never seeing it.
    """
    found: list[str] = []
    for root, dirs, files in os.walk(bundle):
        dirs.sort()
        linked = [name for name in dirs if (Path(root) / name).is_symlink()]
        for name in [*files, *linked]:
            rel = (Path(root) / name).relative_to(bundle).as_posix()
            if rel not in UNLISTED:
                found.append(rel)
    return sorted(found)


def render_sums(bundle: Path) -> str:
    """SHA256SUMS text for the bundle as it is on disk now (UnsafeName for a link or device in it)."""
    return "".join(f"{sha256_file(path_under(bundle, rel, what='bundle file'))}  {rel}\n"
                   for rel in bundle_files(bundle))


def parse_sums(text: str) -> tuple[dict[str, str], list[str]]:
    """({path: sha256}, malformed lines) from SHA256SUMS text."""
    sums: dict[str, str] = {}
    bad: list[str] = []
    for line in text.splitlines():
        match = _SUM_LINE.match(line)
        if match and match.group(2) not in sums:
            sums[match.group(2)] = match.group(1)
        else:
            bad.append(line)
    return sums, bad


def signature_text(sums: bytes, key: Ed25519PrivateKey) -> str:
    """The `SHA256SUMS.sig` file: {key_id, ed25519} over the SHA256SUMS bytes, JSON."""
    return json.dumps(sign_bytes(sums, key), sort_keys=True) + "\n"


def read_signature(text: str) -> Mapping[str, Any] | None:
    """The signature mapping from a `SHA256SUMS.sig` file; None when it is not one."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def trusted_keys_from_env(env: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(k.strip() for k in env.get(PUBLIC_KEYS_ENV, "").split(",") if k.strip())


def format_previous(run_id: str | None, sums_sha256: str | None) -> str:
    """The `previous` file: `<sha256>  <run-id>/SHA256SUMS`, or a line saying there is none."""
    if not run_id or not sums_sha256:
        return NO_PREVIOUS
    return f"{sums_sha256}  {run_id}/{SUMS}\n"


def parse_previous(text: str) -> tuple[str, str] | None:
    """(run_id, sha256) from a `previous` file; None for the first bundle; ValueError if malformed."""
    if text == NO_PREVIOUS:
        return None
    match = re.fullmatch(r"([0-9a-f]{64})  ([^/\s]+)/" + re.escape(SUMS) + r"\n", text)
    if not match:
        raise ValueError("expected '<sha256>  <run-id>/SHA256SUMS' or the first-bundle line")
    return match.group(2), match.group(1)
