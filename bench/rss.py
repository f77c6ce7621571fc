"""Peak resident memory of this process (the harness runs in-process), sampled from /proc/self/status."""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType
from typing import Self

INTERVAL_S = 0.05
METHOD = "VmRSS of the bench process (the harness runs in it) sampled every 50 ms from /proc/self/status; " \
         "child processes (redis-server, redis-check-rdb, moto) are not counted"


def rss_mib() -> float:
    """Resident set size now, MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    """`with PeakRss() as peak: ...` then `peak.mib`: the highest sample taken while the block ran."""

    def __init__(self) -> None:
        self.mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)

    def _run(self) -> None:
        while True:
            self.mib = max(self.mib, rss_mib())
            if self._stop.wait(INTERVAL_S):
                return

    def __enter__(self) -> Self:
        self.mib = rss_mib()
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self.mib = max(self.mib, rss_mib())
