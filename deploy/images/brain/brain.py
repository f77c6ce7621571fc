"""SENTINEL Brain for the sandbox: a small real HTTP service (Python stdlib only).

GET /health   200 {"status": "ok"} while the process serves (the readiness/liveness probe).
GET /analyze  a trivial analysis of ?text=... (also POST with a body): word and character counts.
Environment: PORT (8000), BIND (0.0.0.0). Stops within a second of SIGTERM; writes nothing to disk.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 64 * 1024


def analyze(text: str) -> dict[str, object]:
    """Return the trivial 'analysis' the Gateway proxies: counts and a verdict."""
    words = text.split()
    return {
        "words": len(words),
        "characters": len(text),
        "verdict": "empty" if not words else "ok",
        "served_by": socket.gethostname(),
    }


class BrainHandler(BaseHTTPRequestHandler):
    server_version = "sentinel-brain-sandbox/1"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/health":
            self.reply(200, {"status": "ok"})
        elif url.path == "/analyze":
            self.reply(200, analyze(parse_qs(url.query).get("text", [""])[0]))
        else:
            self.reply(404, {"error": f"no such path: {url.path}"})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/analyze":
            self.reply(404, {"error": f"no such path: {url.path}"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.reply(413, {"error": f"body over {MAX_BODY} bytes"})
            return
        self.reply(200, analyze(self.rfile.read(length).decode("utf-8", "replace")))

    def reply(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        line = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "service": "brain",
                "client": self.client_address[0], "msg": format % args}
        sys.stderr.write(json.dumps(line) + "\n")


def serve(server: ThreadingHTTPServer) -> None:
    """Serve until SIGTERM/SIGINT; shutdown() runs off the main thread so the handler returns."""
    def stop(signum: int, _frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


def main() -> None:
    server = ThreadingHTTPServer((os.environ.get("BIND", "0.0.0.0"), int(os.environ.get("PORT", "8000"))),
                                 BrainHandler)
    server.daemon_threads = True
    serve(server)


if __name__ == "__main__":
    main()
