"""Load an RDB into a scratch redis-server in a thread, while the caller runs another check on the file.

Verify runs `redis-check-rdb` and the scratch load side by side (both only read
the file; each is one single-threaded process), so the two cost the longer of
them instead of their sum. The load's own duration is kept, so the report can
give each level its own time.
"""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path

from harness.redis_process import ScratchRedis


class BackgroundLoad:
    """A scratch server loading `rdb` (random password, loopback only); `wait()` for it, `close()` always."""

    def __init__(self, rdb: Path, *, load_timeout: float = 300.0) -> None:
        self.seconds = 0.0
        self._scratch = ScratchRedis(rdb, password=secrets.token_hex(16))
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(load_timeout,), name="scratch-load", daemon=True)
        self._thread.start()

    def _run(self, load_timeout: float) -> None:
        started = time.monotonic()
        try:
            self._scratch.start(load_timeout=load_timeout)
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits
            self._error = exc
        finally:
            self.seconds = time.monotonic() - started

    def wait(self) -> ScratchRedis:
        """The loaded server; raises what the load raised (RedisLoadFailed, ConnectionFailed, …)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._scratch

    def close(self) -> None:
        """Stop the server (cutting a load short when nobody needs it any more) and delete its directory."""
        self._scratch.stop()  # first: a load in progress ends now and the thread returns
        self._thread.join()
        self._scratch.close()
