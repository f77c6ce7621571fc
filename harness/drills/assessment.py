"""Scenario 4's "Assess" step, and the known-good image gate of its clean deploy.

Before anything is restored the runbook asks what the attacker changed. Three
answers, names only (values never leave the cluster or Redis):
- the compromised namespace's objects created or changed since the pipeline's
  last configuration export (by creation time and the last write its managed
  fields record; status and scale writes do not count), the drill's own left out;
- its workloads' images against the images the clean deploy is about to run, by
  workload and container (a changed tag shows here);
- Redis keys that differ from the newest verified backup, counted by prefix,
  with a sample of names (harness.drills.keyspace).
Then the clean deploy runs only images whose digest, as the target resolves it,
is the one recorded in `known_good_images`; any other image, or one the target
cannot resolve, stops it, named.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.backup.catalog import find_backup
from harness.backup.config_export import newest_export
from harness.backup.dataset import loaded_scratch
from harness.backup.manifest import PIPELINE
from harness.drills import keyspace
from harness.drills.recovery import newest_verified_backup
from harness.drills.scenario import DrillScenario
from harness.errors import DrillError, TargetMissed
from harness.ownership import RUN_LABEL
from harness.platform.client import Cluster, Obj, namespaced
from harness.target.base import Target

#: what the assessment lists in the compromised namespace (the drill's production role may read these)
ASSESSED_KINDS = (("apps/v1", "deployments"), ("apps/v1", "statefulsets"), ("v1", "services"),
                  ("v1", "configmaps"), ("v1", "secrets"))
_KIND = {"deployments": "Deployment", "statefulsets": "StatefulSet", "services": "Service", "configmaps": "ConfigMap",
         "secrets": "Secret"}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
#: where a write does not change what the object is
_IGNORED_SUBRESOURCES = {"status", "scale"}


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _last_write(obj: Obj) -> datetime | None:
    """The newest write its managed fields record, status and scale writes left out."""
    times = [_time(f.get("time")) for f in obj["metadata"].get("managedFields") or []
             if (f.get("subresource") or "") not in _IGNORED_SUBRESOURCES]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def _same_second(at: datetime, since: datetime) -> str:
    return " (in the export's own second: before or after it)" if at == since else ""


def changed_since(cluster: Cluster, namespace: str, since: datetime) -> list[str]:
    """`Kind/name: created …` or `Kind/name: changed …` for every object of ASSESSED_KINDS written since `since`
    (from its second on: a write in the export's own second may be after it, so it is named)."""
    out: list[str] = []
    since = since.replace(microsecond=0)  # object times have 1 s resolution: the export's second counts as after
    for version, plural in ASSESSED_KINDS:
        for obj in cluster.list_items(namespaced(version, plural, namespace)):
            meta = obj["metadata"]
            if RUN_LABEL in (meta.get("labels") or {}):
                continue  # the drill's own
            name = f"{_KIND[plural]}/{meta['name']}"  # list items carry no kind
            created, written = _time(meta.get("creationTimestamp")), _last_write(obj)
            if created is not None and created >= since:
                out.append(f"{name}: created {created.isoformat()}{_same_second(created, since)}")
            elif written is not None and written >= since:
                out.append(f"{name}: changed {written.isoformat()}{_same_second(written, since)}")
    return sorted(out)


def _containers(obj: Obj) -> Iterable[dict[str, Any]]:
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    pod = (spec.get("template") or {}).get("spec") or {}
    return [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]


def workload_images(objects: Iterable[Obj]) -> dict[str, str]:
    """`Kind/name container` → image, for every workload among `objects`."""
    return {f"{o['kind']}/{o['metadata']['name']} {c['name']}": str(c.get("image"))
            for o in objects if o.get("kind") in WORKLOAD_KINDS for c in _containers(o)}


def image_changes(live: dict[str, str], clean: dict[str, str]) -> list[str]:
    """Where the namespace runs another image than the clean deploy would, or a workload the clean deploy has not."""
    out = []
    for where, image in sorted(live.items()):
        if where not in clean:
            out.append(f"{where}: runs {image}, not in the clean deploy")
        elif clean[where] != image:
            out.append(f"{where}: runs {image}, the clean deploy {clean[where]}")
    return out


@dataclass(frozen=True)
class Assessment:
    """What the compromise changed, by name: objects, images, Redis keys by prefix."""

    namespace: str
    export_id: str | None
    export_created_at: datetime | None
    changed_objects: tuple[str, ...]
    changed_images: tuple[str, ...]
    compared_backup: str | None
    key_differences: tuple[keyspace.PrefixDifference, ...]
    keys_not_compared: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "config_export": self.export_id,
                "config_export_created_at": self.export_created_at.isoformat() if self.export_created_at else None,
                "changed_objects": list(self.changed_objects), "changed_images": list(self.changed_images),
                "compared_backup": self.compared_backup,
                "key_differences": [d.to_json() for d in self.key_differences],
                "keys_not_compared": self.keys_not_compared}


