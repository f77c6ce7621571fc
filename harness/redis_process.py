"""Real `redis-server` processes the harness owns: scratch servers and the sandbox's Redis.

A daemonized server started on a truncated RDB returns 0 and dies while loading,
so we run it in the foreground as a child and ping until the dataset is loaded
(or the process exits, which we report with the tail of its log).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from harness.errors import ConnectionFailed, DrillError
from harness.polling import Backoff, poll
from harness.redaction import child_environment
from harness.resp import encode_command


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_server_binary() -> str:
    """Path of redis-server, or a DrillError saying how to install it."""
    path = shutil.which("redis-server")
    if not path:
        raise DrillError("redis-server is not installed", fix="run `make setup` (installs redis-server)")
    return path


#: file in a server's data dir saying the harness started it (and how to restart it)
MARKER_NAME = "drill-managed"


def read_marker(data_dir: Path) -> dict[str, object] | None:
    """The `drill-managed` marker of a data dir, or None when the harness did not start that server."""
    try:
        data = json.loads((data_dir / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_marker(data_dir: Path, *, pid: int, port: int, conf: Path, dbfilename: str) -> None:
    """Record that the harness runs a redis-server from this dir (no secrets: the conf is 0600)."""
    marker = data_dir / MARKER_NAME
    marker.write_text(json.dumps({"pid": pid, "port": port, "conf": str(conf), "dbfilename": dbfilename}))
    marker.chmod(0o600)


def terminate_pid(pid: int, *, timeout: float = 10.0) -> None:
    """SIGTERM a process that is not our child, SIGKILL it after `timeout`; wait until it is gone."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if poll(lambda: None if pid_alive(pid) else True, timeout=timeout, interval=0.02):
            _reap(pid)
            return


def _reap(pid: int) -> None:
    """Collect the exit status when the process happens to be our child (no zombie left)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


#: how often a starting server is asked whether it has loaded: soon at first (small files), then every 20 ms,
#: so a finished load is seen within ~20 ms without hammering a server that is loading a large file
LOAD_POLL = Backoff(0.005, factor=2.0, cap=0.02)


class RedisLoadFailed(DrillError):
    """A redis-server could not load its RDB (exit code set by the caller's context)."""

    exit_code = 1


@dataclass
class RedisProcess:
    """A foreground redis-server on 127.0.0.1 with its own data dir; stop() always cleans up."""

    data_dir: Path
    port: int = 0
    password: str | None = None
    dbfilename: str = "dump.rdb"
    appendonly: bool = False
    extra_args: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def rdb_path(self) -> Path:
        return self.data_dir / self.dbfilename

    @property
    def log_path(self) -> Path:
        return self.data_dir / "redis.log"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def _config_text(self) -> str:
        lines = [
            "bind 127.0.0.1",
            f"port {self.port}",
            f"dir {self.data_dir}",
            f"dbfilename {self.dbfilename}",
            f"logfile {self.log_path}",
            "daemonize no",
            "save ''",
            f"appendonly {'yes' if self.appendonly else 'no'}",
            "repl-diskless-sync-delay 0",
            "protected-mode yes",
        ]
        if self.password:
            lines.append(f"requirepass {self.password}")
        return "\n".join(lines) + "\n"

    def start(self, *, load_timeout: float = 120.0) -> RedisProcess:
        """Start the server (password via a 0600 config file, never argv) and wait until loaded."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        conf = self.data_dir / "redis.conf"
        conf.write_text(self._config_text())
        conf.chmod(0o600)
        self.proc = subprocess.Popen(
            [redis_server_binary(), str(conf), *self.extra_args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env=child_environment(),
        )
        write_marker(self.data_dir, pid=self.proc.pid, port=self.port, conf=conf, dbfilename=self.dbfilename)
        self.wait_loaded(timeout=load_timeout)
        return self

    def client(self, *, decode_responses: bool = False, timeout: float = 5.0) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            password=self.password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            decode_responses=decode_responses,
        )

    def log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def log_problem(self, lines: int = 2) -> str:
        """The warning lines that explain a failed start (not the crash banner), else the log tail."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        text = text.split("------ STACK TRACE")[0]
        found = [
            line.split(" # ", 1)[1].strip()
            for line in text.splitlines()
            if " # " in line and not any(noise in line for noise in _LOG_NOISE)
        ]
        return " | ".join(found[-lines:]) if found else self.log_tail()

    def wait_loaded(self, *, timeout: float = 120.0) -> None:
        """Ping until PING answers (a loading server answers -LOADING); raise if the process dies first.

        The probe is one raw AUTH + PING per poll: a redis-py connection's handshake (several
        commands, each waiting while the server loads) made a poll cost 25–100 ms instead of ~1.
        """

        def loaded() -> bool | None:
            if self.proc is not None and self.proc.poll() is not None:
                raise RedisLoadFailed(
                    f"redis-server exited with code {self.proc.returncode} while starting: {self.log_problem()}",
                    fix="the RDB file is probably corrupt or incompatible; verify the backup",
                )
            return True if self._answers_ping() else None

        if poll(loaded, timeout=timeout, interval=LOAD_POLL):
            return
        self.stop()
        raise ConnectionFailed(
            f"redis-server on port {self.port} did not finish loading within {timeout:.0f}s",
            fix="check the RDB size and the machine's load; raise the load timeout",
        )

    def _answers_ping(self) -> bool:
        """+PONG to PING (after AUTH when a password is set) on a fresh connection: the server has loaded."""
        request = encode_command(b"AUTH", self.password.encode()) if self.password else b""
        request += encode_command(b"PING")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as sock:
                sock.sendall(request)
                replies = b""
                while replies.count(b"\r\n") < (2 if self.password else 1):
                    chunk = sock.recv(256)
                    if not chunk:
                        return False
                    replies += chunk
        except OSError:
            return False
        return replies.split(b"\r\n")[-2].startswith(b"+PONG")

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop the process without saving (SIGTERM then SIGKILL); safe to call twice.

        A file restore run from another process may have restarted this server
        (see the `drill-managed` marker); that successor is stopped too, so no
        redis-server outlives its owner.
        """
        self._stop_successor(timeout)
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=timeout)

    def _stop_successor(self, timeout: float) -> None:
        marker = read_marker(self.data_dir)
        if not marker or marker.get("port") != self.port:
            return
        pid = marker.get("pid")
        if isinstance(pid, int) and pid != self.pid and pid_alive(pid) and _is_redis_server(pid):
            terminate_pid(pid, timeout=timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ScratchRedis(RedisProcess):
    """A throw-away server in a temp dir that is deleted on exit."""

    def __init__(self, rdb: Path | None = None, *, password: str | None = None) -> None:
        # DEBUG HTSTATS (local connections only) tells the network restore whether SCAN can repeat a key
        super().__init__(data_dir=Path(tempfile.mkdtemp(prefix="drill-scratch-")), password=password,
                         extra_args=("--enable-debug-command", "local"))
        if rdb is not None:
            try:  # redis-server only reads it (a save would rename a new file over the link): no copy needed
                os.link(rdb, self.rdb_path)
            except OSError:
                shutil.copyfile(rdb, self.rdb_path)

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


#: warning-level log lines that never explain a failure
_LOG_NOISE = (
    "oO0OoO0OoO0Oo", "Redis version=", "Configuration loaded", "Server initialized", "WARNING Memory overcommit",
    "------", "Software Failure", "Press left mouse", "Redis is now ready to exit", "User requested shutdown",
)


def _is_redis_server(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return b"redis-server" in fh.read().split(b"\0")[0]
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """True while a process with this pid exists (zombies count as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True
