"""Where the sandbox lives on disk, what it recorded about itself, and how a drill targets it.

One state directory (default `<repo>/.sandbox/`, or $DRILL_SANDBOX_DIR) holds
everything: state.json (ports, names, ids), pid files, the kubeconfig, the
kwok work dir, Redis data, logs and the Redis password file (0600, read by
whoever needs it and never printed). `SandboxInfo` is the public view of it.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.config import Settings
from harness.errors import DrillError
from harness.redis_process import read_marker
from harness.sandbox import processes

STATE_VERSION = 1
DIR_ENV = "DRILL_SANDBOX_DIR"
REPO_ROOT = Path(__file__).resolve().parents[2]
BUCKET = "sentinel-backups"
LOG_BUCKET = "sentinel-logs"
REGION = "us-east-1"
NAMESPACE = "sentinel"
# moto accepts any credentials; these are moto's documented placeholders, not secrets
AWS_PLACEHOLDER_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class SandboxError(DrillError):
    """The sandbox could not be started, found or stopped (exit 2); the message names the component and log."""

    exit_code = 2


def default_state_dir() -> Path:
    """$DRILL_SANDBOX_DIR, else `.sandbox/` in the repository root (git-ignored)."""
    env = os.environ.get(DIR_ENV)
    return Path(env).expanduser().resolve() if env else REPO_ROOT / ".sandbox"


@dataclass(frozen=True)
class SandboxPaths:
    """Every file and directory under one state dir."""

    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def lock_file(self) -> Path:
        return self.root / ".lock"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def kwok_workdir(self) -> Path:
        return self.root / "kwok"

    @property
    def kwok_config(self) -> Path:
        return self.root / "kwokctl.yaml"

    @property
    def redis_dir(self) -> Path:
        return self.root / "redis"

    @property
    def secrets_dir(self) -> Path:
        return self.root / "secrets"

    @property
    def redis_password_file(self) -> Path:
        return self.secrets_dir / "redis-password"

    @property
    def config_key_file(self) -> Path:
        """The Fernet key the sandbox's configuration exports are encrypted with (0600)."""
        return self.secrets_dir / "config-export.key"

    @property
    def verifier_key_file(self) -> Path:
        """The sandbox's verifier private key (PEM, 0600): only the verify CronJob's Secret gets it."""
        return self.secrets_dir / "verifier.key"

    @property
    def verifier_public_file(self) -> Path:
        """Its public key: the sandbox's `verifier_public_keys` (absent: no key, records are not checked)."""
        return self.secrets_dir / "verifier.pub"

    @property
    def hot_logs_dir(self) -> Path:
        """Where the sandbox's "log shipper" leaves the day's files before they are archived."""
        return self.root / "logs-hot"

    @property
    def pids_dir(self) -> Path:
        return self.root / "pids"

    def pidfile(self, component: str) -> Path:
        return self.pids_dir / f"{component}.pid"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def log(self, component: str) -> Path:
        return self.logs_dir / f"{component}.log"

    @property
    def front_config(self) -> Path:
        return self.root / "front.json"

    @property
    def health_config(self) -> Path:
        return self.root / "health.json"

    def kwok_cluster_dir(self, cluster: str) -> Path:
        return self.kwok_workdir / "clusters" / cluster


