"""Default-deny guard for destructive actions, called by the CLI, the steps and the chaos actions alike.

Only the sandbox, or a target listed in `allowed_targets` AND confirmed for this
run (`DRILL_CONFIRM_DESTRUCTIVE=<target name>`), may be broken on purpose.
"""

from __future__ import annotations

import os

from harness.config import Settings
from harness.errors import SafetyRefused

CONFIRM_ENV = "DRILL_CONFIRM_DESTRUCTIVE"
SANDBOX = "sandbox"


def destructive_allowed(settings: Settings, *, env: dict[str, str] | None = None) -> bool:
    """True when the target may be broken on purpose in this run."""
    env = dict(os.environ) if env is None else env
    if settings.target == SANDBOX:
        return True
    return settings.target in settings.allowed_targets and env.get(CONFIRM_ENV) == settings.target


def require_destructive(settings: Settings, action: str, *, env: dict[str, str] | None = None) -> None:
    """Raise SafetyRefused unless `action` may run against this target."""
    if destructive_allowed(settings, env=env):
        return
    if settings.target not in settings.allowed_targets:
        raise SafetyRefused(
            f"refusing to {action} on target {settings.target!r}: it is not in safety allowed_targets",
            fix="add it to allowed_targets in the config file (DRILL_ALLOWED_TARGETS) if it is a drill target",
        )
    raise SafetyRefused(
        f"refusing to {action} on target {settings.target!r} without confirmation",
        fix=f"set {CONFIRM_ENV}={settings.target} for this run",
    )
