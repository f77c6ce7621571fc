"""Scenario 3: the cluster and the Redis data are lost; restore into a new cluster, timed per phase.

Clock: fault_injected → fault_confirmed → infra_ready → secrets_restored (from
the pipeline's newest configuration export) → data_restored → logs_restored (a
day of audit logs fetched and checked) → dns_updated → healthy → smoke_passed
(the restored Gateway serves a session written before the backup, and a rate-limit
counter kept its count; skipped, and said so, where no Gateway runs) → verified. RTO = verified −
fault_injected. Redis comes back from a pipeline backup only
(harness.drills.restore_point: asked of the backup CronJob before the fault, or
its newest as it is), and the restore is judged by what production held then:
every key prefix back (harness.drills.keyspace). The RPO is observed at the
canary boundary that backup draws (harness.drills.rpo), or computed as fault
time − its point in time where it predates the canary, and said so; the worst
gap of the pipeline's series over 48 h is reported beside it.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.backup.log_archive import LogDayCheck, archived_days, verify_log_day
from harness.backup.manifest import Manifest
from harness.drills.experiments import LOSE_CLUSTER, activity_output, run_for_drill
from harness.drills.pipeline import GAP_MEASURE, pipeline_gap
from harness.drills.restore_point import RestorePoint
from harness.drills.rpo import COMPUTED, RpoObservation, observe_rpo, present_canaries
from harness.drills.scenario import DrillScenario
from harness.drills.smoke import Gateway, SmokeSeed, check_after_restore, seed_through_gateway
from harness.errors import DrillError, TargetMissed
from harness.evidence.tables import REPORTED_ONLY
from harness.measure.clock import FAULT_INJECTED, Measurement
from harness.measure.observations import RESTORED_BACKUP
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


def check_restored_gateway(drill: DrillScenario, target: Target, seed: SmokeSeed | None,
                           point: RestorePoint) -> None:
    """After the restore: the new Gateway serves the seeded session and the rate-limit counter kept its count.

    Not where the restored backup is the pipeline's newest as it was (it predates the seed: said so).
    Marks the clock's `smoke_passed` only where the check ran, so the RTO table never shows a phase that was not.
    """
    if seed is None:
        return
    if not point.requested:
        drill.note("integration_smoke", {"seeded_user": seed.user, "not_run": (
            f"the restored backup {point.backup_id} is the pipeline's newest as it was (request_pipeline_backup: "
            "false): it predates the session the drill seeded, so the restored Gateway cannot serve it")})
        return
    gateway = Gateway.of(target)  # the restored environment's Gateway, with the restored API keys
    result = check_after_restore(gateway.base_url, gateway.api_key, seed)
    drill.note("integration_smoke", {"seeded_user": seed.user, "session_served_by": result.served_by,
                                     "counter_seeded": result.counter_seeded, "counter_now": result.counter_now,
                                     "limit": result.limit})
    drill.clock.mark("smoke_passed")


def measure_rpo(drill: DrillScenario, target: Target, point: RestorePoint) -> RpoObservation:
    """Read the canary writes back from the restored Redis and cut them at the restored backup (harness.drills.rpo).

    Each read-back is kept raw (DrillScenario.read_canaries), and so are the restored backup's point in time and
    canary high-water mark: `evidence verify --recompute` draws the same boundary from them alone.
    """
    assert drill.canary is not None, "the canary writer never ran"
    client = target.redis()
    acknowledged = list(drill.canary.acknowledged)  # the writer stopped at the fault
    drill.read_canaries(client)
    manifest = point.manifest
    drill.observe_backup(RESTORED_BACKUP, manifest.id, manifest.point_in_time, at=datetime.now(UTC),
                         origin=manifest.origin, canary_high_water=manifest.canary_high_water)
    return observe_rpo(manifest, acknowledged, present_canaries(client, acknowledged),
                       fault_at=drill.clock.event(FAULT_INJECTED).at)


def cross_check_tolerance(manifest: Manifest, canary_interval_s: float) -> float:
    """How far the canary window and "last write − backup point in time" may differ.

    LASTSAVE and the RDB's ctime have 1 s resolution; the newest canary in the
    file was written up to one interval before the save forked; and the point in
    time is when the save ended, so a long save widens the gap by its duration.
    """
    save_s = (manifest.point_in_time - manifest.rdb_ctime).total_seconds() if manifest.rdb_ctime else 0.0
    return 1.0 + 2 * canary_interval_s + max(0.0, save_s)


def require_rpo(drill: DrillScenario, target: Target, rpo: RpoObservation, point: RestorePoint) -> Measurement:
    """The restored backup cuts the canary cleanly at its point in time, and the RPO is within target.

    Evidence: the backup (id, origin, point in time), the canary boundary, the RPO and how it was found
    (observed, or computed where the backup predates the canary), and the pipeline's worst 48 h gap
    beside it (reported, not enforced).
    """
    boundary = rpo.boundary
    gap = pipeline_gap(target.store(), now=rpo.fault_at)
    drill.note("canary_boundary", {"backup_id": rpo.backup_id, "origin": rpo.origin,
                                   "backup_point_in_time": rpo.point_in_time.isoformat(), **boundary.to_json()})
    drill.note("rpo", {**rpo.to_json(), "worst_gap_48h": gap.to_json() if gap else None})
    if gap is not None:
        drill.record_measurement(Measurement(GAP_MEASURE, drill.settings.rpo_seconds, gap.seconds,
                                             started_at=gap.start, ended_at=gap.end), unit_note=REPORTED_ONLY)
    if not boundary.clean:
        raise TargetMissed(f"restored backup {rpo.backup_id} does not cut the canary at its point in time: "
                           f"{boundary.describe()}",
                           fix="the restored data is not the backup it names; check the restore phase")
    interval = drill.canary.interval_s if drill.canary else 0.25
    expected = rpo.expected_from_backup_s()
    if rpo.observed and abs(expected - rpo.rpo_s) > cross_check_tolerance(point.manifest, interval):
        raise TargetMissed(
            f"RPO cross-check failed for backup {rpo.backup_id}: canary loss {rpo.rpo_s:.1f}s vs {expected:.1f}s "
            f"from its point in time {rpo.point_in_time.isoformat()} to the last write",
            fix="the backup's point in time does not match the canaries it holds; check the pipeline's manifest")
    m = Measurement("RPO", drill.settings.rpo_seconds, rpo.rpo_s, started_at=rpo.started_at, ended_at=rpo.ended_at)
    drill.record_measurement(m, unit_note="" if rpo.observed else COMPUTED)
    if not m.met:
        raise TargetMissed(f"{m.describe()} ({rpo.how}; backup {rpo.backup_id})",
                           fix="the pipeline's backups are further apart than the RPO; check the backup CronJob")
    return m
