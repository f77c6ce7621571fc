"""The backup pipeline, not the drill, is measured: origin, freshness, verification record and the 48 h gap."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.backup import layout
from harness.backup.catalog import backup_series, latest_backup, newest_backup
from harness.backup.manifest import DRILL, PIPELINE, Manifest, Origin, SourceInfo
from harness.backup.store import FileStore
from harness.backup.verify import NO_VERIFIER_KEY_NOTICE
from harness.config import Settings
from harness.drills.pipeline import BackupGap, backup_age_s, check_pipeline_backup, pipeline_gap, worst_gap
from harness.drills.rpo import COMPUTED, canary_boundary, observe_rpo
from harness.errors import PipelineBackupUnfit, StoreError, VerificationFailed
from harness.evidence.tables import REPORTED_ONLY, target_rows
from harness.measure.canary import CanaryWrite
from harness.signing import generate_keypair, load_private_key, sign_record

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
#: the verifier's pair: its records are the only ones the preflight believes without verifying again
VERIFIER = generate_keypair()


def _at(hours_ago: float) -> datetime:
    return NOW - timedelta(hours=hours_ago)


def _manifest(backup_id: str, origin: Origin | None) -> bytes:
    pit = layout.point_in_time_of(backup_id)
    manifest = Manifest(
        id=backup_id, point_in_time=pit, source=SourceInfo(host="h", port=1, role="master", run_id="r"),
        redis_version="7.0.15", rdb_version=10, size=9, sha256="0" * 64, key_count=0, types={},
        created_at=pit, tool_version="0", origin=origin or PIPELINE,
    )
    data = json.loads(manifest.to_json())
    if origin is None:  # written before manifests had an origin
        del data["origin"]
    return json.dumps(data).encode()


def _add(store: FileStore, when: datetime, origin: Origin | None = PIPELINE, *, verified: bool | None = True) -> str:
    backup_id = layout.new_backup_id(when)
    store.put_bytes(layout.rdb_key(backup_id), b"REDIS0010")
    store.put_bytes(layout.manifest_key(backup_id), _manifest(backup_id, origin))
    if verified is not None:
        record = {"backup_id": backup_id, "passed": verified, "failed_check": None if verified else "checksum",
                  "sha256": "0" * 64, "verified_at": when.isoformat()}
        signed = sign_record(record, load_private_key(VERIFIER.private_pem))
        store.put_bytes(layout.verify_key(backup_id), json.dumps(signed).encode())
    return backup_id


def _settings(**kw: object) -> Settings:
    return Settings(**{"rpo_seconds": 3600, "verifier_public_keys": (VERIFIER.public,), **kw})  # type: ignore[arg-type]


# --- age and gap: given timestamps ---------------------------------------------------------------

def test_age_is_seconds_from_the_point_in_time_and_never_negative():
    assert backup_age_s(_at(2), NOW) == 7200
    assert backup_age_s(NOW + timedelta(seconds=3), NOW) == 0.0


def test_the_worst_gap_is_the_longest_hole_in_the_hourly_series_with_its_start_and_end():
    hourly = [_at(h) for h in range(47, 0, -1) if h not in (20, 21, 22)]  # the job missed three runs
    gap = worst_gap(hourly, now=NOW)
    assert gap == BackupGap(_at(23), _at(19))
    assert gap.seconds == 4 * 3600


def test_the_gap_from_the_newest_backup_to_now_counts():
    gap = worst_gap([_at(h) for h in range(30, 4, -1)], now=NOW)  # nothing for the last 5 hours
    assert gap == BackupGap(_at(5), NOW)


def test_a_gap_older_than_the_window_is_cut_at_the_window_start():
    gap = worst_gap([_at(24 * 7), _at(1)], now=NOW)  # a week dead, then one run an hour ago
    assert gap == BackupGap(_at(48), _at(1))


def test_a_series_that_starts_inside_the_window_has_no_gap_before_it():
    gap = worst_gap([_at(2), _at(1)], now=NOW)  # a new store (a fresh sandbox)
    assert gap is not None and gap.seconds == 3600


def test_no_backup_at_all_has_no_gap_and_future_points_are_ignored():
    assert worst_gap([], now=NOW) is None
    assert worst_gap([NOW + timedelta(hours=1)], now=NOW) is None


# --- origin: a drill's backup never stands in for the pipeline's ------------------------------------

def test_manifests_without_an_origin_are_the_pipelines():
    backup_id = layout.new_backup_id(NOW)
    assert Manifest.from_json(_manifest(backup_id, None)).origin == PIPELINE
    assert Manifest.from_json(_manifest(backup_id, DRILL)).origin == DRILL


def test_latest_by_origin_skips_the_drills_own_backups(tmp_path: Path):
    store = FileStore(tmp_path)
    old = _add(store, _at(3), None)
    pipeline = _add(store, _at(2))
    drill = _add(store, _at(0.001), DRILL)
    store.put_bytes(layout.rdb_key("20261126-1100"), b"REDIS0010")  # legacy, 1 h ago: pipeline's
    assert latest_backup(store).id == drill
    assert latest_backup(store, origin=DRILL).id == drill
    assert latest_backup(store, origin=PIPELINE).id == "20261126-1100"
    assert latest_backup(store, origin=PIPELINE, not_after=_at(1.5)).id == pipeline
    assert newest_backup(store, origin=PIPELINE, not_after=_at(2.5)).id == old  # type: ignore[union-attr]
    assert newest_backup(store, origin=PIPELINE, not_after=_at(4)) is None


def test_no_pipeline_backup_names_the_origin(tmp_path: Path):
    store = FileStore(tmp_path)
    _add(store, _at(0.1), DRILL)
    with pytest.raises(StoreError, match="no complete pipeline backup"):
        latest_backup(store, origin=PIPELINE)


def test_the_series_is_led_by_the_last_pipeline_backup_before_the_window(tmp_path: Path):
    store = FileStore(tmp_path)
    ids = [_add(store, _at(h)) for h in (60, 50, 10, 2)]
    _add(store, _at(1), DRILL)
    series = backup_series(store, origin=PIPELINE, since=_at(48), until=NOW)
    assert [e.id for e in series] == ids[1:]
    assert pipeline_gap(store, now=NOW) == BackupGap(_at(48), _at(10))


# --- the preflight ------------------------------------------------------------------------------

def test_a_stale_pipeline_backup_is_refused_however_fresh_the_drills_own_backup(tmp_path: Path):
    store = FileStore(tmp_path)
    stale = _add(store, _at(7 * 24))  # the hourly job died a week ago
    _add(store, _at(0.0003), DRILL)  # the drill's backup, one second old
    with pytest.raises(PipelineBackupUnfit, match=rf"refused before any fault: the newest pipeline backup {stale}.*"
                                                  r"604800\.0s old, older than the RPO target 3600s"):
        check_pipeline_backup(store, _settings(), now=NOW)


def test_only_drill_backups_is_no_pipeline_backup(tmp_path: Path):
    store = FileStore(tmp_path)
    _add(store, _at(0.01), DRILL)
    with pytest.raises(PipelineBackupUnfit, match="no backup written by the backup pipeline"):
        check_pipeline_backup(store, _settings(), now=NOW)


def test_a_fresh_verified_pipeline_backup_passes_with_its_gap(tmp_path: Path):
    store = FileStore(tmp_path)
    for h in (4, 3, 1):
        newest = _add(store, _at(h))
    found = check_pipeline_backup(store, _settings(), now=NOW)
    assert found.id == newest and found.age_s == 3600
    assert found.verification.startswith("passing verification record")
    assert found.lock.startswith("not required")
    assert found.worst_gap == BackupGap(_at(3), _at(1))
    assert found.to_json()["worst_gap_48h"] == {"start": _at(3).isoformat(), "end": _at(1).isoformat(),
                                                "seconds": 7200.0}


def test_a_pipeline_backup_whose_verification_failed_is_refused(tmp_path: Path):
    store = FileStore(tmp_path)
    bad = _add(store, _at(0.5), verified=False)
    with pytest.raises(VerificationFailed, match=rf"before any fault: the newest pipeline backup {bad} is not "
                                                 "verified .*check checksum failed"):
        check_pipeline_backup(store, _settings(), now=NOW)


def test_a_file_store_cannot_lock_so_retention_is_not_applicable(tmp_path: Path):
    store = FileStore(tmp_path)
    _add(store, _at(0.5))
    found = check_pipeline_backup(store, _settings(store_retention_days=7), now=NOW)
    assert found.lock.startswith("not applicable")


# --- RPO in the evidence ------------------------------------------------------------------------

def _writes(first: int, last: int) -> list[CanaryWrite]:
    return [CanaryWrite(seq, NOW - timedelta(seconds=(last - seq) * 0.25)) for seq in range(first, last + 1)]


def test_the_canary_boundary_of_a_backup_inside_the_canarys_run_gives_the_observed_loss_window():
    acknowledged = _writes(101, 120)
    boundary = canary_boundary(acknowledged, set(range(1, 111)), backup_high_water=110)  # 1–100: earlier runs
    assert not boundary.predates_canary and boundary.clean
    assert (boundary.present_before, boundary.absent_after) == (10, 10)
    assert boundary.last_in_backup == acknowledged[9] and boundary.first_after == acknowledged[10]
    assert boundary.loss_window_s == 2.5  # last acknowledged (120) − newest restored (110), 0.25 s apart


def test_a_write_after_the_backup_that_came_back_or_one_before_it_that_did_not_is_named():
    boundary = canary_boundary(_writes(1, 10), {1, 2, 4, 5, 9}, backup_high_water=5)
    assert not boundary.clean
    assert boundary.missing_before == (3,) and boundary.present_after == (9,)
    assert "1 write(s) the backup holds are missing (first 3)" in boundary.describe()
    assert "1 write(s) after the backup are present (first 9)" in boundary.describe()


def test_a_backup_older_than_the_canary_has_its_rpo_computed_from_the_fault_and_labelled():
    acknowledged = _writes(51, 60)
    manifest = SimpleNamespace(id="b1", origin="pipeline", point_in_time=_at(0.5), canary_high_water=42)
    observed = observe_rpo(manifest, acknowledged, {42}, fault_at=NOW)  # type: ignore[arg-type]
    assert observed.boundary.predates_canary and observed.boundary.clean and not observed.observed
    assert observed.rpo_s == 1800 and observed.how == COMPUTED
    assert observed.to_json()["backup_id"] == "b1"


def test_a_reported_gap_is_shown_beside_the_target_without_a_breach():
    rows = target_rows([
        {"name": "RPO", "target_s": 3600, "measured_s": 1801.5, "met": True},
        {"name": "worst backup gap (48 h)", "target_s": 3600, "measured_s": 7200, "met": False,
         "note": REPORTED_ONLY},
    ])
    assert [r.verdict for r in rows] == ["not measured", "met", "over (reported, not enforced)"]


def test_without_a_verifier_key_the_pipelines_passing_record_is_verified_again(tmp_path: Path,
                                                                              caplog: pytest.LogCaptureFixture):
    store = FileStore(tmp_path)
    backup = _add(store, _at(0.5))  # a signed "passed" for an RDB that is not one
    with caplog.at_level("WARNING", logger="harness.drills.pipeline"), \
            pytest.raises(VerificationFailed, match=rf"{backup} is not verified \(check checksum: "):
        check_pipeline_backup(store, _settings(verifier_public_keys=()), now=NOW)
    assert [r.getMessage() for r in caplog.records] == [NO_VERIFIER_KEY_NOTICE]