def _key_differences(target: Target) -> tuple[str | None, list[keyspace.PrefixDifference], str | None]:
    """(backup compared, differences, why not compared): the live Redis against the newest verified backup."""
    try:
        backup_id = newest_verified_backup(target)
        store = target.store()
        entry = find_backup(store, backup_id)
        assert entry.rdb_key is not None
        with tempfile.TemporaryDirectory(prefix="drill-assess-") as tmp:
            rdb = Path(tmp) / "backup.rdb"
            store.get_file_hashed(entry.rdb_key, rdb)
            with loaded_scratch(rdb) as scratch:
                return backup_id, keyspace.differences(target.redis(), scratch.client()), None
    except DrillError as exc:
        return None, [], exc.one_line()


def assess_compromise(drill: DrillScenario, target: Target) -> Assessment:
    """Assess the isolated namespace before any recovery; noted in `details.assessment`, never fails the drill."""
    cluster, namespace = target.cluster(), target.namespace
    export = newest_export(target.store(), origin=PIPELINE)
    changed = changed_since(cluster, namespace, export.created_at) if export else []
    live = workload_images({**o, "kind": _KIND[plural]}
                           for version, plural in (("apps/v1", "deployments"), ("apps/v1", "statefulsets"))
                           for o in cluster.list_items(namespaced(version, plural, namespace)))
    clean = workload_images(target.stack_as_deployed(namespace))
    backup_id, differences, why_not = _key_differences(target)
    found = Assessment(namespace, export.export_id if export else None, export.created_at if export else None,
                       tuple(changed) if export else ("no pipeline configuration export to compare with",),
                       tuple(image_changes(live, clean)), backup_id, tuple(differences), why_not)
    drill.note("assessment", found.to_json())
    drill.clock.mark("assessed")
    return found


def require_known_good_images(drill: DrillScenario, target: Target, objects: list[Obj]) -> dict[str, str]:
    """Every image `objects` run resolves to the digest `known_good_images` records; TargetMissed naming the others.

    With no digests configured nothing is checked, and the evidence says so.
    """
    known = target.settings.known_good_images
    images = sorted(set(workload_images(objects).values()))
    if not known:
        drill.note("image_check", {"images": images, "checked": False,
                                   "why": "known_good_images is empty: the clean deploy's images were not checked"})
        return {}
    resolved = {image: target.image_digest(image) for image in images}
    wrong = []
    for image, digest in resolved.items():
        if image not in known:
            wrong.append(f"{image} (digest {digest or 'unknown'}) has no known-good digest")
        elif digest is None:
            wrong.append(f"{image}: its digest cannot be resolved on this target (known-good {known[image]})")
        elif digest != known[image]:
            wrong.append(f"{image} resolves to {digest}, known-good is {known[image]}")
    drill.note("image_check", {"images": images, "checked": True, "resolved": resolved, "refused": wrong})
    if wrong:
        raise TargetMissed(f"the clean deploy stopped: {'; '.join(wrong)}",
                           fix="deploy only images whose digest is recorded in known_good_images; rebuild or "
                               "re-pull the compromised ones from a trusted source")
    return {image: str(digest) for image, digest in resolved.items()}
