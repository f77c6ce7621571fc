"""Clock honesty: the bundle records the store's clock beside the drill's, and `verify` flags a skew."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from harness.backup.store import open_store
from harness.cli import main
from harness.config import load_settings
from harness.drills.scenario import DrillScenario
from harness.evidence import integrity
from harness.evidence.bundle import build_bundle, seal
from harness.evidence.record import ScenarioRecord
from harness.evidence.upload import upload_bundle
from harness.evidence.verify import verify_bundle
from harness.measure import observations as obs
from harness.measure.clock_sources import local_clocks
from harness.measure.figures import clock_offset_s

T0 = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)


def _reading(store_time: datetime, *, before: datetime = T0, after: datetime | None = None) -> dict[str, object]:
    return {"store": "s3://evidence-test/", "object": None, "wall_before": before.isoformat(),
            "wall_after": (after or before + timedelta(milliseconds=40)).isoformat(), "store_time": store_time.isoformat()}


def _bundle(tmp_path: Path, readings: list[dict[str, object]], record: ScenarioRecord | None = None) -> Path:
    record = record or ScenarioRecord("Backup verification", "features/monthly_drill.feature", tags=("monthly",))
    return build_bundle([record], out_root=tmp_path / "evidence", env={},
                        meta={"run_id": "run-1", "target": "staging", "git_sha": "0" * 40, "operator": "sre",
                              "host": "ci", "clock_sources": {**local_clocks(), "store": readings}})


@pytest.mark.parametrize(("store_time", "offset"), [
    (T0, 0.0),                                        # stamped inside the window
    (T0 - timedelta(seconds=0.9), 0.0),               # whole seconds: up to 1 s early still agrees
    (T0 + timedelta(seconds=37.04), 37.0),            # the store is 37 s ahead of the drill's clock
    (T0 - timedelta(seconds=61), -60.0),              # behind
])
def test_the_offset_is_how_far_the_store_time_lies_outside_the_drills_window(store_time, offset):
    got = clock_offset_s(store_time, wall_before=T0, wall_after=T0 + timedelta(milliseconds=40))
    assert got == pytest.approx(offset, abs=1e-6)


def test_a_store_clock_that_agrees_passes_and_the_verdict_says_how_far(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, [_reading(T0.replace(microsecond=0))])
    report = verify_bundle(bundle, env={})
    assert report.ok, report.problems
    assert report.clock == "within ±2 s of the store's (1 reading(s), largest offset +0.0 s)"
    run = json.loads((bundle / integrity.RUN_JSON).read_text())
    assert run["clock_sources"]["wall"]["source"].startswith("datetime.now(UTC)")
    assert run["clock_sources"]["monotonic"]["adjustable"] is False


def test_a_wall_clock_37_s_behind_the_store_is_flagged_and_the_tolerance_is_configurable(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = _bundle(tmp_path, [_reading(T0 + timedelta(seconds=37.04))])

    report = verify_bundle(bundle, env={})

    assert report.problems == (
        ("clock: run: the drill's wall clock disagrees with the store's by +37.0 s (tolerance ±2 s beyond the store's "
        "1 s resolution): the Date header of an answer from s3://evidence-test/ is 2026-06-01T06:00:37.040000+00:00, "
        "stamped between 2026-06-01T06:00:00+00:00 and 2026-06-01T06:00:00.040000+00:00 by the drill's clock"),)
    assert main(["evidence", "verify", str(bundle)]) == 1
    assert main(["evidence", "verify", "--clock-tolerance", "60", str(bundle)]) == 0
    assert "clock: within ±60 s of the store's (1 reading(s), largest offset +37.0 s)" in capsys.readouterr().out


def test_the_last_modified_of_an_object_the_drill_wrote_is_kept_and_checked(tmp_path: Path) -> None:
    store = open_store(f"file://{tmp_path / 'store'}")
    (tmp_path / "store").mkdir()
    drill = DrillScenario(load_settings(env={}), ScenarioRecord("Restore", "features/cluster_loss.feature"),
                          tmp_path / "journals")
    written_at = datetime.now(UTC)
    store.put_bytes("backups/b1/manifest.json", b"{}")
    drill.observe_store_write(store, "backups/b1/manifest.json", written_at=written_at)
    drill.finish()
    bundle = _bundle(tmp_path, [], drill.record)
    assert verify_bundle(bundle, env={}).ok
    [line] = drill.record.observations[obs.STORE_CLOCK]
    assert line["object"] == "backups/b1/manifest.json" and line["store_time"] is not None

    skewed = next(bundle.rglob(f"{obs.STORE_CLOCK}.jsonl"))
    late = (datetime.fromisoformat(line["wall_after"]) + timedelta(minutes=5)).isoformat()
    skewed.write_text(json.dumps({**line, "store_time": late}) + "\n")
    seal(bundle, None)
    [problem] = verify_bundle(bundle, env={}).problems
    assert problem.startswith("clock: Restore: the drill's wall clock disagrees with the store's by +300.0 s")
    assert "the Last-Modified of file://" in problem and "object backups/b1/manifest.json" in problem


def test_a_run_that_read_no_store_time_says_its_offset_is_unknown(tmp_path: Path) -> None:
    report = verify_bundle(_bundle(tmp_path, []), env={})
    assert report.ok and report.clock == "unknown: no store time was read during the run"


def test_a_skewed_bundle_is_still_stored_for_the_auditor_to_judge(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path, [_reading(T0 + timedelta(minutes=10))])
    assert not verify_bundle(bundle, env={}).ok

    result = upload_bundle(bundle, f"file://{tmp_path / 'store'}", trusted_keys=())

    assert result.objects > 0
