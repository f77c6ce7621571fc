"""The health endpoint says 503 with reasons, fast, whenever the cluster or Redis cannot serve."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

from harness.redis_process import free_port
from harness.sandbox import processes
from harness.sandbox.health import HealthConfig, evaluate


def config(tmp_path: Path, port: int = 0) -> HealthConfig:
    (tmp_path / "pw").write_text("secret-pw\n")
    return HealthConfig(port=port or free_port(), kubeconfig=str(tmp_path / "missing-kubeconfig"), context=None,
                        namespace="sentinel", services=("sentinel-brain", "sentinel-gateway"),
                        redis_host="127.0.0.1", redis_port=free_port(), redis_password_file=str(tmp_path / "pw"))


def test_nothing_reachable_is_503_with_one_reason_per_check_and_no_secret(tmp_path: Path) -> None:
    started = time.monotonic()
    code, body = evaluate(config(tmp_path))
    assert time.monotonic() - started < 1.0
    assert code == 503 and body["status"] == "unavailable"
    assert set(body["checks"]) == {"sentinel-brain", "sentinel-gateway", "redis"}
    assert len(body["reasons"]) == 3 and "secret-pw" not in json.dumps(body)


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_server_runs_as_its_own_process_and_rereads_its_config(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    path = tmp_path / "health.json"
    cfg.save(path)
    import sys

    proc = processes.spawn("health", [sys.executable, "-m", "harness.sandbox.health", "--config", str(path)],
                           log=tmp_path / "health.log", pidfile=tmp_path / "health.pid")
    try:
        deadline = time.monotonic() + 20
        while not processes.port_listening(cfg.port):
            assert time.monotonic() < deadline and processes.is_running(proc), (tmp_path / "health.log").read_text()
            time.sleep(0.05)
        code, body = get(f"http://127.0.0.1:{cfg.port}/health")
        assert code == 503 and "missing-kubeconfig" in body["reasons"][0]
        HealthConfig(**{**cfg.__dict__, "kubeconfig": str(tmp_path / "another")}).save(path)
        code, body = get(f"http://127.0.0.1:{cfg.port}/health")
        assert code == 503 and "another" in body["reasons"][0]  # re-pointed without a restart
        assert get(f"http://127.0.0.1:{cfg.port}/other")[0] == 404
    finally:
        processes.terminate(proc, timeout=5)
    assert not processes.port_listening(cfg.port)
