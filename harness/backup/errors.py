"""Errors specific to taking backups (the rest of the tree lives in harness.errors)."""

from __future__ import annotations

from harness.errors import CheckFailed


class BackupFailed(CheckFailed):
    """The source could not produce a backup: its save for the fetch failed or timed out, the fetch broke (exit 1)."""


class SyncRefused(BackupFailed):
    """The server refused the replication fetch (an ACL without sync/psync, SYNC renamed): the copy-out fallback's cue."""
