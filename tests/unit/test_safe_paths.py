"""The hostile-name corpus through `path_under` and every local caller: the file store, a log day's restore,
a bundle's files, a chain directory.

For each name: refused with one line, nothing written (or read) outside the root, and the good names
beside it handled as before. A log day skips a hostile member, reports it, and fails; a chain or a
bundle reports it as a problem and checks the rest.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from harness.backup.log_archive import verify_log_day
from harness.backup.store import FileStore
from harness.evidence import integrity
from harness.evidence.bundle import build_bundle
from harness.evidence.chain import verify_chain
from harness.evidence.chain_store import read_local_heads
from harness.evidence.record import ScenarioRecord
from harness.evidence.verify import verify_bundle
from harness.safe_paths import UnsafeName, member_path_under, path_under, write_under
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

CASES = sorted(hostile_names(Path("/outside")))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("the host's own file\n")
    path = tmp_path / "root"
    path.mkdir()
    return path


def _outside(root: Path) -> Path:
    return root.parent / "outside"


def _untouched(root: Path, before: dict[str, bytes]) -> None:
    """Nothing outside `root` changed, and no hostile target exists anywhere."""
    assert snapshot(root.parent, leaving_out=root) == before
    assert pwned_anywhere(root.parent) == []


# --- the function itself ------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES)
def test_every_hostile_name_is_refused_in_one_line_naming_it_and_the_root(root: Path, case: str) -> None:
    name = hostile_names(_outside(root))[case]
    with pytest.raises(UnsafeName) as refused:
        path_under(root, name, what="store key")
    line = refused.value.one_line()
    assert refused.value.exit_code == 2 and "\n" not in line
    assert line.startswith(f"refused store key {name!r}: ") and f"(under {root})" in line


@pytest.mark.parametrize("name", ["a", "run-1/SHA256SUMS", "logs/audit/2026/11/28/x.tar.gz", "x..y", "...", ".hidden"])
def test_plain_names_become_paths_below_the_root(root: Path, name: str) -> None:
    assert path_under(root, name) == root.joinpath(*name.split("/"))


def test_links_devices_and_files_in_the_way_below_the_root_are_refused(root: Path) -> None:
    outside = _outside(root)
    (root / "linked-dir").symlink_to(outside, target_is_directory=True)
    (root / "linked-file").symlink_to(outside / "secret")
    os.mkfifo(root / "fifo")
    (root / "file").write_text("a file, not a directory\n")
    before = snapshot(root.parent, leaving_out=root)

    for name, why in [("linked-dir/pwned", "'linked-dir' below the root is a symbolic link"),
                      ("linked-file", "'linked-file' below the root is a symbolic link"),
                      ("fifo", "'fifo' below the root is a device, FIFO or socket"),
                      ("file/pwned", "'file' below the root is not a directory")]:
        with pytest.raises(UnsafeName, match=f"{why} \\(under {root}\\)"):
            write_under(root, name, b"x")
    _untouched(root, before)
    assert (outside / "secret").read_text() == "the host's own file\n"


def test_archive_members_that_are_links_devices_or_fifos_are_refused(root: Path) -> None:
    refusals = []
    for member in special_members(_outside(root)):
        with pytest.raises(UnsafeName) as refused:
            member_path_under(root, member)
        refusals.append(refused.value.why)
    assert refusals == [f"it is a symbolic link (to '{_outside(root)}/{PWNED}')",
                        f"it is a hard link (to '{GOOD_LOG}')", "it is a device", "it is a FIFO"]


# --- the file store: keys given and keys listed -----------------------------------------------------------

@pytest.mark.parametrize("case", CASES)
def test_the_file_store_refuses_every_hostile_key_for_every_operation(root: Path, case: str) -> None:
    store = FileStore(root)
    key = hostile_names(_outside(root))[case]
    source = root / "source.bin"
    source.write_bytes(b"x")
    before = snapshot(root.parent, leaving_out=root)
    operations = {
        "put_bytes": lambda: store.put_bytes(key, b"x"),
        "put_file": lambda: store.put_file(key, source),
        "get_bytes": lambda: store.get_bytes(key),
        "get_file": lambda: store.get_file(key, root / "download.bin"),
        "exists": lambda: store.exists(key),
        "child": lambda: store.child(key),
    }
    for operation, call in operations.items():
        with pytest.raises(UnsafeName, match="^refused store (key|prefix) "):
            call()
        assert not (root / "download.bin").exists(), operation
    _untouched(root, before)
    assert [o.key for o in store.list("")] == ["source.bin"]  # the good object is still there and listed


def test_the_file_store_lists_no_link_and_follows_none(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = FileStore(root)
    store.put_bytes("redis/2026/11/26/20261126T061500Z-1a2b3c.rdb", b"REDIS0010")
    (root / "redis" / "2026" / "11" / "26" / "20261126T071500Z-2b3c4d.rdb").symlink_to(_outside(root) / "secret")
    (root / "redis" / "elsewhere").symlink_to(_outside(root), target_is_directory=True)
    before = snapshot(root.parent, leaving_out=root)

    with caplog.at_level(logging.WARNING, logger="harness.backup.store"):
        listed = [o.key for o in store.list("redis/")]
    assert listed == ["redis/2026/11/26/20261126T061500Z-1a2b3c.rdb"]
    assert sum("skipped in the listing" in r.getMessage() for r in caplog.records) == 2
    with pytest.raises(UnsafeName, match="is a symbolic link"):
        store.get_bytes("redis/2026/11/26/20261126T071500Z-2b3c4d.rdb")
    with pytest.raises(UnsafeName, match="'redis/elsewhere' below the root is a symbolic link"):
        store.put_bytes(f"redis/elsewhere/{PWNED}", b"x")
    _untouched(root, before)


# --- a log day's restore: real tar archives -----------------------------------------------------------

def test_a_log_day_with_hostile_members_fails_skips_them_and_still_restores_the_good_one(root: Path) -> None:
    outside = _outside(root)
    store_dir = root.parent / "store"
    store_dir.mkdir()
    store = FileStore(store_dir)
    restored = root  # the directory the restore writes to, with links already planted in it
    (restored / "linked-dir").symlink_to(outside, target_is_directory=True)
    (restored / "planted.log").symlink_to(outside / "secret")
    names = tar_member_names(outside)
    members = {GOOD_LOG: b"good\n", **{name: b"hostile\n" for name in names.values()},
               f"linked-dir/{PWNED}": b"through a link\n", "planted.log": b"over the host's file\n"}
    put_log_day(store, root.parent, members, special_members(outside))
    before = snapshot(root.parent, leaving_out=store_dir)

    check = verify_log_day(store, "audit", DAY, restore_to=restored)

    assert not check.passed
    refused = [p for p in check.problems if p.startswith("refused archive member ")]
    assert len(refused) == len(names) + 2 + len(special_members(outside)) == len(check.problems)
    assert all("\n" not in p and f"(under {restored})" in p for p in refused)
    assert (restored / GOOD_LOG).read_bytes() == b"good\n"
    after = snapshot(root.parent, leaving_out=store_dir)
    assert after.pop(str(restored / GOOD_LOG)) == b"good\n" and after == before
    assert pwned_anywhere(root.parent) == [] and (outside / "secret").read_text() == "the host's own file\n"

    shutil.rmtree(restored)
    unrestored = verify_log_day(store, "audit", DAY)  # checked only: the same names fail the day
    assert not unrestored.passed
    assert len(unrestored.problems) == len(names) + len(special_members(outside))


# --- evidence: a bundle's files and a chain's directories -------------------------------------------------

def _bundle(root: Path, run_id: str = "run-1") -> Path:
    record = ScenarioRecord(name="Brain pods are killed", feature="Scenario 1 — pod failure", tags=("scenario-1",))
    return build_bundle([record], out_root=root, meta={"run_id": run_id, "target": "staging"}, env={})


def test_hostile_names_in_sha256sums_are_refused_never_read(root: Path) -> None:
    bundle = _bundle(root)
    names = hostile_names(_outside(root))
    with (bundle / integrity.SUMS).open("a") as sums:
        for name in names.values():
            sums.write(f"{'0' * 64}  {name}\n")

    report = verify_bundle(bundle, trusted_keys=[])

    for name in names.values():
        assert any(p.startswith(f"refused bundle file {name!r}: ") for p in report.problems), name
    assert not any(p.startswith("missing: ") for p in report.problems)


def test_links_and_fifos_inside_a_bundle_are_refused_not_followed(root: Path) -> None:
    bundle = _bundle(root)
    secret = _outside(root) / "secret"
    (bundle / "evil.txt").symlink_to(secret)
    (bundle / "elsewhere").symlink_to(_outside(root), target_is_directory=True)
    os.mkfifo(bundle / "pipe")  # reading it would block verify forever
    # the attacker lists the link with the sha256 of what it points at, so following it would "verify"
    with (bundle / integrity.SUMS).open("a") as sums:
        sums.write(f"{integrity.sha256_file(secret)}  evil.txt\n")

    report = verify_bundle(bundle, trusted_keys=[])

    assert "refused bundle file 'evil.txt': 'evil.txt' below the root is a symbolic link (under " \
           f"{bundle})" in report.problems
    assert any(p.startswith("refused bundle file 'elsewhere': ") for p in report.problems)
    assert any(p.startswith("refused bundle file 'pipe': 'pipe' below the root is a device") for p in report.problems)


def test_a_bundle_directory_or_chain_head_that_is_a_link_is_refused_and_the_rest_verified(root: Path) -> None:
    chain = root / "evidence"
    _bundle(chain, "run-1")
    elsewhere = _bundle(_outside(root), "run-2")
    (chain / "run-2").symlink_to(elsewhere, target_is_directory=True)
    (chain / "_heads").mkdir()
    (chain / "_heads" / "00000001-run-1.json").symlink_to(_outside(root) / "secret")

    report = verify_chain(chain, trusted_keys=[], heads=read_local_heads(chain, trusted=()))

    assert [b.run_id for b in report.bundles] == ["run-1"] and report.bundles[0].ok
    assert f"refused bundle directory 'run-2': 'run-2' below the root is a symbolic link (under {chain})" \
           in report.problems
    assert "chain head 00000001-run-1.json: refused: '00000001-run-1.json' below the root is a symbolic link" \
           in report.problems
