"""Default-deny guard for destructive actions, called by the drill, the targets and every chaos action alike.

A fault may hit a target only when all three hold:

1. **allow-list** — the target is the sandbox or is listed in `allowed_targets`;
2. **confirmation** — this run was confirmed for it (`DRILL_CONFIRM_DESTRUCTIVE=<target name>`);
3. **identity** — the cluster the kubeconfig reaches *now* is the one pinned in the config
   (`sentinel-drill target pin`: API server URL + `kube-system` namespace UID). A name proves
   nothing about where a kubeconfig points; the UID is minted by the cluster itself.

An undo (uncordon, scale back, remove the isolation policy) is checked for
identity only: refusing to undo for want of a confirmation would leave the
damage in place, while undoing on the *wrong* cluster is still a change to a
cluster nobody agreed to touch. The sandbox is its own recorded cluster
(its kubeconfig comes from its state dir), so it needs no pin.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from harness.config import Settings
from harness.errors import SafetyRefused

CONFIRM_ENV = "DRILL_CONFIRM_DESTRUCTIVE"
SANDBOX = "sandbox"
PIN_FIX = "run `sentinel-drill target pin --config FILE` against the cluster this target may break"
KUBE_SYSTEM_PATH = "/api/v1/namespaces/kube-system"


class IdentitySource(Protocol):
    """What the guard reads from a cluster: its API server URL and one GET (harness.platform's Cluster)."""

    @property
    def server(self) -> str: ...

    def get(self, path: str, *, what: str | None = None) -> dict[str, Any]: ...


class GuardedTarget(Protocol):
    """What the guard needs of a target: its settings and a client for its current cluster."""

    @property
    def settings(self) -> Settings: ...

    def cluster(self) -> Any: ...


@dataclass(frozen=True)
class ClusterIdentity:
    """Who a cluster is: where its API server answers and the UID its kube-system namespace was given."""

    api_server: str
    kube_system_uid: str

    def describe(self) -> str:
        return f"{self.api_server} (kube-system uid {self.kube_system_uid})"


def normalise_api_server(url: str) -> str:
    """`HTTPS://Host:6443/` and `https://host:6443` are the same API server."""
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


def read_identity(cluster: IdentitySource) -> ClusterIdentity:
    """Ask the live cluster who it is (one GET of the kube-system namespace)."""
    namespace = cluster.get(KUBE_SYSTEM_PATH, what="namespace kube-system")
    uid = str((namespace.get("metadata") or {}).get("uid") or "")
    return ClusterIdentity(normalise_api_server(cluster.server), uid)


def pinned_identities(settings: Settings) -> tuple[ClusterIdentity, ...]:
    """The clusters this config pinned as breakable: the primary and, when pinned separately, the DR one."""
    pairs = [(settings.pinned_api_server, settings.pinned_kube_system_uid),
             (settings.dr_pinned_api_server, settings.dr_pinned_kube_system_uid)]
    return tuple(ClusterIdentity(normalise_api_server(server), uid.strip())
                 for server, uid in pairs if server and uid)


def _confirmed(settings: Settings, env: Mapping[str, str]) -> bool:
    return env.get(CONFIRM_ENV, "").strip() == settings.target


def destructive_allowed(settings: Settings, *, env: Mapping[str, str] | None = None) -> bool:
    """True when the configuration alone allows faults (allow-list, confirmation, a pin); identity is checked at the action."""
    env = os.environ if env is None else env
    if settings.target == SANDBOX:
        return True
    return (settings.target in settings.allowed_targets and _confirmed(settings, env)
            and bool(pinned_identities(settings)))


def require_faults_permitted(settings: Settings, action: str, *, env: Mapping[str, str] | None = None) -> None:
    """SafetyRefused unless the configuration allows `action` (allow-list, confirmation, a pin), without a request.

    The identity of the cluster reached now is checked separately (`require_identity`).
    """
    if settings.target == SANDBOX:
        return
    _require_permission(settings, action, os.environ if env is None else env)
    _require_pinned(settings, action)


def _require_permission(settings: Settings, action: str, env: Mapping[str, str]) -> None:
    if settings.target not in settings.allowed_targets:
        raise SafetyRefused(
            f"refusing to {action} on target {settings.target!r}: it is not in safety allowed_targets",
            fix=f"add {settings.target!r} to allowed_targets in the config file (DRILL_ALLOWED_TARGETS) if it is "
                "a drill target",
        )
    if not _confirmed(settings, env):
        raise SafetyRefused(
            f"refusing to {action} on target {settings.target!r} without confirmation",
            fix=f"set {CONFIRM_ENV}={settings.target} for this run",
        )


def _require_pinned(settings: Settings, action: str) -> tuple[ClusterIdentity, ...]:
    pinned = pinned_identities(settings)
    if not pinned:
        raise SafetyRefused(
            f"refusing to {action} on target {settings.target!r}: no cluster identity is pinned for it",
            fix=PIN_FIX,
        )
    return pinned


def require_identity(settings: Settings, cluster: IdentitySource, action: str) -> ClusterIdentity:
    """Raise SafetyRefused unless `cluster` is one the config pinned; return the identity seen."""
    pinned = _require_pinned(settings, action)
    seen = read_identity(cluster)
    if seen in pinned:
        return seen
    expected = " or ".join(p.describe() for p in pinned)
    raise SafetyRefused(
        f"refusing to {action} on target {settings.target!r}: the kubeconfig reaches {seen.describe()}, "
        f"not the pinned {expected}",
        fix="point kubeconfig/context at the pinned cluster, or re-pin with `sentinel-drill target pin` "
        "if the cluster was really rebuilt",
    )


def require_destructive(
    target: GuardedTarget, action: str, *, undo: bool = False, env: Mapping[str, str] | None = None
) -> None:
    """Raise SafetyRefused unless `action` may run against `target`'s current cluster now.

    `undo=True` (a rollback) checks identity only. Raises SafetyRefused naming
    the missing condition and its fix; reaching the cluster may raise the
    platform's ConnectionFailed/AuthFailed.
    """
    settings = target.settings
    if settings.target == SANDBOX:
        return
    if not undo:
        _require_permission(settings, action, os.environ if env is None else env)
    _require_pinned(settings, action)  # before connecting: an unpinned target is refused without a request
    require_identity(settings, target.cluster(), action)
