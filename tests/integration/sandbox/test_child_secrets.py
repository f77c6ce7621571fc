"""No configured secret reaches a child process: not in its environment, not in its argv.

Two kinds of checks. The sandbox is started with every kind of secret (named
variables, webhooks, URL passwords and tokens) set to a unique marker in this
process's environment; every process it leaves running (redis-server, moto, the
health endpoint, kwokctl's etcd, kube-apiserver, controllers, kwok) is read
through /proc. And every short-lived tool the harness runs (kustomize, `kubectl
kustomize`, helm, redis-check-rdb, git, docker, allure, a build script, the
host's network tools, a sandbox process, the drill's own pytest) is run through
its real call site with a stand-in executable first on PATH: a real child
process that writes the environment and argv it was started with, read back
here. The drill's pytest gets exactly the secrets the features need, and no
other.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.backup.verify import rdb_check_problem
from harness.evidence import provenance
from harness.evidence.report import _run_allure
from harness.platform import tool_bins
from harness.platform.deploy_methods import HelmStack, KustomizeStack
from harness.polling import poll
from harness.redis_process import RedisProcess
from harness.sandbox import host_command, images, processes, sandbox_down, sandbox_up
from harness.sandbox.state import SandboxPaths, owned_processes

REPO = Path(__file__).resolve().parents[3]

SECRET_VARS = ("REDIS_PASSWORD", "DR_REDIS_PASSWORD", "DRILL_CONFIG_KEY", "AWS_SECRET_ACCESS_KEY",
               "AWS_SESSION_TOKEN", "DRILL_EVIDENCE_SIGNING_KEY", "DRILL_VERIFIER_KEY", "SOME_SERVICE_TOKEN",
               "GITHUB_TOKEN")


def marker(name: str) -> str:
    return f"leak-{name.lower().replace('_', '-')}-{secrets.token_hex(6)}"


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {name: marker(name) for name in SECRET_VARS}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def every_secret(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every kind of secret in this process's environment, each a unique marker; name → marker."""
    values = {name: marker(name) for name in SECRET_VARS}
    values.update({f"{name} (in the URL)": marker(name) for name in (
        "DRILL_NOTIFY_URL", "DRILL_REDIS_URL", "DRILL_DR_REDIS_URL", "DRILL_HEALTH_URL", "PIP_INDEX_URL",
        "TEAM_ALERTS")})
    env = {name: values[name] for name in SECRET_VARS}
    env.update({
        "DRILL_NOTIFY_URL": f"https://hooks.slack.com/services/T0/B0/{values['DRILL_NOTIFY_URL (in the URL)']}",
        "DRILL_REDIS_URL": f"redis://:{values['DRILL_REDIS_URL (in the URL)']}@redis.example:6379/0",
        "DRILL_DR_REDIS_URL": f"redis://drill:{values['DRILL_DR_REDIS_URL (in the URL)']}@dr-redis.example:6379/0",
        "DRILL_HEALTH_URL": f"https://sentinel.example.com/health?token={values['DRILL_HEALTH_URL (in the URL)']}&x=1",
        "PIP_INDEX_URL": f"https://ci:{values['PIP_INDEX_URL (in the URL)']}@pypi.example.com/simple",
        "TEAM_ALERTS": f"https://chat.example.com/hooks/{values['TEAM_ALERTS (in the URL)']}",
        "COPY_OF_THE_SIGNING_KEY": values["DRILL_EVIDENCE_SIGNING_KEY"],
    })
    for name, value in env.items():
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


# --- stand-ins: real executables that record how they were started -------------------------------------------

#: what each stand-in prints, so the harness code that called it carries on as with the real tool
STAND_IN_OUTPUT = {
    "kustomize": "apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: rendered\\n",
    "kubectl": "apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: rendered\\n",
    "helm": "apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: rendered\\n",
    "git": "0123456789abcdef0123456789abcdef01234567\\n",
    "docker": "27.0.0\\n",
    "print-dir": "/nonexistent\\n",
}


