"""What the sandbox tells a drill: its target, as env, exports and Settings — never the password itself."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.sandbox import processes
from harness.sandbox.seed import _commands
from harness.sandbox.state import SandboxInfo, SandboxPaths, load_state, save_state, write_secret

PASSWORD = "pw-" + "9" * 30


@pytest.fixture
def info(tmp_path: Path) -> SandboxInfo:
    paths = SandboxPaths(tmp_path)
    write_secret(paths.redis_password_file, PASSWORD)
    return SandboxInfo(
        state_dir=tmp_path, cluster_name="c", kubeconfig=paths.kubeconfig, context="kwok-c", namespace="sentinel",
        api_server="https://127.0.0.1:6443", redis_port=6390, redis_password_file=paths.redis_password_file,
        redis_data_dir=paths.redis_dir, s3_endpoint="http://127.0.0.1:5000", bucket="sentinel-backups",
        region="us-east-1", hosted_zone_id="Z1", hosted_zone_name="sandbox.local.",
        record_name="sentinel.sandbox.local.", record_target="lb-c.sandbox.local.", health_port=8080,
        created_at="2024-01-01T00:00:00+00:00",
    )


def test_secret_files_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "x"
    write_secret(path, "s3cret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text() == "s3cret\n"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_env_and_exports_target_the_sandbox_without_the_password(info: SandboxInfo) -> None:
    env = info.env()
    assert env["DRILL_REDIS_URL"] == "redis://127.0.0.1:6390/0" and env["DRILL_STORE_URL"] == "s3://sentinel-backups/"
    assert env["KUBECONFIG"] == str(info.kubeconfig) and env["DRILL_HEALTH_URL"] == "http://127.0.0.1:8080/health"
    assert "REDIS_PASSWORD" not in env and PASSWORD not in info.shell_exports()
    assert info.env(include_secrets=True)["REDIS_PASSWORD"] == PASSWORD
    out = subprocess.run(["bash", "-c", info.shell_exports() + 'printf %s "$REDIS_PASSWORD"'],
                         capture_output=True, text=True, check=True).stdout
    assert out == PASSWORD


def test_settings_for_a_drill_carry_the_password_as_a_secret(info: SandboxInfo) -> None:
    settings = info.to_settings()
    assert settings.target == "sandbox" and settings.redis_url == info.redis_url
    assert settings.redis_password is not None and settings.redis_password.get_secret_value() == PASSWORD
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.redacted())
    assert settings.hosted_zone_id == "Z1" and settings.dns_record_name == "sentinel.sandbox.local."


def test_state_round_trips_and_reports_nothing_running(info: SandboxInfo) -> None:
    paths = SandboxPaths(info.state_dir)
    assert load_state(paths) is None
    save_state(paths, info)
    loaded = load_state(paths)
    assert loaded is not None and loaded.redis_port == 6390 and loaded.hosted_zone_id == "Z1"
    assert loaded.running is False and loaded.pids == {}
    assert PASSWORD not in paths.state_file.read_text()


def test_a_tracked_process_is_stopped_and_a_reused_pid_is_never_signalled(tmp_path: Path) -> None:
    proc = processes.spawn("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"],
                           log=tmp_path / "s.log", pidfile=tmp_path / "s.pid")
    assert processes.read_pidfile(tmp_path / "s.pid") == proc and processes.is_running(proc)
    impostor = processes.TrackedProcess("sleeper", proc.pid, (proc.start_ticks or 0) + 1)
    assert not processes.is_running(impostor) and not processes.terminate(impostor)
    assert processes.is_running(proc)  # the real one was left alone
    assert processes.terminate(proc, timeout=5)
    assert not processes.is_running(proc)


def test_seeding_is_deterministic_and_sentinel_shaped() -> None:
    now = int(time.time())
    import random

    first = _commands(10_500, random.Random(1), now)
    again = _commands(10_500, random.Random(1), now)
    assert first == again and len(first) >= 10_000
    keys = [key for _, key, _, _ in first]
    assert len(set(keys)) == len(keys)
    families = {k.split(":")[0] for k in keys}
    assert {"session", "user", "ratelimit", "cache", "queue", "tenant", "leaderboard"} <= families
    ttl = {k.split(":")[0]: t for _, k, _, t in first}
    assert ttl["user"] is None and ttl["session"] and ttl["session"] >= 3600


def test_kwokctl_gets_every_binary_from_the_cache_and_a_private_workdir(tmp_path: Path) -> None:
    from harness.sandbox.cluster import kwokctl_env

    bins = tmp_path / "bin"
    bins.mkdir()
    (bins / "kwokctl.env").write_text("export KWOK_KUBE_VERSION=v1.36.3\n")
    env = kwokctl_env(bins, SandboxPaths(tmp_path / "state"))
    binaries = {k: v for k, v in env.items() if k.startswith("KWOK_") and k.endswith("_BINARY")}
    assert binaries and all(v.startswith(str(bins)) for v in binaries.values())
    assert env["KWOK_WORKDIR"] == str(tmp_path / "state" / "kwok") and env["KWOK_KUBE_VERSION"] == "v1.36.3"
    assert os.environ.get("KWOK_WORKDIR") != env["KWOK_WORKDIR"]
