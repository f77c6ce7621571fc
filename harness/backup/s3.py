"""The S3 backup store: a bucket and prefix reached through boto3's normal configuration.

AWS_ENDPOINT_URL (path-style addressing when set) and the credential chain
apply; uploads carry SHA-256 checksums and, when configured, object-lock
retention. Every boto3/botocore failure becomes one line of the error tree.
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness.aws import DEFAULT_ACCESS, AwsAccess
from harness.backup.progress import transfer_progress
from harness.backup.store import Fetched, HashingWriter, LockMode, StoredObject, join_key
from harness.errors import AuthFailed, ConnectionFailed, StoreError


@dataclass
class S3Store:
    """A bucket and prefix reached through boto3's normal configuration."""

    bucket: str
    prefix: str = ""
    retention_days: int | None = None
    lock_mode: LockMode = "COMPLIANCE"
    aws: AwsAccess = DEFAULT_ACCESS
    _client: Any = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            config = Config(
                retries={"max_attempts": 2, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
                s3={"addressing_style": "path" if self.aws.custom_endpoint else "auto"},
            )
            session = boto3.session.Session(botocore_session=_botocore_session())
            self._client = session.client("s3", config=config, **self.aws.client_kwargs())
        return self._client

    def _error(self, exc: Exception, what: str) -> Exception:
        return s3_error(exc, what=what, bucket=self.bucket, endpoint=self._endpoint())

    def _endpoint(self) -> str:
        try:
            return str(self.client.meta.endpoint_url)
        except Exception:  # noqa: BLE001 - only for the message
            return "the S3 endpoint"

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:  # noqa: BLE001 - mapped to the error tree
            raise self._error(exc, f"open bucket {self.bucket}") from None
        if self.retention_days:
            self._check_object_lock()

    def _check_object_lock(self) -> None:
        try:
            conf = self.client.get_object_lock_configuration(Bucket=self.bucket)
            enabled = conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
        except Exception as exc:  # noqa: BLE001
            if _code(exc) != "ObjectLockConfigurationNotFoundError":
                raise self._error(exc, f"read object lock of {self.bucket}") from None
            enabled = False
        if not enabled:
            raise StoreError(
                f"retention of {self.retention_days} days is configured but bucket {self.bucket} has no object lock",
                fix="create the bucket with object lock enabled, or unset store_retention_days",
            )

    def protection(self) -> tuple[str, str]:
        """(versioning, object lock) as the bucket reports them, e.g. ("Enabled", "not enabled"); read-only."""
        try:
            versioning = self.client.get_bucket_versioning(Bucket=self.bucket).get("Status") or "never enabled"
        except Exception as exc:  # noqa: BLE001 - mapped to the error tree
            raise self._error(exc, f"read versioning of bucket {self.bucket}") from None
        try:
            conf = self.client.get_object_lock_configuration(Bucket=self.bucket)
            lock = conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") or "not enabled"
        except Exception as exc:  # noqa: BLE001
            if _code(exc) != "ObjectLockConfigurationNotFoundError":
                raise self._error(exc, f"read object lock of {self.bucket}") from None
            lock = "not enabled"
        return str(versioning), str(lock)

    def _extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"ChecksumAlgorithm": "SHA256"}
        if self.retention_days:
            extra["ObjectLockMode"] = self.lock_mode
            extra["ObjectLockRetainUntilDate"] = datetime.now(UTC) + timedelta(days=self.retention_days)
        return extra

    def put_file(self, key: str, path: Path) -> None:
        from boto3.s3.transfer import TransferConfig

        size = path.stat().st_size
        full = join_key(self.prefix, key)
        try:
            with transfer_progress(f"upload {key}", size) as advance:
                self.client.upload_file(
                    str(path),
                    self.bucket,
                    full,
                    ExtraArgs=self._extra(),
                    Callback=advance,
                    Config=TransferConfig(multipart_threshold=64 * 1024 * 1024),
                )
            if self.retention_days:
                self._ensure_locked(full)
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"upload {self.location(key)}") from None

    def _ensure_locked(self, full_key: str) -> None:
        """Some S3 implementations (moto) drop lock headers on multipart uploads: set retention explicitly."""
        head = self.client.head_object(Bucket=self.bucket, Key=full_key)
        if head.get("ObjectLockMode"):
            return
        extra = self._extra()
        self.client.put_object_retention(
            Bucket=self.bucket,
            Key=full_key,
            Retention={"Mode": extra["ObjectLockMode"], "RetainUntilDate": extra["ObjectLockRetainUntilDate"]},
        )

    def put_bytes(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=join_key(self.prefix, key), Body=data, **self._extra())
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"upload {self.location(key)}") from None

    def get_file(self, key: str, path: Path, *, version_id: str | None = None) -> str | None:
        """Download `key`, pinned to one object version: `version_id`, else the current one as HEAD saw it,
        so an object overwritten during the download cannot be mixed in."""
        try:
            head = self._head(key, version_id)
            pinned = head.get("VersionId") if head.get("VersionId") not in (None, "null") else None
            extra = {"VersionId": pinned} if pinned else None
            with transfer_progress(f"download {key}", int(head["ContentLength"])) as advance:
                self.client.download_file(self.bucket, join_key(self.prefix, key), str(path), Callback=advance,
                                          ExtraArgs=extra)
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"download {self.location(key)}") from None
        return pinned  # type: ignore[no-any-return]

    def get_file_hashed(self, key: str, path: Path, *, version_id: str | None = None) -> Fetched:
        """`get_file` (same version pinning) hashing the bytes as boto3 writes them: its parts are still
        fetched concurrently, and written in order because the writer says it cannot seek."""
        try:
            head = self._head(key, version_id)
            pinned = head.get("VersionId") if head.get("VersionId") not in (None, "null") else None
            extra = {"VersionId": pinned} if pinned else None
            with path.open("wb") as out, transfer_progress(f"download {key}", int(head["ContentLength"])) as advance:
                writer = HashingWriter(out)
                self.client.download_fileobj(self.bucket, join_key(self.prefix, key), writer, Callback=advance,
                                             ExtraArgs=extra)
        except StoreError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"download {self.location(key)}") from None
        return Fetched(pinned, writer.size, writer.hexdigest())

    def _head(self, key: str, version_id: str | None = None) -> dict[str, Any]:
        try:
            extra = {"VersionId": version_id} if version_id else {}
            return self.client.head_object(Bucket=self.bucket, Key=join_key(self.prefix, key), **extra)  # type: ignore[no-any-return]
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"read {self.location(key)}" + (f" version {version_id}" if version_id else "")) from None

    def get_bytes(self, key: str) -> bytes:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=join_key(self.prefix, key))["Body"]
            return bytes(body.read())
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"download {self.location(key)}") from None

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=join_key(self.prefix, key))
            return True
        except Exception as exc:  # noqa: BLE001
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._error(exc, f"read {self.location(key)}") from None

    def list(self, prefix: str) -> list[StoredObject]:
        root = f"{self.prefix}/" if self.prefix else ""
        out: list[StoredObject] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=root + prefix)
            for page in pages:
                for obj in page.get("Contents", []):
                    out.append(StoredObject(obj["Key"][len(root):], int(obj["Size"]), obj["LastModified"]))
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"list {self.location(prefix)}") from None
        return out

    def location(self, key: str) -> str:
        return f"s3://{self.bucket}/{join_key(self.prefix, key)}"

    @property
    def key_root(self) -> str:
        """What every key of this store starts with in the bucket (lifecycle rules filter on it)."""
        return f"{self.prefix}/" if self.prefix else ""

    def lifecycle_rules(self) -> builtins.list[dict[str, Any]]:
        """The bucket's lifecycle rules ([] when it has none)."""
        try:
            answer = self.client.get_bucket_lifecycle_configuration(Bucket=self.bucket)
        except Exception as exc:  # noqa: BLE001
            if _code(exc) == "NoSuchLifecycleConfiguration":
                return []
            raise self._error(exc, f"read the lifecycle rules of bucket {self.bucket}") from None
        return list(answer.get("Rules", []))

    def put_lifecycle_rules(self, rules: builtins.list[dict[str, Any]]) -> None:
        """Replace the bucket's lifecycle configuration with `rules`."""
        try:
            self.client.put_bucket_lifecycle_configuration(Bucket=self.bucket,
                                                           LifecycleConfiguration={"Rules": rules})
        except Exception as exc:  # noqa: BLE001
            raise self._error(exc, f"set the lifecycle rules of bucket {self.bucket}") from None

    def child(self, sub: str) -> S3Store:
        return S3Store(
            self.bucket,
            join_key(self.prefix, sub.strip("/")),
            retention_days=self.retention_days,
            lock_mode=self.lock_mode,
            aws=self.aws,
            _client=self._client,
        )


