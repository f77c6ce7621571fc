"""The SENTINEL reference stack (deploy/): its objects placed in a namespace, applied, rolled out.

One definition for every target: the sandbox adds its own Secret values and
kwok readiness delays on top (harness/sandbox/stack.py); a real cluster gets
the objects as committed, its Secrets coming from the encrypted export.
"""

from __future__ import annotations

import copy
from pathlib import Path

from harness.platform.client import Cluster, Obj
from harness.platform.manifests import apply_objects, load_manifests
from harness.platform.workloads import wait_for_rollout

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy"
WORKLOADS = (("Deployment", "sentinel-brain"), ("Deployment", "sentinel-gateway"), ("StatefulSet", "redis"))


def place_in(objects: list[Obj], namespace: str) -> list[Obj]:
    """Copies moved to `namespace`: Namespace objects renamed (one added if none), namespaced ones re-pointed."""
    placed = []
    for obj in (copy.deepcopy(o) for o in objects):
        meta = obj["metadata"]
        if obj["kind"] == "Namespace":
            meta["name"] = namespace
        elif "namespace" in meta:
            meta["namespace"] = namespace
        placed.append(obj)
    if not any(o["kind"] == "Namespace" for o in placed):
        placed.insert(0, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    return placed


def stack_in(namespace: str, deploy_dir: Path = DEPLOY_DIR, *, with_secrets: bool = True) -> list[Obj]:
    """deploy/'s objects moved to `namespace` (the files are not touched); Secrets left out on request."""
    return [o for o in place_in(load_manifests(deploy_dir), namespace) if with_secrets or o["kind"] != "Secret"]


def deploy_stack(cluster: Cluster, objects: list[Obj], *, namespace: str, timeout: float = 120.0,
                 wait: bool = True) -> None:
    """Server-side apply `objects` and wait until Brain, Gateway and Redis have rolled out in `namespace`.

    `wait=False` only applies: pods that read a Secret restored later cannot start before it exists.
    """
    apply_objects(cluster, objects, namespace=namespace)  # a chart may leave metadata.namespace unset
    if wait:
        wait_for_stack(cluster, namespace=namespace, timeout=timeout)


def wait_for_stack(cluster: Cluster, *, namespace: str, timeout: float = 120.0) -> None:
    """Brain, Gateway and Redis have rolled out in `namespace`."""
    for kind, name in WORKLOADS:
        wait_for_rollout(cluster, kind, name, namespace=namespace, timeout=timeout)  # type: ignore[arg-type]
