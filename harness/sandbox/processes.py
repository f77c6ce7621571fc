"""Local processes the harness started, tracked by pid files so a later invocation can stop them.

A pid alone can be reused by an unrelated process after ours exits, so each
pid file also records the kernel's start time of the process (/proc/<pid>/stat
field 22); we only ever signal a pid whose start time still matches.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.polling import poll
from harness.redaction import child_environment
from harness.redis_process import pid_alive


@dataclass(frozen=True)
class TrackedProcess:
    name: str
    pid: int
    start_ticks: int | None

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "pid": self.pid, "start_ticks": self.start_ticks}


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(") ", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def is_running(proc: TrackedProcess) -> bool:
    """True while this very process (same pid and start time) exists and is not a zombie."""
    if not pid_alive(proc.pid):
        return False
    return proc.start_ticks is None or start_ticks(proc.pid) == proc.start_ticks


def record(pidfile: Path, name: str, pid: int) -> TrackedProcess:
    """Write `pidfile` atomically for `pid` and return what it records."""
    proc = TrackedProcess(name, pid, start_ticks(pid))
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    tmp = pidfile.with_suffix(pidfile.suffix + ".tmp")
    tmp.write_text(json.dumps(proc.to_json()) + "\n")
    os.replace(tmp, pidfile)
    return proc


def read_pidfile(pidfile: Path) -> TrackedProcess | None:
    """The process a pid file records (our JSON form or a bare pid, as kwokctl writes), or None."""
    try:
        text = pidfile.read_text().strip()
    except OSError:
        return None
    if not text:
        return None
    if text.startswith("{"):
        data = json.loads(text)
        return TrackedProcess(str(data["name"]), int(data["pid"]), data.get("start_ticks"))
    try:
        return TrackedProcess(pidfile.stem, int(text), None)
    except ValueError:
        return None


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    log: Path,
    pidfile: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> TrackedProcess:
    """Start `argv` in its own session (it outlives us), output appended to `log`; record its pid.

    Never put a secret in `argv`: it is visible to every local user via /proc.
    Without `env` the child gets this environment minus every secret variable.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        popen = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else child_environment(), cwd=cwd, start_new_session=True,
        )
    return record(pidfile, name, popen.pid)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child: init reaps it


def terminate(proc: TrackedProcess, *, timeout: float = 10.0) -> bool:
    """SIGTERM, then SIGKILL after `timeout`; True when it was running. Safe on a gone process."""
    if not is_running(proc):
        _reap(proc.pid)
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            return True
        def gone() -> bool | None:
            _reap(proc.pid)
            return None if is_running(proc) else True

        if poll(gone, timeout=wait, interval=0.02):
            return True
    return True


def terminate_all(procs: Iterable[TrackedProcess], *, timeout: float = 10.0) -> None:
    """SIGTERM every process at once and wait for them together (SIGKILL for any left after `timeout`):
    independent processes stop in the time of the slowest, not in the sum of them."""
    live = [p for p in procs if is_running(p)]
    for proc in live:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    def all_gone() -> bool | None:
        for proc in live:
            _reap(proc.pid)
        return None if any(is_running(p) for p in live) else True

    if not poll(all_gone, timeout=timeout, interval=0.02):
        for proc in live:
            terminate(proc, timeout=1.0)


def rss_bytes(pid: int) -> int:
    """Resident memory of `pid` in bytes (0 when gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def port_listening(port: int, host: str = "127.0.0.1", *, timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
