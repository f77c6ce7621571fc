"""Stopping several sandbox processes at once: each gets SIGTERM first, one that ignores it is killed."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.polling import poll
from harness.sandbox import processes

POLITE = ("import signal, sys, time; signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); "
          "print('up', flush=True); time.sleep(60)")
STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"


def _start(tmp_path: Path, name: str, code: str) -> processes.TrackedProcess:
    log = tmp_path / f"{name}.log"
    proc = processes.spawn(name, [sys.executable, "-c", code], log=log, pidfile=tmp_path / f"{name}.pid")
    poll(lambda: True if "up" in log.read_text() else None, timeout=10, interval=0.02)
    return proc


def test_terminate_all_stops_polite_and_stubborn_processes(tmp_path: Path) -> None:
    procs = [_start(tmp_path, f"polite-{i}", POLITE) for i in range(2)] + [_start(tmp_path, "stubborn", STUBBORN)]
    processes.terminate_all(procs, timeout=0.5)
    assert not any(processes.is_running(p) for p in procs)
    processes.terminate_all(procs, timeout=0.5)  # again: nothing left to stop, no error