_shared_loader: Any = None


def _botocore_session() -> Any:
    """A fresh botocore session (credentials and endpoint re-read from the environment)
    sharing one model loader, so opening several stores does not re-parse the S3 model."""
    import botocore.session

    global _shared_loader
    session = botocore.session.get_session()
    if _shared_loader is None:
        _shared_loader = session.get_component("data_loader")
    else:
        session.register_component("data_loader", _shared_loader)
    return session


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    match = re.search(r"\(([A-Za-z0-9]+)\)", str(exc))  # S3UploadFailedError wraps the code in text
    return match.group(1) if match else ""


_AUTH_CODES = {
    "403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
    "InvalidToken", "TokenRefreshRequired", "AllAccessDisabled",
}


def s3_error(exc: Exception, *, what: str, bucket: str, endpoint: str) -> Exception:
    """Translate a boto3/botocore failure into the harness's error tree (one line, with a fix)."""
    from botocore import exceptions as bx

    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return AuthFailed(
            f"cannot {what}: no AWS credentials found",
            fix="set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE (the boto3 credential chain)",
        )
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ReadTimeoutError)):
        return ConnectionFailed(
            f"cannot {what}: S3 endpoint {endpoint} is unreachable",
            fix="check AWS_ENDPOINT_URL and the network path to the store",
        )
    code = _code(exc)
    if code in ("NoSuchBucket",) or (code in ("404", "NotFound") and what.startswith("open bucket")):
        return StoreError(
            f"cannot {what}: bucket {bucket} does not exist at {endpoint}",
            fix="create the bucket or fix --store / DRILL_STORE_URL",
        )
    if code in ("404", "NoSuchKey", "NotFound"):
        return StoreError(f"cannot {what}: no such object", fix="list backups with `sentinel-drill backups`")
    if code in _AUTH_CODES:
        return AuthFailed(
            f"cannot {what}: S3 refused our credentials ({code})",
            fix="check the AWS credentials and the bucket policy for this identity",
        )
    text = " ".join(str(exc).split())
    if isinstance(exc, bx.BotoCoreError):
        return ConnectionFailed(f"cannot {what}: {text}", fix="check AWS_ENDPOINT_URL, region and network")
    return StoreError(
        f"cannot {what}: {code or exc.__class__.__name__}: {text}",
        fix="check the store URL, the bucket's configuration and the S3 service",
    )
