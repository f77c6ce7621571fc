"""Choose the target from configuration: the local sandbox (default) or a real cluster."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.config import Settings
from harness.target.base import LossProof, LossReport, Target

__all__ = ["LossProof", "LossReport", "Target", "open_target"]


@contextmanager
def open_target(settings: Settings, *, start_sandbox: bool = True) -> Iterator[Target]:
    """Yield the configured target; a sandbox this call started is stopped again on exit.

    Without `start_sandbox` the recorded sandbox is used as it is, even half
    destroyed (a chaos action in the middle of scenario 3 sees it that way).
    The target always has a run id (harness.ownership): what it creates carries it.
    """
    from harness.ownership import with_run_id

    settings = with_run_id(settings)
    if settings.target != "sandbox":
        from harness.target.cluster import ClusterTarget

        target = ClusterTarget(settings)
        try:
            yield target
        finally:
            target.release_redis_forwards()
        return
    from harness.sandbox import sandbox_down, sandbox_status, sandbox_up
    from harness.sandbox.state import SandboxError
    from harness.target.sandbox import SandboxTarget
    from harness.target.sandbox_nodes import RealNodeSandboxTarget

    state_dir = Path(settings.sandbox_dir) if settings.sandbox_dir else None
    info = sandbox_status(state_dir)
    started = False
    if info is None and not start_sandbox:
        raise SandboxError("no sandbox is recorded", fix="run `sentinel-drill sandbox up`")
    if info is None or (start_sandbox and not info.running):
        info = sandbox_up(state_dir, nodes=settings.sandbox_nodes)
        if info.nodes_note:
            print(f"sentinel-drill: {info.nodes_note}", file=sys.stderr)
        started = True
    sandbox = (RealNodeSandboxTarget if info.nodes == "real" else SandboxTarget)(settings, info)
    try:
        yield sandbox
    finally:
        sandbox.release_redis_forwards()
        if started:
            sandbox_down(state_dir)
