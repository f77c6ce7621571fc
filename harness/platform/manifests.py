"""Load manifests and apply them server-side (field manager `sentinel-drill`), optionally as a dry run.

Server-side apply makes re-applying idempotent and lets the API server (not
us) merge and validate; `dry_run=True` runs the same request with
`dryRun=All`, so admission and validation answer without persisting anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError
from harness.platform.client import (
    APPLY_PATCH,
    FIELD_MANAGER,
    Cluster,
    Obj,
    ObjectNotFound,
    cluster_scoped,
    namespaced,
)


@dataclass(frozen=True)
class AppliedObject:
    kind: str
    namespace: str | None
    name: str
    created: bool
    dry_run: bool

    def describe(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        verb = "created" if self.created else "configured"
        return f"{self.kind.lower()} {where}{self.name} {verb}{' (dry run)' if self.dry_run else ''}"


def load_manifests(path: str | Path) -> list[Obj]:
    """Objects from a YAML file (multi-document) or a directory with a kustomization.yaml.

    Only the kustomization's `resources` list (files and directories, in order) is
    honoured; a directory without kustomization.yaml loads its *.yaml files in name order.
    """
    path = Path(path)
    if path.is_dir():
        kustomization = path / "kustomization.yaml"
        if kustomization.is_file():
            resources = (yaml.safe_load(kustomization.read_text()) or {}).get("resources") or []
            nested = [path / r for r in resources if (path / r).is_dir()]
            if nested:  # e.g. `- ../rbac`: that directory's own objects, in place
                return [obj for r in resources for obj in load_manifests(path / r)]
    if path.is_dir():
        kustomization = path / "kustomization.yaml"
        if kustomization.is_file():
            spec = yaml.safe_load(kustomization.read_text()) or {}
            files = [path / r for r in spec.get("resources") or []]
        else:
            files = sorted(path.glob("*.yaml"))
    else:
        files = [path]
    objects: list[Obj] = []
    for file in files:
        if not file.is_file():
            raise ConfigError(f"manifest {file} does not exist", fix=f"fix the resources list in {path}")
        try:
            docs = list(yaml.safe_load_all(file.read_text()))
        except yaml.YAMLError as exc:
            raise ConfigError(f"manifest {file} is not valid YAML: {exc}", fix="fix the YAML") from None
        for doc in docs:
            if not doc:
                continue
            if not isinstance(doc, dict) or not {"apiVersion", "kind", "metadata"} <= doc.keys():
                raise ConfigError(f"manifest {file} has a document without apiVersion/kind/metadata",
                                  fix="every document must be a Kubernetes object")
            objects.append(doc)
    return objects


class _Resources:
    """apiVersion + kind → (plural, namespaced) from the server's discovery documents, cached per run."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.cache: dict[str, dict[str, tuple[str, bool]]] = {}

    def lookup(self, api_version: str, kind: str) -> tuple[str, bool]:
        if api_version not in self.cache:
            base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            doc = self.cluster.get(base, what=f"API group {api_version}")
            self.cache[api_version] = {
                r["kind"]: (r["name"], bool(r.get("namespaced")))
                for r in doc.get("resources") or [] if "/" not in r["name"]
            }
        try:
            return self.cache[api_version][kind]
        except KeyError:
            raise ConfigError(
                f"the API server does not serve kind {kind} in {api_version}",
                fix="check the manifest's apiVersion/kind against `kubectl api-resources`",
            ) from None


def object_path(resources: _Resources, obj: Obj, namespace: str | None = None) -> tuple[str, str | None]:
    plural, is_namespaced = resources.lookup(obj["apiVersion"], obj["kind"])
    name = obj["metadata"]["name"]
    if not is_namespaced:
        return cluster_scoped(obj["apiVersion"], plural, name), None
    ns = namespace or obj["metadata"].get("namespace")
    if not ns:
        raise ConfigError(f"{obj['kind']} {name} has no namespace", fix="set metadata.namespace in the manifest")
    return namespaced(obj["apiVersion"], plural, ns, name), ns


def apply_objects(
    cluster: Cluster,
    objects: Iterable[Obj],
    *,
    dry_run: bool = False,
    field_manager: str = FIELD_MANAGER,
    force: bool = True,
    namespace: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> list[AppliedObject]:
    """Server-side apply each object in order; `namespace` overrides metadata.namespace of namespaced ones.

    `force` takes ownership of fields another manager set (what a restore needs); `labels` are added to
    every object (a drill run's ownership label: harness.ownership).
    """
    resources = _Resources(cluster)
    applied: list[AppliedObject] = []
    for obj in objects:
        path, ns = object_path(resources, obj, namespace)
        body: dict[str, Any] = {**obj, "metadata": {**obj["metadata"]}}
        if labels:
            body["metadata"]["labels"] = {**(body["metadata"].get("labels") or {}), **labels}
        if ns:
            body["metadata"]["namespace"] = ns
        what = f"{obj['kind'].lower()} {ns + '/' if ns else ''}{obj['metadata']['name']}"
        query: dict[str, Any] = {"fieldManager": field_manager, "force": force}
        if dry_run:
            query["dryRun"] = "All"
        status, _ = cluster.send("PATCH", path, query=query, body=body, content_type=APPLY_PATCH, what=what)
        applied.append(AppliedObject(obj["kind"], ns, obj["metadata"]["name"], status == 201, dry_run))
    return applied


def delete_objects(cluster: Cluster, objects: Iterable[Obj], *, namespace: str | None = None) -> list[str]:
    """Delete each object (namespaced ones in `namespace` when given), last first; return what was deleted.

    Idempotent: an object already gone is skipped, so a teardown can be replayed.
    """
    resources = _Resources(cluster)
    deleted: list[str] = []
    for obj in reversed(list(objects)):
        path, ns = object_path(resources, obj, namespace)
        what = f"{obj['kind'].lower()} {ns + '/' if ns else ''}{obj['metadata']['name']}"
        try:
            cluster.request("DELETE", path, body={"propagationPolicy": "Background"}, what=what)
        except ObjectNotFound:
            continue
        deleted.append(what)
    return deleted


def apply_manifests(
    cluster: Cluster, path: str | Path, *, dry_run: bool = False, field_manager: str = FIELD_MANAGER
) -> list[AppliedObject]:
    """Load and server-side apply the manifests at `path` (file or kustomize directory)."""
    return apply_objects(cluster, load_manifests(path), dry_run=dry_run, field_manager=field_manager)
