"""Redis servers whose data file the harness may replace: the `file` strategy's targets.

`ManagedRedis` is what the file strategy needs (stop, rdb_path, start,
wait_loaded); `RedisProcess` fits it directly. From the command line only a URL
is known, so `find_managed` asks the server for its `dir` and requires the
`drill-managed` marker the harness writes when it starts a server: the harness
never stops a Redis it did not start. Kubernetes targets get their own
implementation in the platform layer (scale 0 → copy → scale 1).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import redis

from harness.config import redact_url
from harness.errors import UsageError
from harness.redaction import child_environment
from harness.redis_process import (
    RedisProcess,
    pid_alive,
    read_marker,
    redis_server_binary,
    terminate_pid,
    write_marker,
)
from harness.resp import reply_text

#: processes started here for servers another process owned; kept so they are not garbage-collected
_STARTED: list[subprocess.Popen[bytes]] = []


class ManagedRedis(Protocol):
    """A Redis process the harness controls: stop it, replace its RDB, start it, wait until loaded."""

    @property
    def rdb_path(self) -> Path: ...

    def stop(self) -> None: ...

    def start(self) -> Any: ...

    def wait_loaded(self, *, timeout: float = ...) -> None: ...


@dataclass
class MarkedRedis:
    """A harness-started redis-server found through its marker, possibly owned by another process.

    It is restarted from its own config file (0600, password inside), detached
    in its own session, and the marker is updated with the new pid so that the
    owner's `RedisProcess.stop()` (e.g. `sandbox down`) still stops it.
    """

    data_dir: Path
    port: int
    conf: Path
    dbfilename: str
    pid: int
    password: str | None = None
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def rdb_path(self) -> Path:
        return self.data_dir / self.dbfilename

    def stop(self) -> None:
        terminate_pid(self.pid)

    def start(self) -> MarkedRedis:
        self._proc = subprocess.Popen(
            [redis_server_binary(), str(self.conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env=child_environment(),
        )
        _STARTED.append(self._proc)
        self.pid = self._proc.pid
        write_marker(self.data_dir, pid=self.pid, port=self.port, conf=self.conf, dbfilename=self.dbfilename)
        return self

    def wait_loaded(self, *, timeout: float = 300.0) -> None:
        """Ping until loaded; RedisLoadFailed with the log tail if the process dies first."""
        waiter = RedisProcess(
            data_dir=self.data_dir, port=self.port, password=self.password,
            dbfilename=self.dbfilename, proc=self._proc,
        )
        waiter.wait_loaded(timeout=timeout)


def find_managed(client: redis.Redis, url: str, *, password: str | None) -> MarkedRedis:
    """The harness-managed server behind `url`; UsageError when the harness did not start it."""
    shown = redact_url(url)
    try:
        data_dir = Path(_config_get(client, "dir"))
        dbfilename = _config_get(client, "dbfilename")
    except redis.ResponseError:
        raise UsageError(
            f"cannot read CONFIG dir of {shown} (CONFIG disabled?), so its data file cannot be found",
            fix="use --strategy network",
        ) from None
    marker = read_marker(data_dir)
    port = urlsplit(url).port or 6379
    if marker is None:
        raise UsageError(
            f"{shown} was not started by sentinel-drill (no drill-managed marker in {data_dir})",
            fix="use --strategy network, or the platform restore for Kubernetes targets",
        )
    pid = marker.get("pid")
    if marker.get("port") != port or not isinstance(pid, int) or not pid_alive(pid):
        raise UsageError(
            f"the drill-managed marker in {data_dir} does not describe the server at {shown}",
            fix="restart the server through the harness, or use --strategy network",
        )
    return MarkedRedis(
        data_dir=data_dir,
        port=port,
        conf=Path(str(marker.get("conf") or data_dir / "redis.conf")),
        dbfilename=dbfilename,
        pid=pid,
        password=password,
    )


def _config_get(client: redis.Redis, name: str) -> str:
    value = client.config_get(name).get(name)
    if value is None:
        raise redis.ResponseError(f"CONFIG GET {name} returned nothing")
    return reply_text(value)
