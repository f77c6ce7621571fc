"""Store a verified evidence bundle in the backup store under `evidence/<run-id>/`.

On S3 (boto3; AWS_ENDPOINT_URL and the normal credential chain apply) every
object carries a SHA-256 checksum and, when the bucket has object lock enabled,
a retention (GOVERNANCE or COMPLIANCE, default 365 days) so nobody can quietly
replace evidence. SHA256SUMS goes last: its presence marks a complete upload.
A `file:///dir` store gets a plain copy, for tests and air-gapped sites.
"""

from __future__ import annotations

import hashlib
import math
import mimetypes
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.aws import s3_client
from harness.backup.s3 import s3_error
from harness.errors import CheckFailed, ConfigError, StoreError
from harness.evidence import integrity
from harness.evidence.chain_store import copy_head, head_body, head_name
from harness.evidence.links import HEADS_DIR, BundleLink, read_link
from harness.evidence.verify import verify_bundle
from harness.safe_paths import path_under, write_under
from harness.signing import signer_from_env

LockMode = Literal["GOVERNANCE", "COMPLIANCE"]
DEFAULT_RETAIN_DAYS = 365


@dataclass(frozen=True)
class UploadResult:
    """Where the bundle went and how it is protected."""

    location: str
    objects: int
    bytes: int
    locked: bool
    lock_mode: str | None = None
    retain_until: str | None = None
    already_present: bool = False
    head: str | None = None  # the chain head written beside the bundle
    fork_warning: str | None = None  # the bundle does not follow the store's newest head

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _files(bundle: Path) -> list[str]:
    """Every file of the bundle, SHA256SUMS last."""
    names = integrity.bundle_files(bundle)
    names += [n for n in (integrity.ATTESTATION, integrity.SIGNATURE, integrity.LEGACY_HMAC) if (bundle / n).is_file()]
    return names + [integrity.SUMS]


def _newest_head(client: Any, bucket: str, heads_prefix: str) -> str | None:
    """The run id of the newest chain head already in the store (heads sort by sequence)."""
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=heads_prefix)
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    except Exception as exc:  # noqa: BLE001 - mapped to the error tree
        raise _s3_failure(exc, what=f"list the chain heads under {heads_prefix}", bucket=bucket, client=client) from None
    if not keys:
        return None
    return max(keys).rsplit("/", 1)[-1].split("-", 1)[1].removesuffix(".json")


def _fork_warning(link: BundleLink, newest_head: str | None) -> str | None:
    """Say so when the stored chain's newest bundle is not the one this bundle follows."""
    follows = link.previous[0] if link.previous else None
    if newest_head is None or follows == newest_head:
        return None
    return (f"{link.run_id} follows {follows or 'nothing (a first bundle)'}, but the store's newest chain head is "
            f"{newest_head}: the stored chain now forks (`evidence verify --chain` will report it); build bundles "
            "where the previous one is present")


def _s3_failure(exc: Exception, *, what: str, bucket: str, client: Any = None) -> Exception:
    endpoint = getattr(getattr(client, "meta", None), "endpoint_url", None) or "(boto3 default)"
    return s3_error(exc, what=what, bucket=bucket, endpoint=endpoint)


def _lock_settings(client: Any, bucket: str, mode: LockMode | None) -> tuple[bool, str | None]:
    from botocore.exceptions import ClientError

    try:
        conf = client.get_object_lock_configuration(Bucket=bucket).get("ObjectLockConfiguration", {})
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ObjectLockConfigurationNotFoundError":
            return False, None
        raise _s3_failure(exc, what="read the bucket's object lock configuration", bucket=bucket,
                          client=client) from None
    if conf.get("ObjectLockEnabled") != "Enabled":
        return False, None
    default = conf.get("Rule", {}).get("DefaultRetention", {}).get("Mode")
    return True, mode or default or "GOVERNANCE"


