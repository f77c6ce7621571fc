"""The local sandbox target: kwok cluster, redis-server, moto (S3 + Route 53) and a health endpoint.

    from harness.sandbox import sandbox_up, sandbox_down
    info = sandbox_up()                 # or reports the running one
    settings = info.to_settings()       # a drill's Settings against it
    sandbox_down()
"""

from harness.sandbox.lifecycle import (
    DownResult,
    repoint_health,
    sandbox_down,
    sandbox_info,
    sandbox_status,
    sandbox_up,
)
from harness.sandbox.state import SandboxError, SandboxInfo, default_state_dir

__all__ = [
    "DownResult",
    "SandboxError",
    "SandboxInfo",
    "default_state_dir",
    "repoint_health",
    "sandbox_down",
    "sandbox_info",
    "sandbox_status",
    "sandbox_up",
]
