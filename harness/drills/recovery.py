"""Recovery phases shared by the disaster scenarios: the drill's own backup, the Redis restore, DNS, health.

Each function does one runbook step against the Target and returns what it
did; the scenario marks its clock around them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from harness.backup.catalog import list_backups
from harness.backup.layout import manifest_key
from harness.backup.manifest import DRILL, Manifest
from harness.backup.store import BackupStore
from harness.backup.take import BackupResult, take_backup
from harness.backup.verify import (
    NO_VERIFIER_KEY_NOTICE,
    VerificationReport,
    trusted_verification,
    verify_backup,
)
from harness.dns import DnsChange, point_record, resolve_record
from harness.drills.scenario import DrillScenario
from harness.errors import RestoreRefused, TargetMissed, VerificationFailed
from harness.measure.availability import wait_healthy as measure_wait_healthy
from harness.measure.canary import canary_key
from harness.restore.run import RestoreResult, restore_to
from harness.target.base import Target

log = logging.getLogger("harness.drills")


@dataclass(frozen=True)
class VerifiedBackup:
    backup: BackupResult
    report: VerificationReport

    @property
    def manifest(self) -> Manifest:
        return self.backup.manifest


def require_verified(report: VerificationReport) -> VerificationReport:
    """Raise VerificationFailed naming the failing check unless every level passed."""
    if not report.passed:
        failed = report.failed_check
        raise VerificationFailed(
            f"backup {report.backup_id} failed check {failed.name if failed else '?'}: "
            f"{failed.reason if failed else 'not every level passed'}",
            fix="investigate the backup pipeline; restore from an older verified backup",
        )
    return report


def take_verified_backup(drill: DrillScenario, target: Target) -> VerifiedBackup:
    """Take the drill's own backup of the target's Redis now (origin "drill") and verify it at every level.

    It holds the canaries written so far, which is what the RPO cross-check
    reads back; its age (seconds) is noted, never reported as the RPO: that is
    measured on the pipeline's backups (`harness.drills.pipeline`).
    """
    store = target.store()
    backup = take_backup(target.redis_url, store, password=target.redis_password(), origin=DRILL)
    report = verify_backup(store, backup.id, min_keys=drill.settings.min_keys)
    drill.record.verification = report.to_json()
    drill.note("backup", backup.to_json())
    drill.observe_store_write(store, manifest_key(backup.id), written_at=backup.manifest.created_at)
    require_verified(report)
    age = (datetime.now(UTC) - backup.manifest.point_in_time).total_seconds()
    drill.note("age_of_the_drills_backup_s", round(age, 3))
    return VerifiedBackup(backup, report)


def restore_redis(drill: DrillScenario, target: Target, backup_id: str, *,
                  store: BackupStore | None = None) -> RestoreResult:
    """The runbook's restore of Redis from `store` (the target's by default), through the one restore gate.

    The target's plane decides how (its volume, the network, the local process); the gate refuses an
    unverified backup, re-checks the target right before the first write, snapshots anything it would
    overwrite (only where the recovery replaces production: the sandbox), and puts it back on failure.
    """
    store = store or target.store()
    result = restore_to(target.restore_plane(), store, backup_id, replace=target.recovery_replaces_production(),
                        trusted_keys=target.settings.verifier_public_keys, owner=target.restore_owner())
    drill.note("redis_restore", result.to_json())
    return result


def update_dns(drill: DrillScenario, target: Target) -> DnsChange:
    """UPSERT the record to the current cluster's load balancer and read it back."""
    settings = target.settings
    change = point_record(settings.hosted_zone_id, settings.dns_record_name, target.load_balancer_address(),
                          aws=target.aws())
    seen = resolve_record(change.zone_id, change.name, aws=target.aws())
    drill.note("dns", {"record": change.name, "target": change.target, "resolved": seen, "change": change.change_id})
    if seen != change.target:
        raise TargetMissed(f"DNS record {change.name} points at {seen}, expected {change.target}",
                           fix="check the hosted zone and the UPSERT permissions")
    return change


def wait_healthy(drill: DrillScenario, url: str, *, deadline_s: float) -> float:
    """Poll the health endpoint until 200; TargetMissed with the last answer at the deadline."""
    waited, last = measure_wait_healthy(url, timeout=deadline_s, interval=drill.settings.probe_interval_seconds)
    if waited is None:
        raise TargetMissed(f"health endpoint {url} not healthy within {deadline_s:.0f}s "
                           f"(last: {last.status} {last.reason[:200]})", fix="see the recovery phases")
    return waited


def newest_verified_backup(target: Target) -> str:
    """Id of the newest backup whose verification record passed (RestoreRefused when none)."""
    store = target.store()
    keys = target.settings.verifier_public_keys
    if not keys:  # every record is verified again below: said once, not per backup
        log.warning(NO_VERIFIER_KEY_NOTICE)
    for entry in sorted(list_backups(store), key=lambda e: e.point_in_time, reverse=True):
        if not entry.has_verify_record or not entry.complete:
            continue
        if trusted_verification(store, entry.id, trusted_keys=keys).passed:
            return entry.id
    raise RestoreRefused(f"no verified backup in {store.url}", fix="take and verify a backup first")


def require_restored_matches(drill: DrillScenario, target: Target, manifest: Manifest,
                             restored: RestoreResult) -> None:
    """The restored server holds exactly the backup's keys as written, and the backup's newest canary is readable.

    A file restore is checked by what the server says it loaded; a network
    restore by what was streamed (keys that expired in between count as written).
    """
    client = target.redis()
    if restored.keys_from_backup is not None:
        in_file = restored.keys_from_backup
    else:
        info = client.info("persistence")
        in_file = int(info.get("rdb_last_load_keys_loaded", 0)) + int(info.get("rdb_last_load_keys_expired", 0))
    high = manifest.canary_high_water
    canary = client.get(canary_key(high)) if high is not None else None
    readable = canary is not None if high is not None else None
    drill.observe_restored("restored_keys", backup_id=manifest.id, keys_in_loaded_file=in_file,
                           manifest_key_count=manifest.key_count, canary_high_water=high, canary_readable=readable)
    drill.note("restored_check", {"backup_id": manifest.id, "keys_in_loaded_file": in_file,
                                  "manifest_key_count": manifest.key_count, "canary_high_water": high,
                                  "canary_readable": readable})
    if in_file != manifest.key_count or (high is not None and canary is None):
        raise TargetMissed(
            f"restored data does not match backup {manifest.id}: {in_file} keys loaded vs "
            f"{manifest.key_count} in the manifest, canary {high} {'present' if canary else 'missing'}",
            fix="the restore did not load the verified backup")
