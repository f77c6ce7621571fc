"""The `file` strategy: stop the server, put the RDB where it loads from, start, wait until loaded.

The RDB is staged next to the destination first (same filesystem), so the
swap while the server is down is one atomic rename. If the server cannot load
the backup, it is started again on its previous data before the error is
raised: the snapshot taken just before (the on-disk file may be stale, since
stopping a server without save points does not write it), else that file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from harness.errors import DrillError
from harness.restore.managed import ManagedRedis
from harness.restore.network import RestoreFailed


def stage_path(dest: Path) -> Path:
    """Where the restore stages the RDB for `dest`: beside it (same filesystem, so the swap is a rename).
    Downloading straight to this path saves a copy."""
    return dest.with_name(f".{dest.name}.restore-{os.getpid()}")


def _stage(rdb: Path, dest: Path) -> Path:
    stage = stage_path(dest)
    if rdb == stage:  # downloaded in place: only make it durable before the rename
        with stage.open("rb+") as out:
            os.fsync(out.fileno())
        return stage
    with rdb.open("rb") as src, stage.open("wb") as out:
        shutil.copyfileobj(src, out, 1024 * 1024)
        out.flush()
        os.fsync(out.fileno())
    return stage


def place_and_restart(
    managed: ManagedRedis, rdb: Path, *, load_timeout: float = 300.0, fallback: Path | None = None
) -> None:
    """Replace the managed server's RDB with `rdb` and bring it back loaded.

    Raises RestoreFailed when the server will not load the file, after starting
    it again on `fallback` (a fresh snapshot of what it held) or, without one,
    on the data file it had on disk.
    """
    dest = managed.rdb_path
    stage = _stage(rdb, dest)
    previous = dest.with_name(dest.name + ".before-restore")
    try:
        managed.stop()
        had_previous = dest.exists()
        if had_previous:
            os.replace(dest, previous)
        os.replace(stage, dest)
    finally:
        stage.unlink(missing_ok=True)
    try:
        managed.start()
        managed.wait_loaded(timeout=load_timeout)
    except DrillError as exc:
        if fallback is not None:
            os.replace(_stage(fallback, dest), dest)
        elif had_previous:
            os.replace(previous, dest)
        else:
            dest.unlink(missing_ok=True)
        managed.start()
        managed.wait_loaded(timeout=load_timeout)
        raise RestoreFailed(
            f"the server did not load the backup ({exc.message}); its previous data was put back",
            fix="verify the backup (`sentinel-drill verify`) and check the server's log",
        ) from None
    previous.unlink(missing_ok=True)
