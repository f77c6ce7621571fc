"""The locally built images real sandbox nodes run (tools/build-images.sh; no registry is reachable here)."""

from __future__ import annotations

import subprocess
import tomllib

from harness.redaction import child_environment
from harness.sandbox.state import REPO_ROOT, SandboxError

BRAIN = "sentinel/brain:sandbox"
GATEWAY = "sentinel/gateway:sandbox"
REDIS = "sentinel-drill/redis:7.0-bookworm"
PAUSE = "sentinel-drill/pause:3.10"


def project_image() -> str:
    """The CronJobs' image, tagged with the package version (the repo's Dockerfile)."""
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    return f"sentinel-drill:{version}"


def node_images() -> tuple[str, ...]:
    return (PAUSE, BRAIN, GATEWAY, REDIS, project_image())


def why_no_engine() -> str | None:
    """None when the Docker engine answers, else one line saying why (real nodes get their images from it)."""
    try:
        out = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                             timeout=20, check=False, env=child_environment())
    except (FileNotFoundError, subprocess.TimeoutExpired) as exc:
        return f"the Docker engine is not available ({exc.__class__.__name__}); run `make docker`"
    if out.returncode != 0:
        return f"the Docker engine does not answer ({out.stderr.strip()[-120:]}); run `make docker`"
    return None


def image_ids(names: tuple[str, ...] | None = None) -> dict[str, str]:
    """name → image id of every node image; SandboxError naming the missing ones."""
    wanted = names or node_images()
    out = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", *wanted], capture_output=True,
                         text=True, timeout=30, check=False, env=child_environment())
    ids = out.stdout.split()
    if out.returncode != 0 or len(ids) != len(wanted):
        missing = [n for n in wanted if subprocess.run(["docker", "image", "inspect", n], capture_output=True,
                                                        timeout=30, check=False, env=child_environment()).returncode != 0]
        raise SandboxError(f"images not built: {', '.join(missing)}", fix="run `make images`")
    return dict(zip(wanted, ids, strict=True))
