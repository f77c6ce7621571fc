"""Rows for what lies beside the cluster: Redis, the backup store and its newest pipeline backup, Route 53, health.

Each check only reads: PING, HEAD/GET of bucket settings and a listing, a Route 53
zone read, one GET of the health URL. Which scenarios a failure blocks follows
where the drills use each service (features/*.feature).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import UTC, datetime

from harness.backup.catalog import newest_backup
from harness.backup.manifest import PIPELINE
from harness.backup.s3 import S3Store
from harness.config import redact_url
from harness.dns import read_record
from harness.doctor.rows import Row
from harness.drills.pipeline import backup_age_s
from harness.errors import AuthFailed, DrillError
from harness.platform.stack import WORKLOADS
from harness.target.base import Target

#: scenarios that fall back on the pipeline's backup and restore from the store, and move the drill's DNS record
RESTORING = ("scenario-3", "scenario-4")


def _only(selected: tuple[str, ...], needed_by: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(s for s in selected if s in needed_by)


def redis_row(target: Target, scenarios: tuple[str, ...]) -> Row:
    """PING with the configured password; a rejected password is named as such."""
    try:
        url = target.settings.redis_url or target.redis_url  # as configured: a k8s:// URL, not its forward
        target.redis().ping()
    except AuthFailed as exc:
        return Row("redis_url / REDIS_PASSWORD", "Redis PING with the configured password", False,
                   f"wrong password: {exc.one_line()}", scenarios)
    except DrillError as exc:
        return Row("redis_url / REDIS_PASSWORD", "Redis PING with the configured password", False, exc.one_line(),
                   scenarios)
    return Row("redis_url / REDIS_PASSWORD", f"Redis PING at {redact_url(url)}", True, "PONG, authenticated")


def store_rows(target: Target, scenarios: tuple[str, ...]) -> list[Row]:
    """The store opens and lists; an S3 bucket is versioned and object-locked when retention is configured."""
    blocks = _only(scenarios, RESTORING)
    setting = "store_url"
    try:
        store = target.store()
        store.check()
        store.list("")
    except DrillError as exc:
        return [Row(setting, "the backup store is readable", False, exc.one_line(), blocks)]
    rows = [Row(setting, f"{store.url} is readable", True, "opened and listed")]
    if not isinstance(store, S3Store):
        return rows
    try:
        versioning, lock = store.protection()
    except DrillError as exc:
        return rows + [Row(setting, f"bucket {store.bucket} versioning and object lock", False, exc.one_line(), blocks)]
    rows.append(Row(setting, f"bucket {store.bucket} is versioned", versioning == "Enabled",
                    f"versioning {versioning}", () if versioning == "Enabled" else blocks))
    retention = target.settings.store_retention_days
    locked_as_configured = lock == "Enabled" or not retention
    rows.append(Row("store_retention_days", f"bucket {store.bucket} object lock "
                    f"({f'{retention} days configured' if retention else 'no retention configured'})",
                    locked_as_configured, f"object lock {lock}", () if locked_as_configured else blocks))
    return rows


def backup_age_row(target: Target, scenarios: tuple[str, ...], *, now: datetime | None = None) -> Row:
    """The pipeline's newest backup is no older than the RPO (read from the listing; nothing is verified or written)."""
    blocks = _only(scenarios, RESTORING)
    rpo = target.settings.rpo_seconds
    checked = f"newest pipeline backup no older than the RPO ({rpo:.0f}s)"
    try:
        store = target.store()
        entry = newest_backup(store, origin=PIPELINE)
    except DrillError as exc:
        return Row("rpo_seconds", checked, False, exc.one_line(), blocks)
    if entry is None:
        return Row("rpo_seconds", checked, False, f"no backup written by the pipeline in {store.url}", blocks)
    age = backup_age_s(entry.point_in_time, now or datetime.now(UTC))
    fresh = age <= rpo
    return Row("rpo_seconds", checked, fresh,
               f"{entry.id} is {age:.0f}s old" + ("" if fresh else f": stale, older than the RPO {rpo:.0f}s"),
               () if fresh else blocks)


def dns_row(target: Target, scenarios: tuple[str, ...]) -> Row:
    """The hosted zone and the drill's record are readable (the recovery points the record at the new cluster)."""
    settings = target.settings
    blocks = _only(scenarios, RESTORING)
    record = settings.dr_dns_record_name or settings.dns_record_name
    checked = f"Route 53 zone {settings.hosted_zone_id or '(unset)'} record {record or '(unset)'} readable"
    try:
        seen = read_record(settings.hosted_zone_id, record, aws=target.aws())
    except DrillError as exc:
        return Row("hosted_zone_id / dns_record_name", checked, False, exc.one_line(), blocks)
    return Row("hosted_zone_id / dns_record_name", checked, True, seen)


def health_row(target: Target, scenarios: tuple[str, ...], *, timeout: float = 5.0) -> Row:
    """One GET of the health URL answers 2xx."""
    try:
        url = target.health_url
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            status = int(answer.status)
    except DrillError as exc:
        return Row("health_url", "the health URL answers", False, exc.one_line(), scenarios)
    except urllib.error.HTTPError as exc:
        return Row("health_url", f"GET {url}", False, f"HTTP {exc.code}", scenarios)
    except (urllib.error.URLError, OSError) as exc:
        return Row("health_url", f"GET {url}", False, f"no answer ({exc.__class__.__name__})", scenarios)
    return Row("health_url", f"GET {url}", True, f"HTTP {status}")


def deploy_method_row(target: Target, scenarios: tuple[str, ...]) -> Row:
    """The configured deploy method renders (helm template / kustomize build / reading YAML; nothing applied)."""
    blocks = _only(scenarios, RESTORING)
    source = target.stack_source()
    checked = f"deploy_method {source.method} renders {source.describe()['source']}"
    try:
        objects = source.render(target.settings.dr_namespace or target.namespace)
    except DrillError as exc:
        return Row("deploy_method", checked, False, exc.one_line(), blocks)
    kinds = sorted({o["kind"] for o in objects})
    rendered = {(o["kind"], o["metadata"]["name"]) for o in objects}
    missing = [f"{kind}/{name}" for kind, name in WORKLOADS if (kind, name) not in rendered]
    if missing:
        return Row("deploy_method", checked, False, f"renders no {', '.join(missing)}", blocks)
    return Row("deploy_method", checked, True, f"{len(objects)} objects ({', '.join(kinds)})")
