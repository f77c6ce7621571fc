"""SENTINEL Gateway for the sandbox: a small real HTTP service (Python stdlib only).

GET /health          200 only when Brain answers through its Service (BRAIN_URL + /health) AND Redis
                     answers AUTH <REDIS_PASSWORD> + PING at REDIS_HOST:REDIS_PORT; otherwise 503 with
                     {"status": "unavailable", "reasons": [...]}. Both checks run at once, each with
                     CHECK_TIMEOUT_S (0.8 s), so the answer comes inside a probe's default 1 s. No API
                     key, no rate limit: the drills' availability probers and the kubelet poll it.
The API paths need header X-API-Key (one of API_KEYS, comma-separated; 401 otherwise) and count
against that key's rate limit in Redis (below):
POST /session        body {"user": "..."} → key session:<random token> (JSON, TTL SESSION_TTL_SECONDS);
                     201 {"token": ..., "expires_in": ...}.
GET /session/<token> 200 {"token", "session": <stored JSON>, "served_by"}; 404 when absent.
GET /                proxies a request to Brain's /analyze (502 when Brain does not answer).
Rate limit: key ratelimit:<sha256(api key)[:16]> (never the raw key in Redis), INCR then EXPIRE NX
RATE_LIMIT_WINDOW_SECONDS, so the window starts at the key's first request and a restored counter
keeps its absolute expiry; X-RateLimit-Limit / X-RateLimit-Remaining on every answer, 429 (with
Retry-After) past RATE_LIMIT_MAX_REQUESTS. Redis not answering: 503.
Every answer names its replica (X-Served-By, the host name = the pod's name).
Environment (deploy/config.yaml, deploy/gateway.yaml): BRAIN_URL (http://sentinel-brain:8000; a
URL ending in /health is used as is), REDIS_HOST (redis), REDIS_PORT (6379), REDIS_DB (0),
REDIS_PASSWORD, API_KEYS, SESSION_TTL_SECONDS (86400), RATE_LIMIT_WINDOW_SECONDS (3600),
RATE_LIMIT_MAX_REQUESTS (7200), PORT (8080), BIND (0.0.0.0). Stops within a second of SIGTERM;
writes nothing to disk.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import resp

MAX_BODY = 64 * 1024
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")
SERVED_BY = socket.gethostname()
Answer = tuple[int, dict[str, object]]


@dataclass(frozen=True)
class Settings:
    brain_base: str
    brain_health: str
    redis_host: str
    redis_port: int
    redis_db: int
    redis_password: str
    timeout_s: float
    api_keys: tuple[str, ...]
    session_ttl_s: int
    rate_window_s: int
    rate_max: int

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Settings:
        brain = env.get("BRAIN_URL", "http://sentinel-brain:8000").rstrip("/")
        base = brain.removesuffix("/health")
        return cls(brain_base=base, brain_health=base + "/health",
                   redis_host=env.get("REDIS_HOST", "redis"), redis_port=int(env.get("REDIS_PORT", "6379")),
                   redis_db=int(env.get("REDIS_DB", "0")), redis_password=env.get("REDIS_PASSWORD", ""),
                   timeout_s=float(env.get("CHECK_TIMEOUT_S", "0.8")),
                   api_keys=tuple(k.strip() for k in env.get("API_KEYS", "").split(",") if k.strip()),
                   session_ttl_s=int(env.get("SESSION_TTL_SECONDS", "86400")),
                   rate_window_s=int(env.get("RATE_LIMIT_WINDOW_SECONDS", "3600")),
                   rate_max=int(env.get("RATE_LIMIT_MAX_REQUESTS", "7200")))

    def redis(self, *commands: tuple[str, ...]) -> list[resp.Reply]:
        return resp.execute(self.redis_host, self.redis_port, self.redis_password, list(commands),
                            timeout_s=self.timeout_s, db=self.redis_db)


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


def health(settings: Settings) -> Answer:
    """Run both dependency checks at once; 200 only when neither reports a problem."""
    brain = CHECKS.submit(brain_problem, settings)
    redis = CHECKS.submit(redis_problem, settings)
    reasons = [r for r in (brain.result(), redis.result()) if r]
    if reasons:
        return 503, {"status": "unavailable", "reasons": reasons}
    return 200, {"status": "ok", "brain": "ok", "redis": "ok"}


def proxy_to_brain(settings: Settings, query: str) -> Answer:
    url = settings.brain_base + "/analyze" + (f"?{query}" if query else "")
    try:
        with urllib.request.urlopen(url, timeout=settings.timeout_s) as answer:
            return 200, {"gateway": "ok", "brain": json.loads(answer.read())}
    except urllib.error.HTTPError as exc:
        return 502, {"gateway": "error", "reason": f"brain answered {exc.code}"}
    except (OSError, ValueError) as exc:
        return 502, {"gateway": "error", "reason": f"brain unreachable: {getattr(exc, 'reason', exc)}"}


def known_key(settings: Settings, presented: str) -> bool:
    """True when `presented` is one of API_KEYS (constant-time per key; no keys configured: nobody)."""
    return any(hmac.compare_digest(presented.encode(), key.encode()) for key in settings.api_keys)


def rate_limit_key(api_key: str) -> str:
    """The counter's Redis key: a digest, so Redis (and its backups) never hold the API key itself."""
    return "ratelimit:" + hashlib.sha256(api_key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RateLimit:
    limit: int
    count: int
    retry_after_s: int

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit

    def headers(self) -> dict[str, str]:
        out = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(max(0, self.limit - self.count))}
        if self.exceeded:
            out["Retry-After"] = str(max(1, self.retry_after_s))
        return out


