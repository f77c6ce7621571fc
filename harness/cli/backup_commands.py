"""backup / backups / verify / restore: thin commands over harness.backup and harness.restore.

Results go to stdout (the last line of `backup` is the id, so scripts can use
`tail -1`); progress and logs go to stderr. Passwords come from the environment
or URL userinfo and are never printed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import click

from harness.aws import AwsAccess
from harness.backup import (
    BackupStore,
    find_backup,
    latest_backup,
    list_backups,
    open_store,
    read_manifest,
    read_verify_record,
    take_backup,
    verify_backup,
)
from harness.backup.copy_out import DOCKER_SCHEME, PodFile, docker_source
from harness.backup.local_file import LocalFileStore, looks_like_a_file, open_local_file
from harness.backup.manifest import PIPELINE
from harness.backup.verify import VerificationReport, VerifyRecord
from harness.cli.app import DefaultCommandGroup, app, config_option, emit_json, json_option, settings_from
from harness.config import Settings, redact_url, split_redis_url
from harness.errors import ConfigError, RestoreRefused, StoreError, UsageError, VerificationFailed
from harness.platform.client import connect_settings
from harness.platform.port_forward import forwarded_redis, is_k8s_url, parse_k8s_url, pod_port
from harness.restore import restore_backup

TARGET_PASSWORD_ENV = "DRILL_TARGET_REDIS_PASSWORD"

store_option = click.option("--store", "store_url", default=None, help="s3://bucket/prefix or file:///dir (DRILL_STORE_URL).")
latest_option = click.option("--latest", is_flag=True,
                             help="Use the pipeline's backup with the newest point in time (never a drill's own).")


def configured_store(settings: Settings) -> BackupStore:
    if not settings.store_url:
        raise ConfigError("no backup store configured", fix="pass --store or set DRILL_STORE_URL")
    return open_store(
        settings.store_url, retention_days=settings.store_retention_days, lock_mode=settings.store_lock_mode,
        aws=AwsAccess(endpoint_url=settings.aws_endpoint_url),
    )


def _pod_of(settings: Settings) -> PodFile | None:
    """For a k8s:// Redis URL, the pod behind it (where its data file can be copied from if SYNC is refused)."""
    if not is_k8s_url(settings.redis_url):
        return None
    assert settings.redis_url is not None
    address = parse_k8s_url(settings.redis_url)
    cluster = connect_settings(settings)
    pod, _ = pod_port(cluster, address)
    return PodFile(cluster, address.namespace, pod)


def _resolve_id(store: BackupStore, backup_id: str | None, latest: bool) -> str:
    """The id given, or with --latest the newest backup the *pipeline* wrote (a drill's own never counts)."""
    if bool(backup_id) == latest:
        raise UsageError("give either a backup ID or --latest", fix="see `sentinel-drill backups` for ids")
    if latest:
        return latest_backup(store, origin=PIPELINE).id
    assert backup_id is not None
    return find_backup(store, backup_id).id


def _store_and_id(settings: Settings, backup: str | None, latest: bool) -> tuple[BackupStore, str]:
    """Where the backup is and its id: a local runbook file (`./backups/redis-YYYYMMDD-HHMM.rdb`) is a one-backup
    store of its own; anything else is an id (or --latest) in the configured store."""
    if backup and looks_like_a_file(backup):
        if latest:
            raise UsageError("give either a backup file or --latest", fix="drop --latest")
        local = open_local_file(backup)
        return local, local.backup_id
    store = configured_store(settings)
    return store, _resolve_id(store, backup, latest)


def _echo(line: str) -> None:
    click.echo(line)


@app.group("backup", cls=DefaultCommandGroup, default="redis")
def backup_group() -> None:
    """Take backups: Redis (the default: `backup --redis-url …`), `backup config`, `backup logs`."""


@backup_group.command("redis")
@config_option
@click.option("--redis-url", default=None, help="redis://host:port/db to back up (DRILL_REDIS_URL); password from REDIS_PASSWORD.")
@click.option("--from", "source", default=None, metavar="docker://[USER@]CONTAINER[:PORT]",
              help="A Redis in a local container (instead of --redis-url); its file is copied out through the Docker "
                   "API where SYNC is refused.")
