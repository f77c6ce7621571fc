"""Admit a drill run before anything is written: the safety checks of every selected fault, up front.

The per-fault guard (harness.safety) still runs at each action, for `chaos run`
and as a second look; but a scenario's Given steps already write (canary keys,
a session through the Gateway, the drill's own backup), so a refusal found only
at the fault comes after writes to production. `sentinel-drill drill` therefore
admits the whole selection before pytest starts: the allow-list, the
confirmation, the pinned identity of the cluster the kubeconfig reaches now,
and for the scenarios that recover in the DR environment, the DR settings and
the proof that the DR environment is not production. A refusal is a
SafetyRefused (exit 2) naming the setting to change; nothing has been written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from harness.config import Settings
from harness.drills.plan import SELECTION_TAGS
from harness.platform.client import connect
from harness.safety import SANDBOX, require_faults_permitted, require_identity

#: the selection tags whose scenarios inject a fault, and what that fault does to the target
FAULTS: dict[str, str] = {
    "scenario-1": "terminate Brain pods",
    "scenario-2": "drain a zone",
    "scenario-3": "restore into the DR environment",
    "scenario-4": "isolate the namespace and restore into the DR environment",
}
#: the scenarios that recover into the parallel DR environment on a real target
RECOVER_IN_DR = ("scenario-3", "scenario-4")


@dataclass(frozen=True)
class Admission:
    """What was checked before the run, in words (printed by `drill`, kept out of the evidence: no secrets)."""

    selection: str
    checked: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"admitted: {line}" for line in self.checked]


def faults_in(selection: str) -> list[str]:
    """The selection's scenario tags that inject a fault."""
    return [tag for tag in SELECTION_TAGS[selection] if tag in FAULTS]


def admit(selection: str, settings: Settings, *, env: Mapping[str, str] | None = None) -> Admission:
    """Raise SafetyRefused (or ConfigError, ConnectionFailed) unless every fault of `selection` may run now.

    Reads the clusters' identities and the DR environment's servers; writes nothing.
    """
    env = os.environ if env is None else env
    admission = Admission(selection)
    faults = faults_in(selection)
    if settings.target == SANDBOX or not faults:
        admission.checked.append(f"{selection} on {settings.target!r}: "
                                 + ("the sandbox is the drill's own" if faults else "no fault selected"))
        return admission
    action = f"run drill {selection} ({'; '.join(FAULTS[f] for f in faults)})"
    require_faults_permitted(settings, action, env=env)
    seen = require_identity(settings, connect(settings.kubeconfig, settings.context), action)
    admission.checked.append(f"target {settings.target!r} allowed and confirmed; the kubeconfig reaches the "
                             f"pinned cluster {seen.describe()}")
    for tag in (f for f in faults if f in RECOVER_IN_DR):
        admission.checked.append(_admit_recovery_environment(settings, tag, action))
    return admission


def _admit_recovery_environment(settings: Settings, tag: str, action: str) -> str:
    """The DR coordinates are set, pinned where they reach another cluster, and provably not production."""
    from harness.target.cluster import ClusterTarget, dr_settings

    recovery = dr_settings(settings, purpose=tag)
    require_identity(settings, connect(recovery.kubeconfig, recovery.context), f"{action}: the DR cluster")
    target = ClusterTarget(settings)
    proof = target.require_distinct_recovery_environment(purpose=tag)
    redis_said = (f"its Redis is another server (run_id {proof.recovery_redis.run_id[:12]}…)"
                  if proof.recovery_redis is not None else
                  "its Redis, the DR stack's own, is not deployed yet (compared with production's when it answers)")
    return (f"{tag}: DR environment {proof.recovery_cluster.describe()} namespace {proof.recovery_namespace!r} is "
            f"not production's (namespace {proof.production_namespace!r}); {redis_said}")
