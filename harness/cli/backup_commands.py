"""backup / backups / verify / restore commands (filled in by the backup work)."""