@store_option
@json_option
def backup_command(config: str | None, redis_url: str | None, source: str | None, store_url: str | None,
                   as_json: bool) -> None:
    """Back up Redis: fetch a fresh RDB (the server saves for it), upload it, write its manifest. Prints the id last.

    Where the server refuses SYNC, a container (--from docker://…) or pod (a k8s:// URL) gets the runbook's
    BGSAVE + LASTSAVE + copy of its data file instead; the manifest's fetch_method says which way it came.
    """
    if source and redis_url:
        raise UsageError("give either --redis-url or --from", fix="--from docker://CONTAINER names the Redis itself")
    settings = settings_from(config, redis_url=redis_url, store_url=store_url)
    store = configured_store(settings)
    password = settings.redis_password.get_secret_value() if settings.redis_password else None
    if source:
        if not source.startswith(f"{DOCKER_SCHEME}://"):
            raise UsageError(f"--from {source.split('@')[-1]!r} is not a docker:// source",
                             fix="use --from docker://[USER@]CONTAINER[:PORT], or --redis-url for other Redis URLs")
        url, container = docker_source(source)
        result = take_backup(url, store, password=password, copy_from=container)
        shown = source.split("@")[-1]
    else:
        if not settings.redis_url:
            raise ConfigError("no Redis URL configured", fix="pass --redis-url (or --from) or set DRILL_REDIS_URL")
        with forwarded_redis(settings.redis_url, lambda: connect_settings(settings)) as reachable:
            result = take_backup(reachable, store, password=password, copy_from=_pod_of(settings))
        shown = redact_url(settings.redis_url)
    if as_json:
        emit_json(result.to_json())
        return
    m = result.manifest
    _echo(f"backup of {shown} point in time {m.point_in_time.isoformat()} ({m.fetch_method}"
          f"{f' from {m.copied_from}' if m.copied_from else ''})")
    _echo(f"  {m.key_count} keys, {m.size} bytes, sha256 {m.sha256}, canary high-water {m.canary_high_water}")
    _echo(f"  stored {result.rdb_location} in {result.seconds:.2f}s")
    _echo(result.id)


@app.command("backups")
@config_option
@store_option
@json_option
def backups_command(config: str | None, store_url: str | None, as_json: bool) -> None:
    """List the store's backups, oldest first, with their verification state."""
    settings = settings_from(config, store_url=store_url)
    store = configured_store(settings)
    rows = []
    for entry in list_backups(store):
        keys: int | None = None
        if entry.has_manifest:
            try:
                keys = read_manifest(store, entry.id).key_count
            except StoreError:
                keys = None
        record = (read_verify_record(store, entry.id, trusted_keys=settings.verifier_public_keys)
                  if entry.has_verify_record else None)
        rows.append({
            "id": entry.id,
            "layout": entry.layout,
            "point_in_time": entry.point_in_time.isoformat(),
            "size": entry.size,
            "keys": keys,
            "state": entry.state,
            "verified": _verified_column(record, entry.ignored_record),
            "record_trust": record.trust if record else None,
            "ignored_record": entry.ignored_record,
            "location": store.location(entry.rdb_key) if entry.rdb_key else None,
        })
    if as_json:
        emit_json(rows)
        return
    if not rows:
        _echo(f"no backups in {store.url}")
        return
    _echo(f"{'ID':<26} {'POINT IN TIME':<26} {'SIZE':>12} {'KEYS':>9}  {'STATE':<22} VERIFIED")
    for r in rows:
        size = "-" if r["size"] is None else str(r["size"])
        keys_txt = "-" if r["keys"] is None else str(r["keys"])
        _echo(f"{r['id']:<26} {r['point_in_time']:<26} {size:>12} {keys_txt:>9}  {r['state']:<22} {r['verified']}")


def _verified_column(record: VerifyRecord | None, ignored: str | None) -> str:
    """What `backups` says of a backup's record: trusted or not, and a record beside the backup as ignored."""
    if record is None:
        return "unverified (record beside the backup ignored)" if ignored else "unverified"
    if record.passed:
        return "verified"
    if record.says_passed:
        return "passed, not trusted (verified again before use)"
    return f"FAILED ({record.failed_check})"


_MARK = {"passed": "ok  ", "failed": "FAIL", "skipped": "skip", "not run": "--  "}


def _print_report(report: VerificationReport) -> None:
    _echo(f"verify {report.backup_id} ({report.location})")
    for c in report.checks:
        _echo(f"  {_MARK[c.status]} {c.name:<15} {c.reason} [{c.seconds:.2f}s]")
    failed = report.failed_check
    _echo("PASSED" if failed is None else f"FAILED at {failed.name}")


