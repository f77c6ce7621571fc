"""Scratch Redis servers in containers, from the locally built images (testcontainers).

No registry answers here, so the images come from `make images` (tools/build-images.sh) and
testcontainers' Ryuk reaper (a pulled image) is off: every container is removed by its fixture.
Ports are published on 127.0.0.1 only. `container_skip_reason` says in one line why the
container tests cannot run (no engine, image not built), for a pytest skip.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis

#: Debian bookworm's Redis 7.0 (RDB 10): the version SENTINEL runs
REDIS_BOOKWORM = "sentinel-drill/redis:7.0-bookworm"
#: Debian trixie's Redis 8.0 (RDB 12): a newer Redis whose backups 7.0 cannot load
REDIS_TRIXIE = "sentinel-drill/redis:trixie"


def container_skip_reason(*images: str) -> str | None:
    """One line saying why containers cannot run here, or None when the engine and images are ready."""
    try:
        import docker
        import docker.errors
    except ImportError:
        return "the docker SDK is not installed (pip install -e '.[dev]')"
    try:
        client = docker.from_env(timeout=5)
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:  # requests' errors are OSErrors
        return f"no Docker engine answers ({exc.__class__.__name__}); run `make docker`"
    missing = [image for image in images if not client.images.list(name=image)]
    if missing:
        return f"local image(s) {', '.join(missing)} not built; run `make images`"
    return None


@dataclass
class RedisContainer:
    """A running Redis container: where to reach it and its password."""

    image: str
    host: str
    port: int
    password: str = field(repr=False)
    container_id: str

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host=self.host, port=self.port, password=self.password, socket_timeout=5)


@contextmanager
def redis_container(image: str, *, password: str | None = None, start_timeout: float = 30.0) -> Iterator[RedisContainer]:
    """Start `image` (REDIS_PASSWORD from the environment, never argv), yield it once it answers
    PING, and remove it (and its volumes) afterwards whatever happened."""
    from testcontainers.core.config import testcontainers_config
    from testcontainers.core.container import DockerContainer

    testcontainers_config.ryuk_disabled = True  # Ryuk's image cannot be pulled: we remove our own
    password = password or secrets.token_hex(12)
    container = DockerContainer(image).with_env("REDIS_PASSWORD", password)
    container.ports["6379/tcp"] = ("127.0.0.1",)  # docker-py: (ip,) = a free port on loopback only
    with container:
        running = RedisContainer(image, "127.0.0.1", int(container.get_exposed_port(6379)), password,
                                 container.get_container_id())
        _wait_ready(running, start_timeout)
        yield running


def _wait_ready(server: RedisContainer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if server.client().ping():
                return
        except redis.RedisError as exc:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{server.image} did not answer PING within {timeout:g}s: {exc}") from None
        time.sleep(0.1)


SCRATCH_LABEL = "sentinel-drill.test=scratch-redis"


def containerised_redis_server(image: str, bin_dir: Path) -> Path:
    """Write a `redis-server` into `bin_dir` that runs `image`'s redis-server on the host network.

    Put `bin_dir` first on PATH and the harness's scratch servers (harness.redis_process) run
    that Redis instead of this machine's: e.g. to describe a backup whose RDB version the
    local redis-server cannot load. The data dir is mounted at its own path; SIGTERM reaches
    Redis through `docker run`'s signal proxy. `remove_scratch_containers` cleans up leftovers.
    """
    shim = bin_dir / "redis-server"
    shim.write_text(
        "#!/bin/sh\n"
        "# the harness's scratch redis-server, from a local image (tests/containers.py)\n"
        'dir=$(dirname "$1")\n'
        f'exec docker run --rm -i --label {SCRATCH_LABEL} --network host --user "$(id -u):$(id -g)" '
        f'-v "$dir:$dir" {image} redis-server "$@"\n'
    )
    shim.chmod(0o755)
    return shim


def remove_scratch_containers() -> None:
    """Remove every container a `containerised_redis_server` left behind (it was SIGKILLed)."""
    import docker

    for leftover in docker.from_env().containers.list(all=True, filters={"label": SCRATCH_LABEL}):
        leftover.remove(force=True)
