"""Redis backups: take them, store them, find them, verify them (see docs/backups.md)."""

from harness.backup.catalog import BackupEntry, find_backup, latest_backup, list_backups, read_manifest
from harness.backup.errors import BackupFailed
from harness.backup.manifest import KeySample, Manifest, SourceInfo
from harness.backup.s3 import S3Store
from harness.backup.store import BackupStore, FileStore, StoredObject, open_store
from harness.backup.take import BackupResult, take_backup
from harness.backup.verify import CheckResult, VerificationReport, read_verify_record, verify_backup

__all__ = [
    "BackupEntry",
    "BackupFailed",
    "BackupResult",
    "BackupStore",
    "CheckResult",
    "FileStore",
    "KeySample",
    "Manifest",
    "S3Store",
    "SourceInfo",
    "StoredObject",
    "VerificationReport",
    "find_backup",
    "latest_backup",
    "list_backups",
    "open_store",
    "read_manifest",
    "read_verify_record",
    "take_backup",
    "verify_backup",
]
