"""Where the deploy tools come from: helm and kustomize on PATH, else the versions this repository builds.

PATH wins (a team's runbook uses its own helm); otherwise the helm that
`make helm-bin` built from its Go module, and for kustomize the sandbox's
kubectl (`kubectl kustomize`), both cached by version under ~/.cache/sentinel-drill.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from harness.errors import ConfigError
from harness.redaction import child_environment

TOOLS_DIR = Path(__file__).resolve().parents[2] / "tools"
HELM_BUILD_SCRIPT = TOOLS_DIR / "build-helm-bin.sh"
SANDBOX_BUILD_SCRIPT = TOOLS_DIR / "build-sandbox-bin.sh"
#: where the sandbox's control-plane binaries are when not in the build script's cache (harness/sandbox reads it too)
SANDBOX_BIN_DIR_ENV = "DRILL_SANDBOX_BIN_DIR"


def _cache_dir(script: Path, env_var: str | None = None) -> Path | None:
    """$env_var when set, else the directory `script --print-dir` names (never builds); None without the script."""
    if env_var and os.environ.get(env_var):
        return Path(os.environ[env_var])
    if not script.is_file():
        return None
    out = subprocess.run(["bash", str(script), "--print-dir"], check=False, capture_output=True, text=True, timeout=30,
                         env=child_environment())
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


def _built(script: Path, binary: str, env_var: str | None = None) -> Path | None:
    directory = _cache_dir(script, env_var)
    if directory and (directory / ".complete").is_file() and os.access(directory / binary, os.X_OK):
        return directory / binary
    return None


def helm_command() -> list[str]:
    """helm from PATH, else the one tools/build-helm-bin.sh built; ConfigError naming `make helm-bin`."""
    found = shutil.which("helm") or _built(HELM_BUILD_SCRIPT, "helm")
    if not found:
        raise ConfigError("deploy_method helm: no helm on PATH and none built",
                          fix="run `make helm-bin` (builds helm from its Go module, cached) or install helm")
    return [str(found)]


def kustomize_command() -> list[str]:
    """`kustomize build`, else `kubectl kustomize` (PATH, then the sandbox's kubectl)."""
    if found := shutil.which("kustomize"):
        return [found, "build"]
    kubectl = shutil.which("kubectl") or _built(SANDBOX_BUILD_SCRIPT, "kubectl", SANDBOX_BIN_DIR_ENV)
    if not kubectl:
        raise ConfigError("deploy_method kustomize: neither kustomize nor kubectl found",
                          fix="install kustomize, or run `make sandbox-bin` (its kubectl has `kubectl kustomize`)")
    return [str(kubectl), "kustomize"]
