"""backup config / backup logs / verify logs / coverage: the rows of "What to Back Up" beyond Redis.

Thin commands over harness.backup.config_export, harness.backup.log_archive and
harness.coverage. The configuration key comes from DRILL_CONFIG_KEY (the
sandbox's own key file on the sandbox); values are never printed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click

from harness.backup.log_archive import archive_logs, verify_log_day
from harness.backup.store import BackupStore, open_store
from harness.cli.app import app, config_option, emit_json, json_option, settings_from
from harness.cli.backup_commands import backup_group, verify_group
from harness.coverage import check_coverage
from harness.drills.configuration import take_config_backup
from harness.errors import CheckFailed, UsageError
from harness.retention import LOG_TYPES
from harness.target import Target, open_target


def _day(value: str | None) -> date:
    """--day, default yesterday (UTC): the daily archive runs after the day has ended."""
    if value is None:
        return datetime.now(UTC).date() - timedelta(days=1)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--day {value!r} is not a date", fix="use YYYY-MM-DD") from None


day_option = click.option("--day", default=None, help="The day (YYYY-MM-DD, UTC); default yesterday.")
type_option = click.option("--type", "log_type", required=True, type=click.Choice(LOG_TYPES), help="Log type.")


def _flag_store(target: Target, url: str | None, default: Callable[[], BackupStore]) -> BackupStore:
    """--store wins over the target's configured store (the sandbox fills in its own otherwise)."""
    return open_store(url, aws=target.aws()) if url else default()


@backup_group.command("config")
@config_option
@click.option("--namespace", default=None, help="Namespace to export (DRILL_NAMESPACE; default sentinel).")
@click.option("--store", "store_url", default=None, help="s3://bucket/prefix or file:///dir (DRILL_STORE_URL).")
@json_option
def backup_config_command(config: str | None, namespace: str | None, store_url: str | None, as_json: bool) -> None:
    """Export the configured Secrets and ConfigMaps, encrypted (DRILL_CONFIG_KEY), when they changed."""
    settings = settings_from(config, namespace=namespace, store_url=store_url)
    with open_target(settings, start_sandbox=False) as target:
        store = _flag_store(target, store_url, target.store)
        outcome = take_config_backup(target, store=store)
    if as_json:
        emit_json(outcome.to_json())
        return
    if outcome.export is None:
        since = outcome.unchanged_since.export_id if outcome.unchanged_since else "-"
        click.echo(f"unchanged since export {since}: nothing written ({', '.join(outcome.objects)})")
        return
    click.echo(f"exported {', '.join(outcome.objects)} encrypted to {store.location(outcome.export.key)}")
    click.echo(outcome.export.export_id)


@backup_group.command("logs")
@config_option
@type_option
@click.option("--from", "source", required=True, type=click.Path(path_type=Path), help="Directory of the log files.")
@day_option
@click.option("--store", "store_url", default=None, help="s3://bucket/prefix of the archives (DRILL_LOG_STORE_URL).")
@json_option
def backup_logs_command(config: str | None, log_type: str, source: Path, day: str | None, store_url: str | None,
                        as_json: bool) -> None:
    """Archive one day's log files of a type, with a manifest (files, sizes, sha256)."""
    settings = settings_from(config, log_store_url=store_url)
    with open_target(settings, start_sandbox=False) as target:
        store = _flag_store(target, store_url, target.log_store)
        manifest = archive_logs(source, log_type, _day(day), store)
    if as_json:
        emit_json(manifest.to_json())
        return
    click.echo(f"archived {len(manifest.files)} {log_type} log files of {manifest.day.isoformat()} "
               f"({manifest.total_bytes} bytes) to {store.location(manifest.archive_key)}")


@verify_group.command("logs")
@config_option
@type_option
@day_option
@click.option("--store", "store_url", default=None, help="s3://bucket/prefix of the archives (DRILL_LOG_STORE_URL).")
@json_option
def verify_logs_command(config: str | None, log_type: str, day: str | None, store_url: str | None,
                        as_json: bool) -> None:
    """Check a day's log archive against its manifest; exit 1 naming what differs."""
    settings = settings_from(config, log_store_url=store_url)
    with open_target(settings, start_sandbox=False) as target:
        check = verify_log_day(_flag_store(target, store_url, target.log_store), log_type, _day(day))
    if as_json:
        emit_json(check.to_json())
    else:
        click.echo(f"verify {log_type} logs {check.day.isoformat()}: {check.files} files, {check.bytes} bytes")
        click.echo("PASSED" if check.passed else "FAILED\n" + "\n".join(f"  - {p}" for p in check.problems))
    if not check.passed:
        raise CheckFailed(f"{log_type} logs of {check.day.isoformat()} do not match their manifest",
                          fix="restore the day from the bucket's previous object versions")


@app.command("coverage")
@config_option
@click.option("--window-hours", type=click.FloatRange(min=1), default=None,
              help="How far back backup history is checked (coverage_window_hours, default 48).")
@json_option
def coverage_command(config: str | None, window_hours: float | None, as_json: bool) -> None:
    """Check every row of the runbook's "What to Back Up": Redis, configuration, logs, Prometheus."""
    settings = settings_from(config, coverage_window_hours=window_hours)
    with open_target(settings, start_sandbox=False) as target:
        report = check_coverage(target)
    if as_json:
        emit_json(report.to_json())
    else:
        click.echo("\n".join(report.lines()))
    if not report.passed:
        raise CheckFailed(f"backup coverage failed: {', '.join(r.component for r in report.failed())}",
                          fix="see each row's problems above")
