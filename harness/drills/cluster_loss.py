"""Scenario 3: the cluster and the Redis data are lost; restore into a new cluster, timed per phase.

Clock: fault_injected → fault_confirmed → infra_ready → secrets_restored (from
the pipeline's newest configuration export) → data_restored → logs_restored (a
day of audit logs fetched and checked) → dns_updated → healthy → smoke_passed
(the restored Gateway serves a session written before the backup, and a rate-limit
counter kept its count; skipped, and said so, where no Gateway runs) → verified. RTO = verified −
fault_injected. RPO = age of the pipeline's newest backup at the fault + the
canary's measured loss (last acknowledged canary write − newest canary that
survived the restore), so a dead backup job shows in the RPO however fresh the
drill's own backup is. The canary loss is cross-checked with the point in time
of the drill's backup; the worst gap of the pipeline's series over 48 h is
reported beside the RPO.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.backup.catalog import newest_backup
from harness.backup.log_archive import LogDayCheck, archived_days, verify_log_day
from harness.backup.manifest import PIPELINE
from harness.drills.experiments import LOSE_CLUSTER, activity_output, run_for_drill
from harness.drills.pipeline import GAP_MEASURE, BackupGap, backup_age_s, pipeline_gap
from harness.drills.recovery import VerifiedBackup
from harness.drills.scenario import DrillScenario
from harness.drills.smoke import Gateway, SmokeSeed, check_after_restore, seed_through_gateway
from harness.errors import DrillError, TargetMissed
from harness.evidence.tables import REPORTED_ONLY
from harness.measure.canary import CanaryReport
from harness.measure.clock import FAULT_INJECTED, Measurement
from harness.measure.figures import rpo_s
from harness.target.base import LossReport, Target


def destroy_cluster(drill: DrillScenario, target: Target) -> LossReport:
    """Run the cluster-loss experiment; the canary stops at the fault, when its writes can no longer land."""
    def injected(_: str, __: Any) -> None:
        if drill.canary is not None:
            drill.canary.stop()
        drill.clock.mark(FAULT_INJECTED)

    drill.on_finish(target.end_recovery)  # on a real target: tear the DR environment down afterwards
    run = run_for_drill(
        drill, target, "cluster-loss",
        configuration={},
        on_start={LOSE_CLUSTER: injected},
        hypothesis_after_method=False,
    )
    output = activity_output(run, LOSE_CLUSTER)
    if not isinstance(output, dict):
        raise DrillError(f"the lose-cluster action did not report what it destroyed ({run.describe()})",
                         fix="see the experiment journal")
    loss = LossReport(**output)
    drill.note("loss", output)
    return loss


def confirm_cluster_lost(drill: DrillScenario, target: Target, loss: LossReport) -> None:
    proof = target.prove_loss(loss)
    drill.confirm_fault(proof.confirmed, proof.what, proof.evidence)


def fetch_audit_logs(drill: DrillScenario, target: Target) -> LogDayCheck:
    """The newest archived day of audit logs fetched and checked file by file against its manifest."""
    store = target.log_store()
    days = archived_days(store, "audit")
    if not days:
        raise TargetMissed(f"no audit log archive in {store.url} to restore",
                           fix="the daily log-archive CronJob has not run; see `sentinel-drill coverage`")
    with tempfile.TemporaryDirectory(prefix="sentinel-audit-") as tmp:
        check = verify_log_day(store, "audit", days[-1], restore_to=Path(tmp))
        restored = sum(1 for p in Path(tmp).rglob("*") if p.is_file())
    drill.note("audit_logs_restored", {**check.to_json(), "files_restored": restored})
    if not check.passed or restored != check.files:
        raise TargetMissed(f"audit logs of {days[-1].isoformat()} do not match their manifest: "
                           f"{'; '.join(check.problems) or f'{restored} of {check.files} files restored'}",
                           fix="restore the day from the bucket's previous object versions")
    return check


def seed_gateway(drill: DrillScenario, target: Target) -> SmokeSeed | None:
    """Before the backup: a session and rate-limited requests through the Gateway (None where no Gateway runs)."""
    why = target.why_no_gateway()
    if why:
        drill.note("integration_smoke", {"not_run": why})
        return None
    gateway = Gateway.of(target)
    seed = seed_through_gateway(gateway.base_url, gateway.api_key)
    drill.note("integration_smoke", {"seeded_user": seed.user, "seeded_counter": seed.counter})
    return seed


def check_restored_gateway(drill: DrillScenario, target: Target, seed: SmokeSeed | None) -> None:
    """After the restore: the new Gateway serves the seeded session and the rate-limit counter kept its count.

    Marks the clock's `smoke_passed` only where the check ran, so the RTO table never shows a phase that was not.
    """
    if seed is None:
        return
    gateway = Gateway.of(target)  # the restored environment's Gateway, with the restored API keys
    result = check_after_restore(gateway.base_url, gateway.api_key, seed)
    drill.note("integration_smoke", {"seeded_user": seed.user, "session_served_by": result.served_by,
                                     "counter_seeded": result.counter_seeded, "counter_now": result.counter_now,
                                     "limit": result.limit})
    drill.clock.mark("smoke_passed")


@dataclass(frozen=True)
class RpoResult:
    """The RPO's parts: the pipeline backup's age at the fault plus the canary loss of the drill's restore."""

    canary: CanaryReport
    measured_s: float
    backup_point_in_time: datetime
    expected_from_backup_s: float
    fault_at: datetime
    pipeline_backup_id: str
    pipeline_point_in_time: datetime
    worst_gap: BackupGap | None

    @property
    def pipeline_age_at_fault_s(self) -> float:
        return backup_age_s(self.pipeline_point_in_time, self.fault_at)

    @property
    def rpo_s(self) -> float:
        """What a restore from the pipeline would lose: its newest backup's age at the fault + the canary loss."""
        return rpo_s(self.pipeline_point_in_time, self.fault_at, self.measured_s)


