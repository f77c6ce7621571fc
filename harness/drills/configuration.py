"""The configuration backup in the drills: scenario 3 restores the pipeline's export, scenario 4 re-exports.

A disaster is recovered from what the pipeline stored, so scenario 3 restores
the newest *pipeline* export (never one the drill took for itself) and first
requires that it decrypts with the configured key; drift from the live
namespace is noted (the monthly coverage check fails on it). After a
compromise every Secret is rotated; until the configuration backup runs again
the newest export holds the compromised values, and a later restore would bring
them back, so scenario 4 runs it (what the 15-minute CronJob does) and checks
it wrote a new export.
"""

from __future__ import annotations

from harness.backup.config_export import (
    ConfigExport,
    ExportOutcome,
    backup_config,
    drift,
    latest_export,
    live_objects,
    read_export,
    restore_export,
    restored_mismatches,
)
from harness.backup.manifest import DRILL, PIPELINE, Origin
from harness.backup.store import BackupStore
from harness.drills.scenario import DrillScenario
from harness.errors import TargetMissed
from harness.target.base import Target


def take_config_backup(target: Target, *, store: BackupStore | None = None,
                       origin: Origin = PIPELINE) -> ExportOutcome:
    """`sentinel-drill backup config` against the target's current namespace (writes only on change)."""
    settings = target.settings
    return backup_config(target.cluster(), store or target.store(), namespace=target.namespace,
                         key=target.config_export_key(), secrets=settings.config_secrets,
                         config_maps=settings.config_maps, origin=origin)


def require_pipeline_export(drill: DrillScenario, target: Target) -> ConfigExport:
    """The newest pipeline export, proven readable before any fault; its drift from the namespace is noted."""
    store, key, settings = target.store(), target.config_export_key(), target.settings
    export = latest_export(store, origin=PIPELINE)
    exported = read_export(store, export, key=key)
    live = live_objects(target.cluster(), namespace=target.namespace, secrets=settings.config_secrets,
                           config_maps=settings.config_maps)
    drill.note("config_export", {**export.to_json(), "digests": None,
                                 "drift_from_live": drift(exported, live, key=key)})
    return export


def restore_configuration(drill: DrillScenario, target: Target, export: ConfigExport) -> list[str]:
    """Apply the export into the current namespace and check every restored object's data equals the exported one."""
    cluster = target.cluster()
    objects = restore_export(cluster, target.store(), export, namespace=target.namespace,
                             key=target.config_export_key(), labels=target.owner_labels())
    names = [f"{o['kind']}/{o['metadata']['name']}" for o in objects]
    wrong = restored_mismatches(cluster, objects, namespace=target.namespace)
    drill.note("config_restored", {"export_id": export.export_id, "objects": names, "mismatched": wrong})
    if wrong or not names:
        raise TargetMissed(f"configuration restore incomplete: mismatched {wrong}, restored {len(names)} objects",
                           fix="check the export and the target namespace")
    return names


def back_up_rotated_configuration(drill: DrillScenario, target: Target) -> ConfigExport:
    """Scenario 4: the rotated Secrets exported, so the newest export no longer holds compromised values.

    Where the recovery replaced production (the sandbox) this is the pipeline's export, as the CronJob
    would write it within 15 minutes; where it ran in a parallel environment, production's
    configuration is unchanged, so the export is the drill's and never stands in for the pipeline's.
    """
    origin = PIPELINE if target.recovery_replaces_production() else DRILL
    outcome = take_config_backup(target, origin=origin)
    drill.note("config_backup_after_rotation", {"export_id": outcome.export.export_id if outcome.export else None,
                                                "origin": origin, "namespace": target.namespace,
                                                "objects": list(outcome.objects)})
    if outcome.export is None:
        raise TargetMissed("the configuration backup found nothing changed after the rotation",
                           fix="the rotation did not reach the exported Secrets; check config_secrets")
    return outcome.export
