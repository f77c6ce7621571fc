"""Who ran a drill, where, from which commit and with which tools.

An auditor needs to tie a bundle to a person, a machine, a commit and an exact
configuration; these helpers collect that without ever failing a run: a value
that cannot be found is recorded as unknown.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from harness import __version__
from harness.redaction import child_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Python distributions whose versions go into every bundle
PACKAGES = ("chaostoolkit-lib", "chaostoolkit-kubernetes", "pytest-bdd", "allure-pytest-bdd", "redis",
            "boto3", "kubernetes")


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """UTC ISO-8601 with a Z, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _git(*args: str, cwd: Path = REPO_ROOT) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False,
                             env=child_environment())
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def git_sha(cwd: Path = REPO_ROOT) -> str:
    """The checked-out commit ('' outside a git work tree)."""
    return _git("rev-parse", "HEAD", cwd=cwd)


def git_dirty(cwd: Path = REPO_ROOT) -> bool:
    """True when tracked files differ from the commit (the evidence ran modified code)."""
    return bool(_git("status", "--porcelain", "--untracked-files=no", cwd=cwd))


def operator(env: Mapping[str, str] | None = None) -> str:
    """The person behind the run: the CI actor, $USER, or git's user.email."""
    env = os.environ if env is None else env
    for name in ("GITHUB_ACTOR", "USER", "LOGNAME"):
        if env.get(name):
            return env[name]
    return _git("config", "user.email") or "unknown"


def host() -> str:
    return socket.gethostname()


def config_sha256(config: Mapping[str, Any]) -> str:
    """sha256 of the redacted configuration as canonical JSON (sorted keys, no spaces)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _command_version(*argv: str) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        out = subprocess.run(list(argv), capture_output=True, text=True, timeout=10, check=False,
                             env=child_environment())
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"v=(\S+)|version \"?([\w.\-]+)", out.stdout + out.stderr)
    return next((g for g in match.groups() if g), None) if match else None


def local_tool_versions() -> dict[str, str]:
    """Versions of the harness, Python, key libraries and redis-server found on this machine."""
    versions = {"harness": __version__, "python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    redis = _command_version("redis-server", "--version")
    if redis:
        versions["redis-server (local)"] = redis
    return versions
