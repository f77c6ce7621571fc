"""Export and import Secrets and ConfigMaps with the server's bookkeeping stripped.

An export must be re-appliable to a *new* cluster, so resourceVersion, uid,
timestamps, managedFields and owner references (which point at UIDs that
will not exist there) are removed. The objects returned by export contain
secret data: callers encrypt them before they are stored and never log them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence

from harness.platform.client import Cluster, Obj, namespaced
from harness.platform.manifests import AppliedObject, apply_objects

_SERVER_FIELDS = ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation",
                  "selfLink", "ownerReferences", "deletionTimestamp", "deletionGracePeriodSeconds")
_SERVER_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)
_PLURALS = {"Secret": "secrets", "ConfigMap": "configmaps"}
# created by the cluster itself in every namespace; restoring them would fight the controllers
_SKIP_TYPES = {"kubernetes.io/service-account-token"}
_SKIP_NAMES = {("ConfigMap", "kube-root-ca.crt")}


def strip_server_fields(obj: Obj) -> Obj:
    """A copy of `obj` without server-populated fields, ready to apply elsewhere."""
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata") or {}
    for key in _SERVER_FIELDS:
        meta.pop(key, None)
    annotations = meta.get("annotations") or {}
    for key in _SERVER_ANNOTATIONS:
        annotations.pop(key, None)
    if not annotations:
        meta.pop("annotations", None)
    return out


ALL = "*"


def export_config_objects(
    cluster: Cluster,
    *,
    namespace: str,
    secrets: Sequence[str] = (),
    config_maps: Sequence[str] = (),
) -> list[Obj]:
    """The named Secrets and ConfigMaps of `namespace`, server fields stripped, sorted by kind and name.

    Pass `[ALL]` ("*") to take every object of that kind (cluster-managed ones
    such as kube-root-ca.crt and service-account tokens are left out). Raises
    ObjectNotFound when a named object does not exist.
    """
    out: list[Obj] = []
    for kind, names in (("Secret", secrets), ("ConfigMap", config_maps)):
        plural = _PLURALS[kind]
        if list(names) == [ALL]:
            items = [i for i in cluster.list_items(namespaced("v1", plural, namespace))
                     if i.get("type") not in _SKIP_TYPES and (kind, i["metadata"]["name"]) not in _SKIP_NAMES]
        else:
            items = [cluster.get(namespaced("v1", plural, namespace, name), what=f"{kind.lower()} {namespace}/{name}")
                     for name in names]
        for item in items:
            item.setdefault("apiVersion", "v1")
            item.setdefault("kind", kind)
            out.append(strip_server_fields(item))
    return sorted(out, key=lambda o: (o["kind"], o["metadata"]["name"]))


def import_config_objects(
    cluster: Cluster, objects: Iterable[Obj], *, namespace: str | None = None, dry_run: bool = False,
    labels: Mapping[str, str] | None = None,
) -> list[AppliedObject]:
    """Apply exported objects (server-side, forced) into their namespace or `namespace`, adding `labels`."""
    return apply_objects(cluster, [strip_server_fields(o) for o in objects], namespace=namespace, dry_run=dry_run,
                         labels=labels)
