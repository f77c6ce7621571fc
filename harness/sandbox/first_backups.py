"""The sandbox's configuration and log backups from the start, as production's pipelines would leave them.

`sandbox up` sets the log bucket's lifecycle to the runbook's retention table,
writes yesterday's logs of every type where a log shipper would leave them and
archives them (what the daily log-archive CronJob does at 00:30), and takes
the first "on change" configuration export with the sandbox's own Fernet key.
Redis's first backup is taken elsewhere (by the backup CronJob on real nodes).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from harness.backup.config_export import ExportOutcome, backup_config, new_key
from harness.backup.log_archive import archive_logs
from harness.backup.s3 import S3Store
from harness.backup.store import open_store
from harness.config import CONFIG_MAPS, CONFIG_SECRETS
from harness.platform.client import Cluster
from harness.retention import LOG_TYPES, RUNBOOK_RETENTION, lifecycle_rules
from harness.sandbox import aws
from harness.sandbox.state import LOG_BUCKET, SandboxPaths, read_secret, write_secret


def log_store(endpoint: str) -> S3Store:
    store = open_store(f"s3://{LOG_BUCKET}/", aws=aws.sandbox_aws(endpoint))
    assert isinstance(store, S3Store)
    return store


def create_log_bucket(endpoint: str) -> None:
    """The log bucket with the runbook's lifecycle rules (Glacier transition and expiration per type)."""
    aws.create_plain_bucket(endpoint, LOG_BUCKET)
    store = log_store(endpoint)
    store.put_lifecycle_rules(lifecycle_rules(RUNBOOK_RETENTION, store_prefix=store.key_root))


def write_log_day(directory: Path, log_type: str, day: date, *, lines_per_hour: int = 10) -> list[Path]:
    """A day of `log_type` JSON lines, one file per hour, as a log shipper leaves them on disk."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for hour in range(24):
        path = directory / f"{log_type}-{day.isoformat()}-{hour:02d}.log"
        lines = [json.dumps({"ts": datetime(day.year, day.month, day.day, hour, i * 5, tzinfo=UTC).isoformat(),
                             "type": log_type, "service": "gateway", "seq": i}) for i in range(lines_per_hour)]
        path.write_text("\n".join(lines) + "\n")
        written.append(path)
    return written


def first_log_archives(paths: SandboxPaths, endpoint: str, *, day: date | None = None) -> list[str]:
    """Yesterday (UTC) of every log type written and archived; returns the archive keys."""
    day = day or (datetime.now(UTC).date() - timedelta(days=1))
    store = log_store(endpoint)
    keys = []
    for log_type in LOG_TYPES:
        source = paths.hot_logs_dir / log_type
        write_log_day(source, log_type, day)
        keys.append(archive_logs(source, log_type, day, store).archive_key)
    return keys


def config_key(paths: SandboxPaths) -> str:
    """The sandbox's configuration-export key, created on first use."""
    if not paths.config_key_file.exists():
        write_secret(paths.config_key_file, new_key())
    return read_secret(paths.config_key_file)


def first_config_export(paths: SandboxPaths, cluster: Cluster, endpoint: str, *, store_url: str,
                        namespace: str) -> ExportOutcome:
    """The configuration backup's first run: the runbook's Secrets and ConfigMap, encrypted, in the store."""
    store = open_store(store_url, aws=aws.sandbox_aws(endpoint))
    return backup_config(cluster, store, namespace=namespace, key=config_key(paths),
                         secrets=CONFIG_SECRETS, config_maps=CONFIG_MAPS)