def measure_rpo(drill: DrillScenario, target: Target, backup: VerifiedBackup) -> RpoResult:
    """Read the canaries back and find the pipeline's newest backup at the fault; see `RpoResult.rpo_s`.

    `measured_s` is the canary loss: the window between the last acknowledged
    and the newest surviving write of the restore from the drill's `backup`.
    """
    report = drill.read_canaries(target.redis())
    if report.newest_present is None or report.last_acknowledged is None:
        raise TargetMissed("RPO cannot be measured: no canary survived the restore",
                           fix="the restored data predates the canary writer; check the backup used")
    fault_at = drill.clock.event(FAULT_INJECTED).at
    store = target.store()
    pipeline = newest_backup(store, origin=PIPELINE, not_after=fault_at)
    if pipeline is None:
        raise TargetMissed(f"RPO cannot be measured: no pipeline backup in {store.url} predates the fault",
                           fix="the preflight found one; check the store's retention and deletions")
    drill.observe_backup("pipeline_at_fault", pipeline.id, pipeline.point_in_time, at=datetime.now(UTC))
    measured = report.data_loss_window_s
    expected = (report.last_acknowledged.at - backup.manifest.point_in_time).total_seconds()
    return RpoResult(report, measured, backup.manifest.point_in_time, expected, fault_at, pipeline.id,
                     pipeline.point_in_time, pipeline_gap(store, now=fault_at))


def cross_check_tolerance(backup: VerifiedBackup, canary_interval_s: float) -> float:
    """How far the canary window and "last write − backup point in time" may differ.

    LASTSAVE and the RDB's ctime have 1 s resolution; the newest canary in the
    file was written up to one interval before the save forked; and the point in
    time is when the save ended, so a long save widens the gap by its duration.
    """
    manifest = backup.manifest
    save_s = (manifest.point_in_time - manifest.rdb_ctime).total_seconds() if manifest.rdb_ctime else 0.0
    return 1.0 + 2 * canary_interval_s + max(0.0, save_s)


def require_rpo(drill: DrillScenario, rpo: RpoResult, backup: VerifiedBackup) -> None:
    """RPO (pipeline age at the fault + canary loss) within target; the canary loss consistent with the drill's backup.

    The worst 48 h gap of the pipeline is recorded beside it, reported, not enforced.
    """
    m = Measurement("RPO", drill.settings.rpo_seconds, rpo.rpo_s,
                    started_at=rpo.pipeline_point_in_time, ended_at=rpo.fault_at)
    drill.note("rpo", {
        "rpo_s": round(rpo.rpo_s, 3),
        "pipeline_backup_id": rpo.pipeline_backup_id,
        "pipeline_backup_point_in_time": rpo.pipeline_point_in_time.isoformat(),
        "fault_injected_at": rpo.fault_at.isoformat(),
        "pipeline_backup_age_at_fault_s": round(rpo.pipeline_age_at_fault_s, 3),
        "canary_loss_s": round(rpo.measured_s, 3),
        "worst_gap_48h": rpo.worst_gap.to_json() if rpo.worst_gap else None,
    })
    if rpo.worst_gap is not None:
        drill.record_measurement(Measurement(GAP_MEASURE, drill.settings.rpo_seconds, rpo.worst_gap.seconds,
                                             started_at=rpo.worst_gap.start, ended_at=rpo.worst_gap.end),
                                 unit_note=REPORTED_ONLY)
    drill.note("rpo_cross_check", {
        "backup_point_in_time": rpo.backup_point_in_time.isoformat(),
        "expected_loss_from_backup_s": round(rpo.expected_from_backup_s, 3),
        "canary_loss_s": round(rpo.measured_s, 3),
        "manifest_canary_high_water": backup.manifest.canary_high_water,
        "newest_canary_present": rpo.canary.newest_present.seq if rpo.canary.newest_present else None,
    })
    drill.require(m)
    newest = rpo.canary.newest_present
    tolerance = cross_check_tolerance(backup, drill.canary.interval_s if drill.canary else 0.25)
    if newest is None or newest.seq != backup.manifest.canary_high_water \
            or abs(rpo.expected_from_backup_s - rpo.measured_s) > tolerance or rpo.canary.holes:
        raise TargetMissed(
            f"RPO cross-check failed: newest canary {newest.seq if newest else None} vs manifest "
            f"{backup.manifest.canary_high_water}, canary loss {rpo.measured_s:.1f}s vs "
            f"{rpo.expected_from_backup_s:.1f}s expected from the backup's point in time, holes {len(rpo.canary.holes)}",
            fix="the restored data is not the backup the drill took; check the restore phase")
