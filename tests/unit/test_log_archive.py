"""Daily log archives: the day's files, a manifest that names them, and a check that notices any change."""

from __future__ import annotations

import os
import tarfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from harness.backup.log_archive import (
    archive_key,
    archive_logs,
    archived_days,
    files_of_day,
    manifest_key,
    verify_log_day,
)
from harness.backup.store import FileStore
from harness.errors import CheckFailed, StoreError, UsageError
from tests.hostile_names import put_log_day

DAY = date(2026, 11, 28)


def _store(root: Path) -> FileStore:
    (root / "store").mkdir()
    return FileStore(root / "store")


def _logs(root: Path) -> Path:
    src = root / "audit"
    src.mkdir()
    (src / "audit-2026-11-28.log").write_text('{"event": "login"}\n')
    (src / "audit-20261127.log").write_text('{"event": "older"}\n')
    nameless = src / "current.log"
    nameless.write_text('{"event": "by mtime"}\n')
    at = datetime(2026, 11, 28, 12, tzinfo=UTC).timestamp()
    os.utime(nameless, (at, at))
    return src


def test_the_days_files_are_chosen_by_name_then_by_modification_time(tmp_path: Path):
    src = _logs(tmp_path)
    assert [p.name for p in files_of_day(src, DAY)] == ["audit-2026-11-28.log", "current.log"]


def test_archive_round_trip_restores_every_file(tmp_path: Path):
    store = _store(tmp_path)
    manifest = archive_logs(_logs(tmp_path), "audit", DAY, store)

    assert manifest.archive_key == "logs/audit/2026/11/28/audit-20261128.tar.gz" == archive_key("audit", DAY)
    assert [f.name for f in manifest.files] == ["audit-2026-11-28.log", "current.log"]
    restored = tmp_path / "restored"
    check = verify_log_day(store, "audit", DAY, restore_to=restored)
    assert check.passed and check.files == 2
    assert (restored / "current.log").read_text() == '{"event": "by mtime"}\n'
    assert archived_days(store, "audit") == [DAY]


def test_a_changed_archive_is_named(tmp_path: Path):
    store = _store(tmp_path)
    archive_logs(_logs(tmp_path), "audit", DAY, store)
    forged = tmp_path / "forged.tar.gz"
    extra = tmp_path / "audit-2026-11-28.log"
    extra.write_text('{"event": "rewritten"}\n')
    with tarfile.open(forged, "w:gz") as tar:
        tar.add(extra, arcname="audit-2026-11-28.log")
    store.put_file(archive_key("audit", DAY), forged)

    check = verify_log_day(store, "audit", DAY)

    assert not check.passed
    assert check.problems == (
        "archive logs/audit/2026/11/28/audit-20261128.tar.gz sha256 differs from its manifest",
        "audit-2026-11-28.log differs from the manifest (size or sha256)",
        "current.log is in the manifest but not in the archive",
    )


def test_a_truncated_archive_is_named_not_a_traceback(tmp_path: Path):
    store = _store(tmp_path)
    archive_logs(_logs(tmp_path), "audit", DAY, store)
    path = tmp_path / "store" / archive_key("audit", DAY)
    path.write_bytes(path.read_bytes()[:40])
    problems = verify_log_day(store, "audit", DAY).problems
    assert any("cannot be read" in p for p in problems)


def test_nothing_to_archive_a_missing_day_and_a_bad_type_are_one_line_errors(tmp_path: Path):
    store = _store(tmp_path)
    with pytest.raises(CheckFailed, match="no audit log files for 2026-11-26"):
        archive_logs(_logs(tmp_path), "audit", date(2026, 11, 26), store)
    with pytest.raises(StoreError, match="no audit log archive for 2026-11-28"):
        verify_log_day(store, "audit", DAY)
    with pytest.raises(UsageError, match="unknown log type"):
        archive_logs(tmp_path, "debug", DAY, store)
    with pytest.raises(UsageError, match="does not exist"):
        archive_logs(tmp_path / "nope", "audit", DAY, store)
    assert not store.exists(manifest_key("audit", date(2026, 11, 26)))


def test_a_member_that_climbs_out_of_the_restore_directory_is_not_written_and_fails_the_day(tmp_path: Path):
    store = _store(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    put_log_day(store, tmp_path, {"audit-2026-11-28.log": b"good\n", "../escaped.log": b"climbed\n",
                                   f"{outside}/absolute.log": b"absolute\n"})
    restored = tmp_path / "restored"

    check = verify_log_day(store, "audit", DAY, restore_to=restored)

    assert not (tmp_path / "escaped.log").exists() and not (outside / "absolute.log").exists()
    assert not check.passed
    assert (restored / "audit-2026-11-28.log").read_bytes() == b"good\n"  # the good member is still restored
