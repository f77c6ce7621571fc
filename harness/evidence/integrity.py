"""Tamper evidence for a bundle: SHA256SUMS, the hash chain to the previous bundle, an HMAC.

`SHA256SUMS` is in `sha256sum` format (`sha256sum -c SHA256SUMS` works inside a
bundle). `previous` holds the sha256 of the previous bundle's SHA256SUMS in the
same format relative to the bundles' parent directory, so editing an old
bundle breaks the next one's link. The optional `SHA256SUMS.hmac` is an
HMAC-SHA256 over SHA256SUMS with a key only the pipeline holds.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path

from harness.digests import sha256_file

SUMS = "SHA256SUMS"
SIGNATURE = "SHA256SUMS.hmac"
PREVIOUS = "previous"
RUN_JSON = "run.json"
HMAC_KEY_ENV = "DRILL_EVIDENCE_HMAC_KEY"
NO_PREVIOUS = "none (first bundle in this chain)\n"
#: files SHA256SUMS does not list (itself and the signature over it)
UNLISTED = frozenset({SUMS, SIGNATURE})

_SUM_LINE = re.compile(r"^([0-9a-f]{64}) [ *](\S(?:.*\S)?)$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._/+\-@]+$")


def bundle_files(bundle: Path) -> list[str]:
    """Every file under `bundle` (relative POSIX paths, sorted) except SHA256SUMS and its signature."""
    found: list[str] = []
    for root, dirs, files in os.walk(bundle):
        dirs.sort()
        for name in files:
            rel = (Path(root) / name).relative_to(bundle).as_posix()
            if rel not in UNLISTED:
                found.append(rel)
    return sorted(found)


def render_sums(bundle: Path) -> str:
    """SHA256SUMS text for the bundle as it is on disk now."""
    return "".join(f"{sha256_file(bundle / rel)}  {rel}\n" for rel in bundle_files(bundle))


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


def sign(sums: bytes, key: str) -> str:
    """HMAC-SHA256 of the SHA256SUMS bytes, hex."""
    return hmac.new(key.encode(), sums, hashlib.sha256).hexdigest()


def signature_matches(sums: bytes, key: str, signature_text: str) -> bool:
    return hmac.compare_digest(sign(sums, key), signature_text.strip())


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
