"""The sandbox's stand-in for SENTINEL's /health: 200 only while traffic could actually be served.

Healthy means, checked afresh on every request:
  * each configured Service (sentinel-brain, sentinel-gateway) has at least one
    ready endpoint in its EndpointSlices, in the cluster the config file's
    kubeconfig points at *now* (scenario 3 re-points it at a new cluster), and
  * Redis answers PING with the password currently in the password file
    (rotation rewrites the file; the password never appears in argv or output),
    or, with `redis_password_secret` ("secret/key"), in that Secret of the
    namespace, read through the API as SENTINEL's own pods would (a DR
    environment whose Secrets are restored or rotated by the drill).
Otherwise 503 with the reasons. Every check has sub-second timeouts, so the
answer comes within 1 s even when the API server is gone.

Run as its own process: `python -m harness.sandbox.health --config <state>/health.json`.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from harness.errors import ConnectionFailed, DrillError
from harness.platform.client import Cluster, connect
from harness.platform.endpoints import SERVICE_NAME_LABEL, endpoints_from_slices

K8S_TIMEOUT = (0.3, 0.5)  # connect, read
REDIS_TIMEOUT = 0.3
STALE_RETRY_WINDOW = 0.2  # retry once only if the first failure came this fast


@dataclass(frozen=True)
class HealthConfig:
    port: int
    kubeconfig: str
    context: str | None
    namespace: str
    services: tuple[str, ...]
    redis_host: str
    redis_port: int
    redis_password_file: str
    redis_password_secret: str | None = None

    @classmethod
    def load(cls, path: Path) -> HealthConfig:
        data = json.loads(path.read_text())
        data["services"] = tuple(data["services"])
        return cls(**data)

    def save(self, path: Path) -> None:
        """Write atomically: the server may be reading it at this very moment."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**self.__dict__, "services": list(self.services)}, indent=2) + "\n")
        os.replace(tmp, path)


class _Clients:
    """API clients cached per (kubeconfig, its mtime, context): re-pointing or rewriting it takes effect at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cache: dict[tuple[str, float, str | None], Cluster] = {}

    def get(self, kubeconfig: str, context: str | None) -> Cluster:
        key = (kubeconfig, os.stat(kubeconfig).st_mtime, context)
        with self.lock:
            if key not in self.cache:
                self.cache.clear()
                self.cache[key] = connect(kubeconfig, context, timeout=K8S_TIMEOUT[1], retries=0)
            return self.cache[key]


CLIENTS = _Clients()


def _list_slices(cluster: Cluster, config: HealthConfig) -> list[dict[str, Any]]:
    return cluster.request(
        "GET", f"/apis/discovery.k8s.io/v1/namespaces/{config.namespace}/endpointslices",
        query={"labelSelector": f"{SERVICE_NAME_LABEL} in ({','.join(config.services)})"},
        timeout=K8S_TIMEOUT,
    ).get("items") or []


def check_services(config: HealthConfig) -> dict[str, Any]:
    """Ready endpoint counts of every configured Service (one EndpointSlice list call)."""
    started = time.monotonic()
    try:
        cluster = CLIENTS.get(config.kubeconfig, config.context)
        try:
            slices = _list_slices(cluster, config)
        except ConnectionFailed:
            if time.monotonic() - started > STALE_RETRY_WINDOW:
                raise
            slices = _list_slices(cluster, config)  # a fast failure is likely a stale keep-alive: once more
    except (DrillError, OSError) as exc:
        message = exc.one_line() if isinstance(exc, DrillError) else f"{exc.__class__.__name__}: {exc}"
        return {name: {"ok": False, "reason": f"cluster unreachable: {message}"} for name in config.services}
    result: dict[str, Any] = {}
    for name in config.services:
        eps = endpoints_from_slices(config.namespace, name, slices)
        result[name] = {"ok": eps.serving, "ready": len(eps.ready), "not_ready": len(eps.not_ready)}
        if not eps.serving:
            result[name]["reason"] = f"service {config.namespace}/{name} has no ready endpoints"
    return result


def _secret_password(config: HealthConfig) -> str | None:
    """The password in Secret `name/key` of the namespace; None when it is not there (yet)."""
    assert config.redis_password_secret is not None
    name, _, key = config.redis_password_secret.partition("/")
    cluster = CLIENTS.get(config.kubeconfig, config.context)
    try:
        secret = cluster.request("GET", f"/api/v1/namespaces/{config.namespace}/secrets/{name}", timeout=K8S_TIMEOUT)
    except DrillError:
        return None
    value = (secret.get("data") or {}).get(key or "password")
    return base64.b64decode(value).decode() if value else None


def check_redis(config: HealthConfig) -> dict[str, Any]:
    """PING with the current password from the password file (or the namespace's Secret)."""
    if config.redis_password_secret:
        password = _secret_password(config)
        if password is None:
            return {"ok": False, "reason": f"secret {config.redis_password_secret} is missing"}
    else:
        try:
            password = Path(config.redis_password_file).read_text().strip() or None
        except OSError:
            return {"ok": False, "reason": "redis password file is missing"}
    client = redis.Redis(host=config.redis_host, port=config.redis_port, password=password,
                         socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT,
                         retry=Retry(NoBackoff(), 0))
    try:
        client.ping()
        return {"ok": True}
    except (redis.AuthenticationError, redis.ResponseError) as exc:
        kind = "rejected the password" if "WRONGPASS" in str(exc) or "NOAUTH" in str(exc) or \
            isinstance(exc, redis.AuthenticationError) else "returned an error"
        return {"ok": False, "reason": f"redis {kind}"}
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        return {"ok": False, "reason": f"redis unreachable ({exc.__class__.__name__})"}
    finally:
        client.close()


_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="health-check")


def evaluate(config: HealthConfig) -> tuple[int, dict[str, Any]]:
    """Run both checks in parallel; (200 or 503, JSON body)."""
    started = time.monotonic()
    services = _POOL.submit(check_services, config)
    redis_ok = _POOL.submit(check_redis, config)
    checks = {**services.result(), "redis": redis_ok.result()}
    reasons = [c["reason"] for c in checks.values() if not c["ok"]]
    body = {
        "status": "ok" if not reasons else "unavailable",
        "checks": checks,
        "reasons": reasons,
        "checked_at": datetime.now(UTC).isoformat(),
        "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
    }
    return (200 if not reasons else 503), body


class _Handler(BaseHTTPRequestHandler):
    config_path: Path
    server_version = "sentinel-health/1"

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/health":
            self._send(404, {"status": "not found", "paths": ["/health"]})
            return
        try:
            config = HealthConfig.load(self.config_path)
        except (OSError, ValueError, TypeError) as exc:
            self._send(503, {"status": "unavailable", "reasons": [f"health config unreadable: {exc}"]})
            return
        self._send(*evaluate(config))

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"{datetime.now(UTC).isoformat()} {self.address_string()} {format % args}\n")


def serve(config_path: Path) -> None:
    """Serve /health on 127.0.0.1:<port from the config> until SIGTERM/SIGINT."""
    config = HealthConfig.load(config_path)
    handler = type("Handler", (_Handler,), {"config_path": config_path})
    server = ThreadingHTTPServer(("127.0.0.1", config.port), handler)
    server.daemon_threads = True

    def stop(*_: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stderr.write(f"health endpoint on http://127.0.0.1:{config.port}/health (config {config_path})\n")
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.sandbox.health", description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, type=Path, help="health.json written by `sandbox up`")
    args = parser.parse_args(argv)
    serve(args.config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