def write_secret(path: Path, value: str) -> None:
    """Write a secret file readable by its owner only (created 0600, never world-readable in between)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    os.replace(tmp, path)


def read_secret(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        raise SandboxError(f"secret file {path} is missing", fix="run `sentinel-drill sandbox up`") from None


@dataclass(frozen=True)
class SandboxInfo:
    """A sandbox's coordinates: everything a drill needs to target it, nothing secret."""

    state_dir: Path
    cluster_name: str
    kubeconfig: Path
    context: str
    namespace: str
    api_server: str
    redis_port: int
    redis_password_file: Path
    redis_data_dir: Path
    s3_endpoint: str
    bucket: str
    region: str
    hosted_zone_id: str
    hosted_zone_name: str
    record_name: str
    record_target: str
    health_port: int
    created_at: str
    nodes: str = "kwok"  # "real": pods run on this host's kubelet nodes, Redis in the cluster
    nodes_note: str = ""  # why a sandbox that could have had real nodes is kwok-only
    pids: dict[str, int] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    running: bool = False
    already_running: bool = False
    rss_bytes: int = 0

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.health_port}/health"

    @property
    def store_url(self) -> str:
        return f"s3://{self.bucket}/"

    @property
    def log_store_url(self) -> str:
        return f"s3://{LOG_BUCKET}/"

    @property
    def config_key_file(self) -> Path:
        return SandboxPaths(self.state_dir).config_key_file

    def redis_password(self) -> str:
        """The current Redis password (read from its 0600 file; rotation updates the file)."""
        return read_secret(self.redis_password_file)

    def to_settings(self, **overrides: Any) -> Settings:
        """Drill settings targeting this sandbox (the password included as a SecretStr)."""
        data: dict[str, Any] = {
            "target": "sandbox",
            "redis_url": self.redis_url,
            "redis_password": self.redis_password(),
            "store_url": self.store_url,
            "log_store_url": self.log_store_url,
            "kubeconfig": str(self.kubeconfig),
            "context": self.context,
            "namespace": self.namespace,
            "health_url": self.health_url,
            "hosted_zone_id": self.hosted_zone_id,
            "dns_record_name": self.record_name,
        }
        verifier = SandboxPaths(self.state_dir).verifier_public_file
        if verifier.exists():  # the sandbox's verify CronJob signs its records with the matching key
            data["verifier_public_keys"] = (verifier.read_text().strip(),)
        data.update(overrides)
        return Settings(**data)

    def env(self, *, include_secrets: bool = False) -> dict[str, str]:
        """Environment for a drill or `chaos run` against the sandbox.

        REDIS_PASSWORD is only included with `include_secrets=True` (for a child
        process's environment, never for printing).
        """
        env = {
            "KUBECONFIG": str(self.kubeconfig),
            "KUBERNETES_CONTEXT": self.context,
            "DRILL_TARGET": "sandbox",
            "DRILL_KUBECONFIG": str(self.kubeconfig),
            "DRILL_CONTEXT": self.context,
            "DRILL_NAMESPACE": self.namespace,
            "DRILL_REDIS_URL": self.redis_url,
            "DRILL_STORE_URL": self.store_url,
            "DRILL_LOG_STORE_URL": self.log_store_url,
            "DRILL_HEALTH_URL": self.health_url,
            "DRILL_HOSTED_ZONE_ID": self.hosted_zone_id,
            "DRILL_DNS_RECORD_NAME": self.record_name,
            "DRILL_SANDBOX_DIR": str(self.state_dir),
            "AWS_ENDPOINT_URL": self.s3_endpoint,
            "AWS_DEFAULT_REGION": self.region,
            **AWS_PLACEHOLDER_CREDENTIALS,
        }
        if include_secrets:
            env["REDIS_PASSWORD"] = self.redis_password()
            if self.config_key_file.exists():
                env["DRILL_CONFIG_KEY"] = read_secret(self.config_key_file)
        return env

    def shell_exports(self) -> str:
        """`export` lines for `eval "$(sentinel-drill sandbox env)"`; the password is read from its file."""
        lines = [f"export {k}={shlex.quote(v)}" for k, v in self.env().items()]
        lines.append(f'export REDIS_PASSWORD="$(cat {shlex.quote(str(self.redis_password_file))})"')
        lines.append(f'export DRILL_CONFIG_KEY="$(cat {shlex.quote(str(self.config_key_file))})"')
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, Path):
                data[key] = str(value)
        data.update(redis_url=self.redis_url, health_url=self.health_url, store_url=self.store_url,
                    log_store_url=self.log_store_url,
                    state_dir=str(self.state_dir))
        return data



_RUNTIME_FIELDS = ("pids", "running", "already_running", "rss_bytes")


def save_state(paths: SandboxPaths, info: SandboxInfo) -> None:
    """Persist the static part of `info` to state.json (atomically)."""
    data = {k: v for k, v in info.to_json().items() if k not in _RUNTIME_FIELDS}
    for derived in ("redis_url", "health_url", "store_url", "log_store_url"):
        data.pop(derived, None)
    data["version"] = STATE_VERSION
    tmp = paths.state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, paths.state_file)


def load_state(paths: SandboxPaths) -> SandboxInfo | None:
    """The recorded sandbox with live pids/running/RSS filled in, or None when nothing is recorded."""
    try:
        data = json.loads(paths.state_file.read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        raise SandboxError(f"{paths.state_file} is corrupt", fix="run `sentinel-drill sandbox down`") from None
    data.pop("version", None)
    for key in ("state_dir", "kubeconfig", "redis_password_file", "redis_data_dir"):
        data[key] = Path(data[key])
    pids = owned_processes(paths)
    live = {name: proc.pid for name, proc in pids.items() if processes.is_running(proc)}
    # whatever was recorded must be alive, and the core must be there at all: a lost cluster or a
    # killed Redis (scenario 3) removes its own pid records, which must not read as "running"
    core = {"front", "moto"} if data.get("nodes") == "real" else {"redis", "health", "moto"}
    expected = set(pids) | core | {f"{data['cluster_name']}/kube-apiserver"}
    return SandboxInfo(
        **data,
        pids=live,
        running=expected <= set(live),
        rss_bytes=sum(processes.rss_bytes(p) for p in live.values()),
    )


def cluster_names(paths: SandboxPaths) -> list[str]:
    """The kwok clusters that exist in this sandbox's work dir (the primary and any added ones)."""
    clusters = paths.kwok_workdir / "clusters"
    return sorted(p.name for p in clusters.iterdir() if p.is_dir()) if clusters.is_dir() else []


def owned_processes(paths: SandboxPaths) -> dict[str, processes.TrackedProcess]:
    """Every process the sandbox started: ours (pids/), its Redis and kwokctl's control plane(s).

    Redis is found through the drill-managed marker in its data dir, which
    whoever restarted it last (e.g. a file restore) keeps current.
    """
    found: dict[str, processes.TrackedProcess] = {}
    redis_pid = (read_marker(paths.redis_dir) or {}).get("pid")
    if isinstance(redis_pid, int):
        found["redis"] = processes.TrackedProcess("redis", redis_pid, None)
    pidfiles = [("", p) for p in sorted(paths.pids_dir.glob("*.pid"))]
    for cluster in cluster_names(paths):
        prefix = f"{cluster}/"
        pidfiles += [(prefix, p) for p in sorted((paths.kwok_cluster_dir(cluster) / "pids").glob("*.pid"))]
    for prefix, pidfile in pidfiles:
        proc = processes.read_pidfile(pidfile)
        if proc:
            found[prefix + pidfile.stem] = proc
    return found
