"""SENTINEL Gateway for the sandbox: a small real HTTP service (Python stdlib only).

GET /health  200 only when Brain answers through its Service (BRAIN_URL + /health) AND Redis
             answers AUTH <REDIS_PASSWORD> + PING at REDIS_HOST:REDIS_PORT; otherwise 503 with
             {"status": "unavailable", "reasons": [...]}. Both checks run at once, each with
             CHECK_TIMEOUT_S (0.8 s), so the answer comes inside a probe's default 1 s.
GET /        proxies a request to Brain's /analyze (502 when Brain does not answer).
Environment (deploy/config.yaml, deploy/gateway.yaml): BRAIN_URL (http://sentinel-brain:8000; a
URL ending in /health is used as is), REDIS_HOST (redis), REDIS_PORT (6379), REDIS_PASSWORD,
PORT (8080), BIND (0.0.0.0). Stops within a second of SIGTERM; writes nothing to disk.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import resp


@dataclass(frozen=True)
class Settings:
    brain_base: str
    brain_health: str
    redis_host: str
    redis_port: int
    redis_password: str
    timeout_s: float

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Settings:
        brain = env.get("BRAIN_URL", "http://sentinel-brain:8000").rstrip("/")
        base = brain.removesuffix("/health")
        return cls(brain_base=base, brain_health=base + "/health",
                   redis_host=env.get("REDIS_HOST", "redis"), redis_port=int(env.get("REDIS_PORT", "6379")),
                   redis_password=env.get("REDIS_PASSWORD", ""),
                   timeout_s=float(env.get("CHECK_TIMEOUT_S", "0.8")))


def brain_problem(settings: Settings) -> str | None:
    """Return why Brain's /health is not a 200, or None when it is."""
    try:
        with urllib.request.urlopen(settings.brain_health, timeout=settings.timeout_s) as answer:
            return None if answer.status == 200 else f"brain answered {answer.status}"
    except urllib.error.HTTPError as exc:
        return f"brain answered {exc.code} at {settings.brain_health}"
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"brain unreachable at {settings.brain_health}: {reason}"


def redis_problem(settings: Settings) -> str | None:
    """Return why Redis does not answer AUTH + PING, or None when it does."""
    try:
        resp.ping(settings.redis_host, settings.redis_port, settings.redis_password,
                  timeout_s=settings.timeout_s)
    except resp.RedisCheckFailed as exc:
        return str(exc)
    return None


CHECKS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="check")


def health(settings: Settings) -> tuple[int, dict[str, object]]:
    """Run both dependency checks at once; 200 only when neither reports a problem."""
    brain = CHECKS.submit(brain_problem, settings)
    redis = CHECKS.submit(redis_problem, settings)
    reasons = [r for r in (brain.result(), redis.result()) if r]
    if reasons:
        return 503, {"status": "unavailable", "reasons": reasons}
    return 200, {"status": "ok", "brain": "ok", "redis": "ok"}


def proxy_to_brain(settings: Settings, query: str) -> tuple[int, dict[str, object]]:
    url = settings.brain_base + "/analyze" + (f"?{query}" if query else "")
    try:
        with urllib.request.urlopen(url, timeout=settings.timeout_s) as answer:
            return 200, {"gateway": "ok", "brain": json.loads(answer.read())}
    except urllib.error.HTTPError as exc:
        return 502, {"gateway": "error", "reason": f"brain answered {exc.code}"}
    except (OSError, ValueError) as exc:
        return 502, {"gateway": "error", "reason": f"brain unreachable: {getattr(exc, 'reason', exc)}"}


class GatewayHandler(BaseHTTPRequestHandler):
    server_version = "sentinel-gateway-sandbox/1"
    protocol_version = "HTTP/1.1"
    settings: Settings

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/health":
            self.reply(*health(self.settings))
        elif url.path == "/":
            self.reply(*proxy_to_brain(self.settings, url.query))
        else:
            self.reply(404, {"error": f"no such path: {url.path}"})

    def reply(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        line = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "service": "gateway",
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
        CHECKS.shutdown(wait=False, cancel_futures=True)


def main() -> None:
    GatewayHandler.settings = Settings.from_env(dict(os.environ))
    server = ThreadingHTTPServer((os.environ.get("BIND", "0.0.0.0"), int(os.environ.get("PORT", "8080"))),
                                 GatewayHandler)
    server.daemon_threads = True
    serve(server)


if __name__ == "__main__":
    main()
