"""Store a verified evidence bundle in the backup store under `evidence/<run-id>/`.

On S3 (boto3; AWS_ENDPOINT_URL and the normal credential chain apply) every
object carries a SHA-256 checksum and, when the bucket has object lock enabled,
a retention (GOVERNANCE or COMPLIANCE, default 365 days) so nobody can quietly
replace evidence. SHA256SUMS goes last: its presence marks a complete upload.
A `file:///dir` store gets a plain copy, for tests and air-gapped sites.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from harness.errors import AuthFailed, CheckFailed, ConfigError, ConnectionFailed, StoreError
from harness.evidence import integrity
from harness.evidence.verify import verify_bundle

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

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def s3_client(env: Mapping[str, str] | None = None) -> Any:
    """A boto3 S3 client honouring AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL."""
    import boto3

    env = os.environ if env is None else env
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
    return boto3.client("s3", endpoint_url=endpoint)


def _files(bundle: Path) -> list[str]:
    """Every file of the bundle, SHA256SUMS last."""
    names = integrity.bundle_files(bundle)
    if (bundle / integrity.SIGNATURE).is_file():
        names.append(integrity.SIGNATURE)
    return names + [integrity.SUMS]


def _s3_failure(exc: Exception, *, what: str, bucket: str) -> Exception:
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    if isinstance(exc, NoCredentialsError):
        return AuthFailed(f"cannot {what}: no AWS credentials", fix="set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile")
    if isinstance(exc, EndpointConnectionError):
        return ConnectionFailed(f"cannot {what}: S3 endpoint unreachable ({exc})", fix="check AWS_ENDPOINT_URL and the network")
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchBucket", "404"):
            return StoreError(f"cannot {what}: bucket {bucket} does not exist", fix="create it or fix --store")
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return AuthFailed(f"cannot {what}: S3 refused our credentials ({code})", fix="check the credentials' policy")
        return StoreError(f"cannot {what}: S3 answered {code}: {exc}", fix="check the bucket and its policy")
    return exc


def _lock_settings(client: Any, bucket: str, mode: LockMode | None) -> tuple[bool, str | None]:
    from botocore.exceptions import ClientError

    try:
        conf = client.get_object_lock_configuration(Bucket=bucket).get("ObjectLockConfiguration", {})
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ObjectLockConfigurationNotFoundError":
            return False, None
        raise _s3_failure(exc, what="read the bucket's object lock configuration", bucket=bucket) from None
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
) -> UploadResult:
    """Verify the bundle, then store it under `<store>/evidence/<run-id>/`.

    Refuses (CheckFailed) a bundle that does not verify; StoreError when another
    bundle with the same run id but different contents is already stored.
    """
    bundle = Path(bundle)
    report = verify_bundle(bundle)
    if not report.ok:
        raise CheckFailed(f"refusing to upload {bundle}: {report.problems[0]}", fix="rebuild the bundle")
    parts = urlsplit(store_url)
    prefix = "/".join(p for p in (parts.path.strip("/"), "evidence", bundle.name) if p)
    if parts.scheme == "file":
        return _copy_to_dir(bundle, Path(parts.path) / "evidence" / bundle.name)
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigError(f"store URL {store_url!r} is not s3://bucket/prefix or file:///dir", fix="fix --store")
    bucket = parts.netloc
    client = client or s3_client()
    sums_key = f"{prefix}/{integrity.SUMS}"
    location = f"s3://{bucket}/{prefix}/"
    ours = (bundle / integrity.SUMS).read_bytes()
    try:
        stored = client.get_object(Bucket=bucket, Key=sums_key)["Body"].read()
    except Exception as exc:  # noqa: BLE001 - mapped below; "not there yet" is the normal case
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        if code not in ("NoSuchKey", "404"):
            raise _s3_failure(exc, what=f"read {location}", bucket=bucket) from None
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
        body = (bundle / rel).read_bytes()
        total += len(body)
        content_type = mimetypes.guess_type(rel)[0] or "text/plain"
        try:
            client.put_object(Bucket=bucket, Key=f"{prefix}/{rel}", Body=body, ContentType=content_type,
                              ChecksumAlgorithm="SHA256", Metadata={"sha256": hashlib.sha256(body).hexdigest()},
                              **extra)
        except Exception as exc:  # noqa: BLE001 - mapped to the error tree
            raise _s3_failure(exc, what=f"upload {rel} to {location}", bucket=bucket) from None
    return UploadResult(location, len(names), total, locked, mode if locked else None,
                        until.isoformat() if locked else None)


def _copy_to_dir(bundle: Path, dest: Path) -> UploadResult:
    if (dest / integrity.SUMS).is_file():
        if (dest / integrity.SUMS).read_bytes() == (bundle / integrity.SUMS).read_bytes():
            return UploadResult(dest.as_uri() + "/", 0, 0, locked=False, already_present=True)
        raise StoreError(f"{dest} already holds a different bundle", fix="rebuild with a new run id")
    if dest.exists():
        shutil.rmtree(dest)  # an earlier copy that never finished (no SHA256SUMS)
    total = 0
    names = _files(bundle)
    for rel in names:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(bundle / rel, dest / rel)
        total += (bundle / rel).stat().st_size
    return UploadResult(dest.as_uri() + "/", len(names), total, locked=False)