def count_request(settings: Settings, api_key: str) -> RateLimit:
    """Count one request against the key's window (INCR, then EXPIRE NX: the first request opens it)."""
    key = rate_limit_key(api_key)
    count, _, ttl = settings.redis(("INCR", key), ("EXPIRE", key, str(settings.rate_window_s), "NX"), ("TTL", key))
    if not isinstance(count, int) or not isinstance(ttl, int):
        raise resp.RedisCheckFailed(f"redis answered INCR/TTL with {count!r}/{ttl!r}")
    return RateLimit(settings.rate_max, count, ttl)


def create_session(settings: Settings, body: bytes) -> Answer:
    try:
        user = json.loads(body or b"{}").get("user")
    except (ValueError, AttributeError):
        user = None
    if not isinstance(user, str) or not user.strip():
        return 400, {"error": 'body must be JSON {"user": "<name>"}'}
    token = secrets.token_urlsafe(24)
    stored = json.dumps({"user": user, "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    settings.redis(("SET", f"session:{token}", stored, "EX", str(settings.session_ttl_s)))
    return 201, {"token": token, "expires_in": settings.session_ttl_s}


def stored_session(value: str) -> object:
    try:
        return json.loads(value)
    except ValueError:
        return {"value": value}


def read_session(settings: Settings, token: str) -> Answer:
    if not TOKEN.fullmatch(token):
        return 404, {"error": "no such session"}
    key = f"session:{token}"
    try:
        (stored,) = settings.redis(("GET", key))
        session = None if stored is None else stored_session(str(stored))
    except resp.RedisErrorReply as exc:  # SENTINEL's own sessions are hashes (the sandbox seeds them so)
        if exc.code != "WRONGTYPE":
            raise
        (fields,) = settings.redis(("HGETALL", key))
        pairs = fields if isinstance(fields, list) else []
        session = dict(zip(pairs[::2], pairs[1::2], strict=True)) or None
    if session is None:
        return 404, {"error": "no such session"}
    return 200, {"token": token, "session": session, "served_by": SERVED_BY}


class GatewayHandler(BaseHTTPRequestHandler):
    server_version = "sentinel-gateway-sandbox/1"
    protocol_version = "HTTP/1.1"
    settings: Settings

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/health":
            self.reply(*health(self.settings))
        elif url.path == "/":
            self.api(lambda: proxy_to_brain(self.settings, url.query))
        elif url.path.startswith("/session/"):
            self.api(lambda: read_session(self.settings, url.path.removeprefix("/session/")))
        else:
            self.reply(404, {"error": f"no such path: {url.path}"})

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            self.reply(413, {"error": f"body over {MAX_BODY} bytes"})
            return
        body = self.rfile.read(length)
        if url.path == "/session":
            self.api(lambda: create_session(self.settings, body))
        else:
            self.reply(404, {"error": f"no such path: {url.path}"})

    def api(self, handle: Callable[[], Answer]) -> None:
        """Authenticate, count against the key's rate limit, then answer with `handle()`."""
        key = self.headers.get("X-API-Key")
        if key is None or not known_key(self.settings, key):
            self.reply(401, {"error": "missing or unknown X-API-Key"})
            return
        try:
            limit = count_request(self.settings, key)
            if limit.exceeded:
                self.reply(429, {"error": f"rate limit of {limit.limit} requests per "
                                          f"{self.settings.rate_window_s} s exceeded"}, limit.headers())
                return
            status, body = handle()
        except resp.RedisCheckFailed as exc:
            self.reply(503, {"error": "redis unavailable", "reason": str(exc)})
            return
        self.reply(status, body, limit.headers())

    def reply(self, status: int, body: dict[str, object], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Served-By", SERVED_BY)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
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