def _write_stand_in(directory: Path, name: str, records: Path) -> Path:
    path = directory / name
    output = STAND_IN_OUTPUT.get(name, "")
    path.write_text(
        "#!/bin/sh\n"
        f'out="{records}/{name}.$$"\n'
        'cat "/proc/$$/environ" > "$out.environ"\n'  # the environment this process was started with
        'cat "/proc/$$/cmdline" > "$out.cmdline"\n'
        f"printf '{output}'\n"
    )
    path.chmod(0o755)
    return path


@pytest.fixture
def stand_ins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A directory of stand-ins first on PATH, and the directory their records go to."""
    bin_dir, records = tmp_path / "stand-ins", tmp_path / "records"
    bin_dir.mkdir()
    records.mkdir()
    for name in ("kustomize", "kubectl", "helm", "git", "docker", "redis-check-rdb", "allure", "print-dir",
                 "iptables", "sandbox-process"):
        _write_stand_in(bin_dir, name, records)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return bin_dir, records


def _started(records: Path, name: str) -> list[tuple[bytes, bytes]]:
    """(environ, cmdline) of every finished record of stand-in `name` (the cmdline is written last)."""
    return [(path.with_suffix(".environ").read_bytes(), path.read_bytes())
            for path in sorted(records.glob(f"{name}.*.cmdline"))]


def _kustomize_via_kubectl(bin_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (bin_dir / "kustomize").unlink()  # no kustomize on PATH: `kubectl kustomize` renders
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    KustomizeStack(tmp_path).render("sentinel")


def _wait_for_record(records: Path, name: str) -> None:
    """A spawned process outlives its spawn call: wait (5 s at most) for its record."""
    poll(lambda: _started(records, name) or None, timeout=5, interval=0.05)


CHILDREN: dict[str, tuple[str, Callable[[Path, Path, pytest.MonkeyPatch], object]]] = {
    "kustomize (deploy_method kustomize)": ("kustomize", lambda b, t, m: KustomizeStack(t).render("sentinel")),
    "kubectl kustomize (no kustomize on PATH)": ("kubectl", _kustomize_via_kubectl),
    "helm template (deploy_method helm)": ("helm", lambda b, t, m: HelmStack(str(t)).render("sentinel")),
    "redis-check-rdb (backup verification)": ("redis-check-rdb", lambda b, t, m: rdb_check_problem(t / "x.rdb")),
    "git (evidence provenance)": ("git", lambda b, t, m: provenance.git_sha(t)),
    "docker (the real nodes' image check)": ("docker", lambda b, t, m: images.why_no_engine()),
    "allure (the HTML report)": ("allure", lambda b, t, m: _run_allure(b / "allure", ["--version"], os.environ)),
    "a build script's --print-dir": ("print-dir", lambda b, t, m: tool_bins._cache_dir(b / "print-dir")),
    "iptables (the sandbox's host network)": ("iptables", lambda b, t, m: host_command.run("iptables", "-S", check=False)),
    "a sandbox process (spawned without env)": ("sandbox-process", lambda b, t, m: processes.spawn(
        "sandbox-process", [str(b / "sandbox-process")], log=t / "p.log", pidfile=t / "p.pid")),
}


@pytest.mark.parametrize("child", list(CHILDREN))
def test_no_child_the_harness_runs_sees_a_secret(child: str, every_secret: dict[str, str],
                                                 stand_ins: tuple[Path, Path], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir, records = stand_ins
    name, run = CHILDREN[child]
    monkeypatch.setenv("HARMLESS_SETTING", "kept-for-children")
    run(bin_dir, tmp_path, monkeypatch)
    _wait_for_record(records, name)
    started = _started(records, name)
    assert started, f"{name} was not started"
    for environ, cmdline in started:
        assert b"HARMLESS_SETTING=kept-for-children" in environ, "the child got an environment at all"
        assert [n for n, v in every_secret.items() if v.encode() in environ] == [], f"in the environment of {name}"
        assert [n for n, v in every_secret.items() if v.encode() in cmdline] == [], f"in the argv of {name}"


# --- the drill's own pytest -----------------------------------------------------------------------------------

#: the secrets the features need, and only those (docs/secrets.md)
DRILL_CHILD_GETS = ("DR_REDIS_PASSWORD", "DRILL_CONFIG_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


@pytest.fixture
def drill_home(tmp_path: Path) -> Path:
    """A drill home whose conftest records the environment and argv the drill's pytest was started with."""
    home = tmp_path / "home"
    (home / "features").mkdir(parents=True)
    (home / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    (home / "conftest.py").write_text(
        "import json, os\n"
        "from pathlib import Path\n"
        "Path(os.environ['DRILL_CHILD_RECORD']).write_text(json.dumps(\n"
        "    {'environ': dict(os.environ), 'cmdline': Path('/proc/self/cmdline').read_text()}))\n")
    return home


def test_the_drills_pytest_gets_exactly_the_secrets_the_features_need(every_secret: dict[str, str],
                                                                      drill_home: Path, tmp_path: Path) -> None:
    record = tmp_path / "drill-child.json"
    env = {**os.environ, "DRILL_HOME": str(drill_home), "DRILL_CHILD_RECORD": str(record),
           "DRILL_NOTIFY_URL": f"http://127.0.0.1:9/hooks/{every_secret['DRILL_NOTIFY_URL (in the URL)']}"}
    env.pop("REDIS_PASSWORD")  # production's password comes from the URL's userinfo here
    subprocess.run([sys.executable, "-m", "harness.cli", "drill", "monthly"], env=env, cwd=tmp_path,
                   capture_output=True, text=True, timeout=120, check=False)
    child = json.loads(record.read_text())
    environ: dict[str, str] = child["environ"]

    assert environ["REDIS_PASSWORD"] == every_secret["DRILL_REDIS_URL (in the URL)"], "moved out of the URL"
    assert environ["DRILL_REDIS_URL"] == "redis://redis.example:6379/0"
    assert environ["DRILL_DR_REDIS_URL"] == "redis://drill@dr-redis.example:6379/0"
    for name in DRILL_CHILD_GETS:
        assert environ[name] == every_secret[name], name
    handed_over = {every_secret[n] for n in DRILL_CHILD_GETS} | {every_secret["DRILL_REDIS_URL (in the URL)"],
                                                                 every_secret["DRILL_HEALTH_URL (in the URL)"]}
    text = json.dumps(environ)
    assert [n for n, v in every_secret.items() if v not in handed_over and v in text] == []
    assert [n for n, v in every_secret.items() if v in child["cmdline"]] == []
    assert "DRILL_NOTIFY_URL" not in environ and "COPY_OF_THE_SIGNING_KEY" not in environ


# --- processes the sandbox leaves running ---------------------------------------------------------------------

@pytest.fixture
def sandbox_with_secrets(sandbox_bin_dir: Path, every_secret: dict[str, str], tmp_path: Path) -> Iterator[Path]:
    state_dir = tmp_path / "state"
    try:
        sandbox_up(state_dir, cluster_name="secrets")
        yield state_dir
    finally:
        sandbox_down(state_dir)


def test_no_sandbox_process_sees_a_secret(sandbox_with_secrets: Path, every_secret: dict[str, str]) -> None:
    recorded = [p.pid for p in owned_processes(SandboxPaths(sandbox_with_secrets)).values()]
    pids = sorted({*processes_mentioning(str(sandbox_with_secrets)), *recorded})
    names = {Path(Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[0].decode()).name.split(" ")[0]
             for p in pids}
    assert {"etcd", "kube-apiserver", "kwok-controller", "redis-server", "python"} <= names, names  # the whole sandbox was looked at
    assert [leak for pid in pids for leak in leaks(pid, every_secret)] == []


def test_a_redis_server_the_harness_starts_sees_no_secret(secret_env: dict[str, str], tmp_path: Path) -> None:
    server = RedisProcess(tmp_path / "redis", password="its-own-password").start()
    try:
        assert server.pid is not None
        assert leaks(server.pid, secret_env) == []
        assert b"its-own-password" not in Path(f"/proc/{server.pid}/cmdline").read_bytes()
    finally:
        server.stop()