def upload_bundle(
    bundle: Path,
    store_url: str,
    *,
    retain_days: int = DEFAULT_RETAIN_DAYS,
    lock_mode: LockMode | None = None,
    client: Any = None,
    now: datetime | None = None,
    signing_key: Ed25519PrivateKey | None = None,
    trusted_keys: Sequence[str] | None = None,
) -> UploadResult:
    """Verify the bundle, store it under `<store>/evidence/<run-id>/`, then write its chain head.

    The head (evidence/_heads/) is locked like the bundle and signed with the
    evidence key (default DRILL_EVIDENCE_SIGNING_KEY) when there is one. Refuses
    (CheckFailed) a bundle that does not verify; StoreError when another bundle
    with the same run id but different contents is already stored.
    """
    bundle = Path(bundle)
    if signing_key is None:
        signing_key = signer_from_env(env_name=integrity.SIGNING_KEY_ENV)
    # a skewed clock is for the auditor to judge (verify flags it), not a reason to keep the evidence from the store
    report = verify_bundle(bundle, trusted_keys=trusted_keys, clock_tolerance_s=math.inf)
    if not report.ok:
        raise CheckFailed(f"refusing to upload {bundle}: {report.problems[0]}", fix="rebuild the bundle")
    parts = urlsplit(store_url)
    prefix = "/".join(p for p in (parts.path.strip("/"), "evidence", bundle.name) if p)
    if parts.scheme == "file":
        return _copy_to_dir(bundle, path_under(Path(parts.path), f"evidence/{bundle.name}", what="bundle directory"),
                            head=head_body(read_link(bundle), uploaded_at=now or datetime.now(UTC),
                                           signing_key=signing_key))
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigError(f"store URL {store_url!r} is not s3://bucket/prefix or file:///dir", fix="fix --store")
    bucket = parts.netloc
    client = client or s3_client()
    sums_key = f"{prefix}/{integrity.SUMS}"
    heads_prefix = f"{prefix.rsplit('/', 1)[0]}/{HEADS_DIR}/"
    location = f"s3://{bucket}/{prefix}/"
    ours = (bundle / integrity.SUMS).read_bytes()
    try:
        stored = client.get_object(Bucket=bucket, Key=sums_key)["Body"].read()
    except Exception as exc:  # noqa: BLE001 - mapped below; "not there yet" is the normal case
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        if code not in ("NoSuchKey", "404"):
            raise _s3_failure(exc, what=f"read {location}", bucket=bucket, client=client) from None
        stored = None
    if stored is not None:
        if stored == ours:
            return UploadResult(location, 0, 0, locked=False, already_present=True)
        raise StoreError(f"{location} already holds a different bundle with run id {bundle.name}",
                         fix="evidence is never overwritten; rebuild with a new run id")
    locked, mode = _lock_settings(client, bucket, lock_mode)
    until = (now or datetime.now(UTC)) + timedelta(days=retain_days)
    extra: dict[str, Any] = {"ObjectLockMode": mode, "ObjectLockRetainUntilDate": until} if locked else {}
    total = 0
    names = _files(bundle)
    for rel in names:
        body = path_under(bundle, rel, what="bundle file").read_bytes()
        total += len(body)
        content_type = mimetypes.guess_type(rel)[0] or "text/plain"
        try:
            client.put_object(Bucket=bucket, Key=f"{prefix}/{rel}", Body=body, ContentType=content_type,
                              ChecksumAlgorithm="SHA256", Metadata={"sha256": hashlib.sha256(body).hexdigest()},
                              **extra)
        except Exception as exc:  # noqa: BLE001 - mapped to the error tree
            raise _s3_failure(exc, what=f"upload {rel} to {location}", bucket=bucket, client=client) from None
    follows = _newest_head(client, bucket, heads_prefix)
    link = read_link(bundle)
    head_key = f"{heads_prefix}{head_name(link)}"
    try:
        client.put_object(Bucket=bucket, Key=head_key, ContentType="application/json", ChecksumAlgorithm="SHA256",
                          Body=head_body(link, uploaded_at=now or datetime.now(UTC), signing_key=signing_key), **extra)
    except Exception as exc:  # noqa: BLE001 - mapped to the error tree
        raise _s3_failure(exc, what=f"write the chain head {head_key}", bucket=bucket, client=client) from None
    return UploadResult(location, len(names), total, locked, mode if locked else None,
                        until.isoformat() if locked else None, head=f"s3://{bucket}/{head_key}",
                        fork_warning=_fork_warning(link, follows))


def _copy_to_dir(bundle: Path, dest: Path, *, head: bytes) -> UploadResult:
    if (dest / integrity.SUMS).is_file():
        if (dest / integrity.SUMS).read_bytes() == (bundle / integrity.SUMS).read_bytes():
            return UploadResult(dest.as_uri() + "/", 0, 0, locked=False, already_present=True)
        raise StoreError(f"{dest} already holds a different bundle", fix="rebuild with a new run id")
    if dest.exists():
        shutil.rmtree(dest)  # an earlier copy that never finished (no SHA256SUMS)
    total = 0
    names = _files(bundle)
    for rel in names:
        body = path_under(bundle, rel, what="bundle file").read_bytes()
        write_under(dest, rel, body, what="bundle file")
        total += len(body)
    link = read_link(bundle)
    copy_head(dest.parent, link, head)
    return UploadResult(dest.as_uri() + "/", len(names), total, locked=False,
                        head=(dest.parent / HEADS_DIR / head_name(link)).as_uri())
