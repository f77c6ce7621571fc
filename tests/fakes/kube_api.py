"""A Kubernetes API stand-in over real HTTP on loopback, and a kubeconfig that points the client at it.

Tests script the answers (`answer(path) -> (status, body, Retry-After or None)`, path without its query);
every request is recorded as (method, path, Content-Type).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

Answer = tuple[int, dict[str, Any], "str | None"]


class KubeApi(ThreadingHTTPServer):
    def __init__(self, answer: Callable[[str], Answer]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer
        self.requests: list[tuple[str, str, str | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: KubeApi

    def _answer(self) -> None:
        self.server.requests.append((self.command, self.path, self.headers.get("Content-Type")))
        status, body, retry_after = self.server.answer(self.path.split("?")[0])
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if retry_after is not None:
            self.send_header("Retry-After", retry_after)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PATCH = do_POST = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serving(answer: Callable[[str], Answer]) -> Iterator[KubeApi]:
    """The stand-in, serving until the block ends."""
    server = KubeApi(answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def kubeconfig(tmp_path: Path, server: str) -> Path:
    """A kubeconfig whose one context ("fake") talks to `server` with a bearer token."""
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "fake",
        "clusters": [{"name": "fake", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "t0ken"}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "u"}}],
    }))
    return path
