"""The sandbox Gateway and Brain as host processes over a real redis-server: sessions, the rate limit, and the
smoke check across a backup → restart-from-RDB (it passes) and a FLUSHALL (it fails, naming what was lost).

The Gateway gets the environment its manifests give (deploy/config.yaml's data, an API_KEYS Secret value,
the Redis password), with Redis and Brain on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from harness.drills import smoke
from harness.errors import CheckFailed
from harness.polling import wait_until
from harness.redis_process import RedisProcess, free_port

pytestmark = pytest.mark.integration

IMAGES = Path(__file__).resolve().parents[2] / "deploy" / "images"
CONFIG = yaml.safe_load((IMAGES.parent / "config.yaml").read_text())["data"]
API_KEY = "sk-test-" + secrets.token_hex(16)
OTHER_KEY = "sk-test-" + secrets.token_hex(16)


@dataclass
class Service:
    """A stdlib service script run as a host process on 127.0.0.1."""

    proc: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> float:
        """SIGTERM; seconds until it exited."""
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return time.monotonic() - started


def start_service(script: Path, env: dict[str, str]) -> Service:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(script)], env={"PORT": str(port), "BIND": "127.0.0.1", **env},
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    service = Service(proc, port)

    def answers() -> bool | None:
        if proc.poll() is not None:
            raise AssertionError(f"{script.name} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"{service.url}/health", timeout=1).close()
            return True
        except urllib.error.HTTPError:
            return True  # 503 is an answer: the server is up
        except OSError:
            return None

    wait_until(answers, timeout=15, interval=0.05, what=f"{script.name} on port {port}",
               describe=lambda: "no answer on its port")
    return service


@pytest.fixture(scope="module")
def brain() -> Iterator[Service]:
    service = start_service(IMAGES / "brain" / "brain.py", {})
    yield service
    service.stop()


@pytest.fixture
def redis_server(redis_factory: Callable[..., RedisProcess]) -> RedisProcess:
    return redis_factory()


@pytest.fixture
def start_gateway(brain: Service, redis_server: RedisProcess) -> Iterator[Callable[..., Service]]:
    """Start the Gateway with the manifests' environment (`overrides` replace config.yaml values)."""
    started: list[Service] = []

    def start(**overrides: str) -> Service:
        env = {**{k: str(v) for k, v in CONFIG.items()}, "REDIS_HOST": "127.0.0.1",
               "REDIS_PORT": str(redis_server.port), "REDIS_PASSWORD": redis_server.password or "",
               "BRAIN_URL": brain.url, "API_KEYS": f"{API_KEY},{OTHER_KEY}", **overrides}
        service = start_service(IMAGES / "gateway" / "gateway.py", env)
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


@pytest.fixture
def gateway(start_gateway: Callable[..., Service]) -> Service:
    return start_gateway()


