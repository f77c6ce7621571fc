"""Peak resident memory of this process (the harness runs in-process), sampled from /proc/self/status."""

from __future__ import annotations

import ctypes
import gc
import threading
from pathlib import Path
from types import TracebackType
from typing import Self

INTERVAL_S = 0.05
METHOD = ("VmRSS of the bench process (the harness runs in it) sampled every 50 ms from /proc/self/status, "
          "after gc + malloc_trim so earlier steps' freed memory is returned first; peak_rss_mib is absolute "
          "(the bench's own ≈ 100 MiB of imports included), rss_start_mib what it was when the step began; "
          "child processes (redis-server, redis-check-rdb, moto) are not counted")


def rss_mib() -> float:
    """Resident set size now, MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def release_free_memory() -> None:
    """Collect garbage and hand freed heap back to the OS, so a step's peak is not an earlier step's residue."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakRss:
    """`with PeakRss() as peak: ...` then `peak.mib`: the highest sample taken while the block ran."""

    def __init__(self) -> None:
        self.mib = self.start_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)

    def _run(self) -> None:
        while True:
            self.mib = max(self.mib, rss_mib())
            if self._stop.wait(INTERVAL_S):
                return

    def __enter__(self) -> Self:
        release_free_memory()
        self.start_mib = self.mib = rss_mib()
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self.mib = max(self.mib, rss_mib())
