"""What a drill would hit, resolved from configuration without touching anything (`drill --dry-run`)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.config import Settings, redact_url
from harness.drills.experiments import BRAIN_SELECTOR
from harness.safety import destructive_allowed

#: selection → the scenario tags it runs (see the features' tags)
SELECTION_TAGS: dict[str, tuple[str, ...]] = {
    "monthly": ("coverage", "monthly", "scenario-1"),
    "coverage": ("coverage",),
    "quarterly": ("scenario-3", "smoke"),  # the smoke runs after scenario 3: against the restored environment
    "daily": ("daily",),
    "scenario-1": ("scenario-1",),
    "scenario-2": ("scenario-2",),
    "scenario-3": ("scenario-3",),
    "scenario-4": ("scenario-4",),
    "smoke": ("smoke",),
    "all": ("coverage", "scenario-1", "scenario-2", "scenario-3", "smoke", "scenario-4", "monthly", "daily"),
}


@dataclass(frozen=True)
class PlannedFault:
    scenario: str
    experiment: str
    hits: str


def faults(selection: str, settings: Settings) -> list[PlannedFault]:
    """The faults the selection injects, each with what it would hit on this target."""
    ns = settings.namespace
    real = settings.target != "sandbox"
    table = {
        "scenario-1": PlannedFault("scenario-1", "pod-kill",
                                   f"terminate {settings.kill_share:.0%} then all of the pods {BRAIN_SELECTOR} in "
                                   f"namespace {ns} (grace period 0)"),
        "scenario-2": PlannedFault("scenario-2", "zone-drain",
                                   f"cordon and drain every node labelled topology.kubernetes.io/zone=zone-a, "
                                   f"scale sentinel-brain in {ns} to 10; rollback uncordons and scales back; "
                                   "where the target can stop machines (sandbox real nodes) also zone-outage: "
                                   "every machine of zone-a stopped, restarted by the rollback"),
        "scenario-3": PlannedFault("scenario-3", "cluster-loss",
                                   f"switch to the DR environment (context {settings.dr_context or '(dr_context not set)'}, namespace "
                                   f"{settings.dr_namespace or ns}); production is not touched" if real else
                                   "delete the sandbox's kwok cluster, kill its Redis and remove its data, then "
                                   "restore into a new kwok cluster"),
        "scenario-4": PlannedFault("scenario-4", "compromise",
                                   f"plant a tampered backup in {settings.store_url}, isolate namespace {ns} with a "
                                   "deny-all NetworkPolicy, deploy a clean namespace, rotate every Secret and the "
                                   "Redis password"),
    }
    return [table[tag] for tag in SELECTION_TAGS[selection] if tag in table]


def describe_plan(selection: str, settings: Settings) -> list[str]:
    """Human-readable lines: the target, the safety verdict, and every fault with what it would hit."""
    unset = "(the sandbox's)" if settings.target == "sandbox" else "(not set)"
    lines = [
        f"drill {selection} — dry run, nothing is touched",
        f"target      {settings.target}" + ("  (started for the run when not running)"
                                             if settings.target == "sandbox" else ""),
        (f"cluster     kubeconfig {settings.kubeconfig or unset} context {settings.context or unset} "
         f"namespace {settings.namespace}"),
        f"redis       {redact_url(settings.redis_url) if settings.redis_url else unset}",
        f"store       {settings.store_url or unset}",
        (f"targets     RTO {settings.rto_seconds:.0f}s · RPO {settings.rpo_seconds:.0f}s · "
         f"availability ≥ {settings.availability_floor:.2%}"),
        f"scenarios   tags {', '.join(SELECTION_TAGS[selection])}",
    ]
    planned = faults(selection, settings)
    allowed = destructive_allowed(settings)
    lines.append(f"safety      faults {'ALLOWED' if allowed else 'REFUSED'} on {settings.target!r}"
                 + ("" if allowed else " (needs allowed_targets, DRILL_CONFIRM_DESTRUCTIVE and a pinned cluster: sentinel-drill target pin)"))
    lines += [f"fault       {f.scenario} · {f.experiment}: {f.hits}" for f in planned] or ["fault       none"]
    return lines