def get(url: str, *, key: str | None = None) -> tuple[int, dict[str, str], dict[str, object]]:
    request = urllib.request.Request(url, headers={"X-API-Key": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, dict(answer.headers), json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def bgsave_and_restart(server: RedisProcess) -> None:
    """BGSAVE, wait until it is written, stop without saving, start again: the data now comes from the RDB."""
    client = server.client()
    saves = client.info("persistence")["rdb_saves"]
    client.bgsave()

    def saved() -> bool | None:
        info = client.info("persistence")
        return info["rdb_saves"] > saves and info["rdb_bgsave_in_progress"] == 0 or None

    wait_until(saved, timeout=10, interval=0.05, what="BGSAVE to finish", describe=lambda: "still saving")
    assert client.info("persistence")["rdb_last_bgsave_status"] == "ok"
    server.stop()
    server.start()


def test_a_session_created_through_the_gateway_is_read_back_with_its_user(gateway: Service,
                                                                          redis_server: RedisProcess) -> None:
    token, created = smoke.create_session(gateway.url, API_KEY, "alice")
    assert created.status == 201 and created.body["expires_in"] == int(CONFIG["SESSION_TTL_SECONDS"])
    answer = smoke.read_session(gateway.url, API_KEY, token)
    assert (answer.status, answer.body["session"]["user"]) == (200, "alice")  # type: ignore[index]
    assert answer.served_by == answer.body["served_by"]
    ttl = redis_server.client().ttl(f"session:{token}")
    assert int(CONFIG["SESSION_TTL_SECONDS"]) - 5 < ttl <= int(CONFIG["SESSION_TTL_SECONDS"])
    assert smoke.read_session(gateway.url, API_KEY, "no-such-session-token-000").status == 404


def test_the_api_paths_refuse_a_request_without_a_known_key_and_health_needs_none(gateway: Service) -> None:
    for path in ("/session/some-session-token-0000", "/"):
        assert get(gateway.url + path)[0] == 401
        assert get(gateway.url + path, key="sk-not-a-key")[0] == 401
    assert smoke.call_gateway(gateway.url, "sk-not-a-key", "POST", "/session", body={"user": "x"}).status == 401
    status, headers, body = get(gateway.url + "/health")
    assert (status, body["status"]) == (200, "ok")
    assert not {h.lower() for h in headers} & {"x-ratelimit-limit", "x-ratelimit-remaining"}
    status, headers, body = get(gateway.url + "/?text=two+words", key=OTHER_KEY)  # the proxy to Brain, counted
    assert (status, body["brain"]["words"], headers["X-RateLimit-Remaining"]) == (  # type: ignore[index]
        200, 2, str(int(CONFIG["RATE_LIMIT_MAX_REQUESTS"]) - 1))


def test_the_rate_limit_counts_each_request_per_key_and_answers_429_past_the_max(
        start_gateway: Callable[..., Service], redis_server: RedisProcess) -> None:
    gateway = start_gateway(RATE_LIMIT_MAX_REQUESTS="3")
    token, first = smoke.create_session(gateway.url, API_KEY, "bob")
    remaining = [first.remaining] + [smoke.read_session(gateway.url, API_KEY, token).remaining for _ in range(2)]
    assert remaining == [2, 1, 0] and first.limit == 3
    refused = smoke.read_session(gateway.url, API_KEY, token)
    assert (refused.status, refused.remaining) == (429, 0)
    assert 0 < int(refused.headers["retry-after"]) <= int(CONFIG["RATE_LIMIT_WINDOW_SECONDS"])
    assert smoke.read_session(gateway.url, OTHER_KEY, token).remaining == 2  # each key has its own counter
    # the window is the configured one, opened by the key's first request
    counter = "ratelimit:" + hashlib.sha256(API_KEY.encode()).hexdigest()[:16]
    window = int(CONFIG["RATE_LIMIT_WINDOW_SECONDS"])
    assert window - 5 < redis_server.client().ttl(counter) <= window


def test_the_window_outlives_a_backup_and_restore_as_configured() -> None:
    window, most = int(CONFIG["RATE_LIMIT_WINDOW_SECONDS"]), int(CONFIG["RATE_LIMIT_MAX_REQUESTS"])
    assert window >= 600, "a drill's backup → restore must fit in the window (scenario 3 takes ~70 s on real nodes)"
    assert most / window == 120 / 60  # the same rate as 120 requests a minute


def test_the_smoke_check_passes_after_redis_restarts_from_its_backup(gateway: Service,
                                                                    redis_server: RedisProcess) -> None:
    seed = smoke.seed_through_gateway(gateway.url, API_KEY, requests=5)
    assert seed.counter == 6  # the session's creation and five reads
    bgsave_and_restart(redis_server)
    result = smoke.check_after_restore(gateway.url, API_KEY, seed)
    assert (result.user, result.counter_seeded, result.counter_now) == (seed.user, 6, 7)
    assert result.limit == int(CONFIG["RATE_LIMIT_MAX_REQUESTS"])


def test_the_smoke_check_fails_after_a_flushall_naming_the_session_and_the_counter(
        gateway: Service, redis_server: RedisProcess) -> None:
    seed = smoke.seed_through_gateway(gateway.url, API_KEY, requests=5)
    redis_server.client().flushall()
    with pytest.raises(CheckFailed) as failed:
        smoke.check_after_restore(gateway.url, API_KEY, seed)
    message = failed.value.message
    assert f"session:{seed.token[:6]}… (user {seed.user}) answered 404" in message
    assert "the counter restarted" in message and f"expected {7200 - 7}" in message
    assert seed.token not in message and API_KEY not in message


def test_redis_never_holds_the_raw_api_key(gateway: Service, redis_server: RedisProcess) -> None:
    smoke.seed_through_gateway(gateway.url, API_KEY, requests=2)
    client = redis_server.client()
    keys = list(client.scan_iter())
    assert f"ratelimit:{hashlib.sha256(API_KEY.encode()).hexdigest()[:16]}".encode() in keys
    values = [client.get(k) or b"" for k in keys]
    assert not any(API_KEY.encode() in blob for blob in [*keys, *values])


def test_the_gateway_answers_503_while_redis_is_down_and_stops_within_a_second(
        gateway: Service, redis_server: RedisProcess) -> None:
    token, _ = smoke.create_session(gateway.url, API_KEY, "carol")
    redis_server.stop()
    assert smoke.read_session(gateway.url, API_KEY, token).status == 503
    assert gateway.stop() < 1.0
    assert gateway.proc.returncode == 0
