"""The hostile-name corpus: names whoever writes the store may choose, and archives built from them.

Shared by the unit corpus (tests/unit/test_safe_paths.py) and the one over moto's S3
(tests/integration/test_hostile_names.py). Every name here must be refused wherever it would
become a path, with nothing written outside the root the caller gave.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from harness.backup.log_archive import archive_key, manifest_key
from harness.backup.store import BackupStore
from harness.digests import sha256_file

#: the name every hostile entry tries to create; it must exist nowhere after a test
PWNED = "pwned"
DAY = date(2026, 11, 28)
GOOD_LOG = "audit-2026-11-28.log"


def hostile_names(outside: Path) -> dict[str, str]:
    """Case id → name. `outside` is an absolute directory beside the root (where an absolute name points)."""
    return {
        "absolute": f"{outside}/{PWNED}",
        "dot-dot": f"../{PWNED}",
        "dot-dot-inside": f"a/../../{PWNED}",
        "nul": f"a\x00{PWNED}",
        "slash-only": "/",
        "backslashes": f"a\\..\\..\\{PWNED}",
        "empty-part": f"a//{PWNED}",
        "dot-part": f"./{PWNED}",
    }


def tar_member_names(outside: Path) -> dict[str, str]:
    """The corpus a tar header can carry (ustar names end at the first NUL, so that one is left out)."""
    return {case: name for case, name in hostile_names(outside).items() if case != "nul"}


def special_members(outside: Path) -> list[tarfile.TarInfo]:
    """Members that are not regular files: a symlink out, a hard link, a character device, a FIFO."""
    symlink = tarfile.TarInfo("linked.log")
    symlink.type, symlink.linkname = tarfile.SYMTYPE, f"{outside}/{PWNED}"
    hardlink = tarfile.TarInfo("hardlinked.log")
    hardlink.type, hardlink.linkname = tarfile.LNKTYPE, GOOD_LOG
    device = tarfile.TarInfo("device.log")
    device.type, device.devmajor, device.devminor = tarfile.CHRTYPE, 1, 3
    fifo = tarfile.TarInfo("fifo.log")
    fifo.type = tarfile.FIFOTYPE
    return [symlink, hardlink, device, fifo]


def put_log_day(store: BackupStore, work: Path, members: dict[str, bytes],
                specials: Iterable[tarfile.TarInfo] = ()) -> None:
    """A day's archive (a real tar.gz) and its manifest naming every regular member with its true size and
    sha256, as whoever holds the backup writer's credentials could upload them."""
    tar_path = work / "hostile.tar.gz"
    with tarfile.open(tar_path, "w:gz", format=tarfile.GNU_FORMAT) as tar:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
        for info in specials:
            tar.addfile(info)
    store.put_file(archive_key("audit", DAY), tar_path)
    files = [{"name": n, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()} for n, b in members.items()]
    store.put_bytes(manifest_key("audit", DAY), json.dumps({
        "schema_version": 1, "log_type": "audit", "day": DAY.isoformat(), "files": files,
        "archive_key": archive_key("audit", DAY), "archive_sha256": sha256_file(tar_path),
        "archive_size": tar_path.stat().st_size, "created_at": "2026-11-29T00:00:00+00:00"}).encode())


def snapshot(tree: Path, *, leaving_out: Path) -> dict[str, bytes]:
    """Every file under `tree` but not under `leaving_out`, with its bytes: compared before and after."""
    return {str(p): p.read_bytes() for p in sorted(tree.rglob("*"))
            if p.is_file() and not p.is_symlink() and not p.is_relative_to(leaving_out)}


def pwned_anywhere(tree: Path) -> list[Path]:
    """Every file named like a hostile entry's target, anywhere under `tree` (there must be none)."""
    return list(tree.rglob(f"*{PWNED}*"))
