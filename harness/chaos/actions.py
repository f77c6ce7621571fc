"""Our chaostoolkit actions: what chaostoolkit-kubernetes cannot do, over the Target seam.

Each destructive action goes through harness.safety first and sits next to its
rollback (`lose_cluster` ↔ `finish_cluster_teardown`). The target is re-opened
from configuration (`target`, `sandbox_dir`) and the DRILL_* environment, so
`chaos run` and the harness reach the same one.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from chaoslib.exceptions import ActivityFailed

from harness.config import load_settings
from harness.errors import DrillError
from harness.target import open_target

__all__ = ["finish_cluster_teardown", "lose_cluster"]


def _settings(configuration: dict[str, Any] | None) -> Any:
    configuration = configuration or {}
    overrides = {k: configuration.get(k) or None for k in ("target", "sandbox_dir")}
    return load_settings(overrides=overrides)


def lose_cluster(configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None) -> dict[str, Any]:
    """Destroy the target's cluster and Redis data (sandbox, or an allowed + confirmed target).

    Returns what was destroyed (cluster, API server, Redis URL, details).
    """
    try:
        with open_target(_settings(configuration), start_sandbox=False) as target:
            return asdict(target.lose_primary())
    except DrillError as exc:
        raise ActivityFailed(f"lose_cluster: {exc.one_line()}") from None


def finish_cluster_teardown(
    configuration: dict[str, Any] | None = None, secrets: dict[str, Any] | None = None
) -> bool:
    """Rollback of lose_cluster: make sure nothing of the lost cluster lingers half-alive."""
    try:
        with open_target(_settings(configuration), start_sandbox=False) as target:
            target.finish_teardown()
            return True
    except DrillError as exc:
        raise ActivityFailed(f"finish_cluster_teardown: {exc.one_line()}") from None
