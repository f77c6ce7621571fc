"""No configured secret reaches a child process: not in its environment, not in its argv.

The sandbox is started with unique secret values in this process's
environment; every process it leaves running (redis-server, moto, the health
endpoint, kwokctl's etcd, kube-apiserver, controllers, kwok) is read through
/proc.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.redis_process import RedisProcess
from harness.sandbox import sandbox_down, sandbox_up
from harness.sandbox.state import SandboxPaths, owned_processes

SECRET_VARS = ("REDIS_PASSWORD", "DR_REDIS_PASSWORD", "DRILL_CONFIG_KEY", "AWS_SECRET_ACCESS_KEY",
               "AWS_SESSION_TOKEN", "DRILL_EVIDENCE_SIGNING_KEY", "SOME_SERVICE_TOKEN")


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {name: f"leak-{secrets.token_hex(8)}" for name in SECRET_VARS}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def processes_mentioning(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def leaks(pid: int, values: dict[str, str]) -> list[str]:
    found = []
    for part in ("environ", "cmdline"):
        try:
            raw = Path(f"/proc/{pid}/{part}").read_bytes()
        except OSError:
            continue
        found += [f"{name} in {part} of {pid}" for name, value in values.items() if value.encode() in raw]
    return found


@pytest.fixture
def sandbox_with_secrets(sandbox_bin_dir: Path, secret_env: dict[str, str], tmp_path: Path) -> Iterator[Path]:
    state_dir = tmp_path / "state"
    try:
        sandbox_up(state_dir, cluster_name="secrets")
        yield state_dir
    finally:
        sandbox_down(state_dir)


def test_no_sandbox_process_sees_a_secret(sandbox_with_secrets: Path, secret_env: dict[str, str]) -> None:
    recorded = [p.pid for p in owned_processes(SandboxPaths(sandbox_with_secrets)).values()]
    pids = sorted({*processes_mentioning(str(sandbox_with_secrets)), *recorded})
    names = {Path(Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[0].decode()).name.split(" ")[0]
             for p in pids}
    assert {"etcd", "kube-apiserver", "kwok-controller", "redis-server", "python"} <= names, names  # the whole sandbox was looked at
    assert [leak for pid in pids for leak in leaks(pid, secret_env)] == []


def test_a_redis_server_the_harness_starts_sees_no_secret(secret_env: dict[str, str], tmp_path: Path) -> None:
    server = RedisProcess(tmp_path / "redis", password="its-own-password").start()
    try:
        assert server.pid is not None
        assert leaks(server.pid, secret_env) == []
        assert b"its-own-password" not in Path(f"/proc/{server.pid}/cmdline").read_bytes()
    finally:
        server.stop()
