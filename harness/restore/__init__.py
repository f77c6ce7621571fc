"""Restore Redis backups: `network` (DUMP/RESTORE) and `file` (replace the RDB and restart)."""

from harness.restore.managed import ManagedRedis, MarkedRedis, find_managed
from harness.restore.network import RestoreFailed
from harness.restore.run import RestoreResult, restore_backup

__all__ = ["ManagedRedis", "MarkedRedis", "RestoreFailed", "RestoreResult", "find_managed", "restore_backup"]