@app.group("verify", cls=DefaultCommandGroup, default="backup")
def verify_group() -> None:
    """Verify a Redis backup (the default: `verify ID` / `verify --latest`) or a day of logs (`verify logs`)."""


@verify_group.command("backup")
@config_option
@click.argument("backup_id", required=False)
@latest_option
@store_option
@click.option("--min-keys", type=click.IntRange(min=0), default=None, help="Fewest live keys acceptable (default: min_keys setting, 100).")
@json_option
def verify_command(
    config: str | None, backup_id: str | None, latest: bool, store_url: str | None, min_keys: int | None, as_json: bool
) -> None:
    """Verify a backup (an ID, --latest, or a local ./backups/redis-YYYYMMDD-HHMM.rdb) level by level; exit 1 naming
    the first failed check."""
    settings = settings_from(config, store_url=store_url, min_keys=min_keys)
    store, resolved = _store_and_id(settings, backup_id, latest)
    report = verify_backup(store, resolved, min_keys=settings.min_keys)
    if as_json:
        emit_json(report.to_json())
    else:
        _print_report(report)
    failed = report.failed_check
    if failed is not None:
        raise VerificationFailed(
            f"backup {resolved} failed verification at {failed.name}: {failed.reason}",
            fix="restore an older backup that verifies, and find out why this one is damaged",
        )


@contextmanager
def _named_file(store: BackupStore) -> Iterator[None]:
    """A refusal of a local file tells the user to verify that file (its id is in no store)."""
    try:
        yield
    except RestoreRefused as exc:
        if not isinstance(store, LocalFileStore) or exc.fix is None:
            raise
        raise type(exc)(exc.message, fix=exc.fix.replace(f"sentinel-drill verify {store.backup_id}",
                                                         f"sentinel-drill verify {store.path}")) from None


def target_password(to_url: str) -> str | None:
    """Password for the restore target: URL userinfo, else DRILL_TARGET_REDIS_PASSWORD, else REDIS_PASSWORD."""
    _, from_url = split_redis_url(to_url)
    return from_url or os.environ.get(TARGET_PASSWORD_ENV) or os.environ.get("REDIS_PASSWORD") or None


@app.command("restore")
@config_option
@click.argument("backup_id", required=False)
@latest_option
@click.option("--to", "to_url", required=True,
              help="redis://host:port/db to restore into (or k8s://NAMESPACE/NAME:PORT through a port-forward).")
@store_option
@click.option("--strategy", type=click.Choice(["network", "file"]), default="network", show_default=True)
@click.option("--replace", is_flag=True, help="Allow a non-empty target (snapshotted into the store first).")
@click.option("--force", is_flag=True, help="Restore even without a passing verification (recorded).")
@json_option
def restore_command(
    config: str | None,
    backup_id: str | None,
    latest: bool,
    to_url: str,
    store_url: str | None,
    strategy: str,
    replace: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Restore a verified backup (an ID, --latest, or a local ./backups/redis-YYYYMMDD-HHMM.rdb) into --to; refuses
    unverified backups and non-empty targets."""
    if not to_url.startswith(("redis://", "rediss://", "k8s://")):
        raise UsageError(f"--to {redact_url(to_url)!r} is not a redis:// URL",
                         fix="use --to redis://host:port/db (or k8s://NAMESPACE/NAME:PORT)")
    settings = settings_from(config, store_url=store_url)
    store, resolved = _store_and_id(settings, backup_id, latest)
    # a local file's target is snapshotted into the configured store when there is one, else beside the file
    snapshots = configured_store(settings) if isinstance(store, LocalFileStore) and settings.store_url else None
    password = target_password(to_url)
    clean_url, _ = split_redis_url(to_url)
    with forwarded_redis(clean_url, lambda: connect_settings(settings)) as reachable, _named_file(store):
        result = restore_backup(
            store,
            resolved,
            target_url=reachable,
            target_password=password,
            strategy="file" if strategy == "file" else "network",
            replace=replace,
            force=force,
            trusted_keys=settings.verifier_public_keys,
            snapshot_store=snapshots,
        )
    if as_json:
        emit_json(result.to_json())
        return
    _echo(f"restored {result.keys_restored} keys from {result.backup_id} into {result.target} "
          f"({result.strategy}, {result.seconds:.2f}s)")
    if result.verified_again:
        _echo(f"  verified again before the restore: {result.verified_again}")
    if result.snapshot:
        _echo(f"  target snapshotted first to {result.snapshot}")
    if result.forced:
        _echo(f"  FORCED: {result.force_reason}")
