"""The sandbox's side of the Redis data seam: its managed local redis-server, restarted in place.

The cluster's implementations (harness.platform.redis_data) copy into a volume
or stream over the network; the sandbox's Redis is a process on this machine,
so its restore is the local file swap. `SandboxTarget.redis_data()` hands it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness.digests import sha256_file
from harness.errors import DrillError
from harness.platform.redis_data import DataRestoreResult, RestorePhases, check_rdb_source
from harness.redis_process import RedisProcess


@dataclass(frozen=True)
class LocalProcessRedisData:
    """A redis-server on this machine that the harness started (the sandbox's): restarted in place.

    The running server is found through the `drill-managed` marker in its data
    dir (whoever restarted it last), so the stop works from any process. It is
    started again with the password currently in `password_file` — rotation
    updates that file — never with a stale one from an old config.
    """

    data_dir: Path
    port: int
    password_file: Path
    dbfilename: str = "dump.rdb"

    def describe(self) -> str:
        return f"local redis-server on 127.0.0.1:{self.port} (data {self.data_dir / self.dbfilename})"

    def restore_rdb(self, rdb: Path, *, timeout: float = 300.0) -> DataRestoreResult:
        """Stop the server, swap in `rdb` atomically, restart and wait until loaded.

        If the server cannot load `rdb`, the previous file is put back and the
        server restarted on it before RestoreFailed is raised (harness.restore.file).
        """
        from harness.restore.file import place_and_restart  # the one local file-swap procedure

        sha, size = check_rdb_source(rdb)
        phases = RestorePhases()
        password = self.password_file.read_text().strip() or None
        server = RedisProcess(data_dir=self.data_dir, port=self.port, password=password, dbfilename=self.dbfilename)
        place_and_restart(server, rdb, load_timeout=timeout)
        phases.done("restarted")
        if sha256_file(server.rdb_path) != sha:
            raise DrillError(f"the RDB in {self.data_dir} does not match {rdb} after the restore",
                             fix="check the disk and run the restore again")
        keys = int(server.client(timeout=5.0).dbsize())
        phases.done("verified")
        return DataRestoreResult(self.describe(), sha, size, tuple(phases.items), phases.started_at,
                                 datetime.now(UTC), keys)
