"""The sandbox's Brain and Gateway (deploy/images/) are real services: Gateway is healthy only
when Brain answers and Redis accepts the password, and both stop promptly on SIGTERM.

They run here as host processes on 127.0.0.1 with this machine's python3 and a real
redis-server; the image test runs the built images read-only as uid 10001.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.redis_process import free_port
from tests.containers import container_skip_reason

pytestmark = pytest.mark.integration

IMAGES = Path(__file__).resolve().parents[2] / "deploy" / "images"


def get(url: str, *, api_key: str | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, headers={"X-API-Key": api_key} if api_key else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_serving(url: str, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{url}: the service exited with {proc.returncode}"
        try:
            get(url)
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout:g}s")


@pytest.fixture
def service() -> Iterator[Callable[..., tuple[str, subprocess.Popen[bytes]]]]:
    """Start deploy/images/<name>/<name>.py on a free loopback port with the given environment."""
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str, **env: str) -> tuple[str, subprocess.Popen[bytes]]:
        port = free_port()
        proc = subprocess.Popen([sys.executable, str(IMAGES / name / f"{name}.py")],
                                env={"BIND": "127.0.0.1", "PORT": str(port), **env},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(proc)
        base = f"http://127.0.0.1:{port}"
        wait_serving(base + "/nothing", proc)
        return base, proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def test_gateway_is_healthy_only_while_brain_and_redis_answer(service, redis_factory, data):
    redis = redis_factory()
    brain, brain_proc = service("brain")
    gateway, _ = service("gateway", BRAIN_URL=brain, REDIS_HOST="127.0.0.1", REDIS_PORT=str(redis.port),
                         REDIS_PASSWORD=data.target_password, API_KEYS="sk-test-1,sk-test-2")
    assert get(brain + "/health") == (200, {"status": "ok"})
    assert get(gateway + "/health") == (200, {"status": "ok", "brain": "ok", "redis": "ok"})
    assert get(gateway + "/?text=hello+sentinel")[0] == 401  # the API paths need a key; /health does not
    code, body = get(gateway + "/?text=hello+sentinel", api_key="sk-test-2")
    assert code == 200 and body["brain"]["words"] == 2

    brain_proc.send_signal(signal.SIGTERM)
    brain_proc.wait(timeout=5)
    code, body = get(gateway + "/health")
    assert code == 503 and "brain unreachable" in body["reasons"][0]
    assert get(gateway + "/", api_key="sk-test-1")[0] == 502

    redis.stop()
    code, body = get(gateway + "/health")
    assert code == 503 and len(body["reasons"]) == 2 and "redis at 127.0.0.1" in body["reasons"][1]


def test_gateway_reports_a_wrong_redis_password_without_showing_it(service, redis_factory):
    redis = redis_factory()
    brain, _ = service("brain")
    gateway, _ = service("gateway", BRAIN_URL=brain + "/health", REDIS_HOST="127.0.0.1",
                         REDIS_PORT=str(redis.port), REDIS_PASSWORD="not-the-password")
    code, body = get(gateway + "/health")
    assert code == 503 and body["reasons"] == ["redis refused AUTH: WRONGPASS"]
    assert "not-the-password" not in json.dumps(body)


@pytest.mark.parametrize("name", ["brain", "gateway"])
def test_services_exit_within_a_second_of_sigterm(service, name):
    _, proc = service(name)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=5) == 0
    assert time.monotonic() - started < 1.0


def test_images_serve_read_only_as_uid_10001():
    reason = container_skip_reason("sentinel/brain:sandbox", "sentinel/gateway:sandbox")
    if reason:
        pytest.skip(reason)
    import docker

    client = docker.from_env()
    network = client.networks.create(f"drill-test-{free_port()}")
    containers = []
    try:
        brain = client.containers.run("sentinel/brain:sandbox", detach=True, read_only=True, network=network.name,
                                      name=f"sentinel-brain-{network.id[:8]}")
        containers.append(brain)
        gateway = client.containers.run("sentinel/gateway:sandbox", detach=True, read_only=True,
                                        network=network.name, ports={"8080/tcp": ("127.0.0.1",)},
                                        environment={"BRAIN_URL": f"http://{brain.name}:8000",
                                                     "REDIS_HOST": "127.0.0.1", "REDIS_PORT": "1",
                                                     "API_KEYS": "sk-test"})
        containers.append(gateway)
        gateway.reload()
        port = gateway.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
        deadline = time.monotonic() + 15
        while True:
            try:
                code, body = get(f"http://127.0.0.1:{port}/health")
                break
            except OSError:
                assert time.monotonic() < deadline, gateway.logs()[-500:]
                time.sleep(0.1)
        # one reason only, Redis's: Brain answered the Gateway through its container name
        assert code == 503 and body["reasons"] == [body["reasons"][0]] and "redis at 127.0.0.1:1" in body["reasons"][0]
        # the rate limit counts in Redis, so without Redis the API fails closed
        code, body = get(f"http://127.0.0.1:{port}/?text=a", api_key="sk-test")
        assert code == 503 and body["error"] == "redis unavailable"
        assert brain.exec_run("id -u").output.strip() == b"10001"
        started = time.monotonic()
        gateway.stop(timeout=5)
        assert time.monotonic() - started < 2.0 and gateway.wait()["StatusCode"] == 0
    finally:
        for container in containers:
            container.remove(force=True)
        network.remove()
