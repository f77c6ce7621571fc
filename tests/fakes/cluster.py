"""An in-memory Kubernetes API that duck-types `harness.platform.client.Cluster`, with a tiny controller.

It answers the paths and verbs harness.platform uses (nodes by zone label,
cordon by merge PATCH, pods by selector, DELETE with a UID precondition,
POST .../eviction, deployments and their scale subresource, EndpointSlices,
server-side apply and DELETE of any object, discovery documents, the
kube-system namespace and /version), so the drills and the chaos activities
run unchanged against it. After every change the "controller" keeps each
Deployment at its desired count: a deleted or evicted pod is replaced at once
by a pod with a new UID on the least-loaded schedulable node (Ready unless
`replacements_ready` is False); cordoned nodes get no new pods; status and
EndpointSlices follow the pods. Deliberately left out: PodDisruptionBudgets
(an eviction is never refused with 429), grace periods (pods vanish at
once), watches, and every field the harness does not read.
"""

from __future__ import annotations

import base64
import copy
import itertools
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from harness.errors import ConnectionFailed
from harness.platform.client import APPLY_PATCH, JSON, ApiRejected, Obj, ObjectNotFound

ZONE_LABEL = "topology.kubernetes.io/zone"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"

#: group/version → kind → (plural, namespaced): what discovery answers (and so what apply_objects can apply)
RESOURCES: dict[str, dict[str, tuple[str, bool]]] = {
    "v1": {"Namespace": ("namespaces", False), "Node": ("nodes", False), "Pod": ("pods", True),
           "Service": ("services", True), "Secret": ("secrets", True), "ConfigMap": ("configmaps", True),
           "PersistentVolumeClaim": ("persistentvolumeclaims", True), "ServiceAccount": ("serviceaccounts", True)},
    "apps/v1": {"Deployment": ("deployments", True), "StatefulSet": ("statefulsets", True)},
    "networking.k8s.io/v1": {"NetworkPolicy": ("networkpolicies", True)},
    "discovery.k8s.io/v1": {"EndpointSlice": ("endpointslices", True)},
    "policy/v1": {"PodDisruptionBudget": ("poddisruptionbudgets", True)},
}
_KINDS = {plural: (gv, kind) for gv, kinds in RESOURCES.items() for kind, (plural, _) in kinds.items()}

Key = tuple[str, str, str]  # (plural, namespace or "", name)


def _now() -> str:
    """A timestamp as the API server writes one (seconds, UTC)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: None deletes a key, mappings merge, anything else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _secret_data(plural: str, body: Any) -> Any:
    """As the API server does: a Secret's `stringData` is stored base64-encoded in `data`."""
    if plural != "secrets" or not isinstance(body, Mapping) or "stringData" not in body:
        return body
    encoded = {k: base64.b64encode(str(v).encode()).decode() for k, v in body["stringData"].items()}
    return {**{k: v for k, v in body.items() if k != "stringData"}, "data": {**(body.get("data") or {}), **encoded}}


def _matches(labels: Mapping[str, str], selector: str | None) -> bool:
    """Equality-based label selectors only (`a=b,c=d`): all the harness sends."""
    pairs = [p.split("=", 1) for p in (selector or "").split(",") if p]
    return all(labels.get(k) == v for k, v in pairs)


class FakeCluster:
    """Nodes in zones, Deployments that own pods, and any other object stored as sent."""

    def __init__(self, *, name: str = "fake", zones: tuple[str, ...] = ("zone-a", "zone-b", "zone-c"),
                 nodes_per_zone: int = 2) -> None:
        self.server = f"https://{name}.cluster.test:6443"
        self.kubeconfig = f"/nonexistent/{name}.kubeconfig"
        self.context: str | None = f"{name}-context"
        self.timeout = 10.0
        self.objects: dict[Key, Obj] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) in order, for "what was touched" assertions
        self.lost = False  # when True every request fails as an unreachable API server would
        self.replacements_ready = True  # False: new pods are scheduled but never become Ready
        self.enforces_policies = True  # a probe pod fails to connect while a NetworkPolicy isolates its namespace
        self._serial = itertools.count(1)
        self._lock = threading.RLock()
        self.kube_system_uid = self._put("namespaces", "", "kube-system", {})["metadata"]["uid"]
        for zone in zones:
            for i in range(nodes_per_zone):
                self._put("nodes", "", f"{name}-{zone}-{i}", {"spec": {}}, labels={ZONE_LABEL: zone})

    # --- building the world ------------------------------------------------------------------------

    def _put(self, plural: str, namespace: str, name: str, body: Obj, *, labels: Mapping[str, str] | None = None) -> Obj:
        group_version, kind = _KINDS[plural]
        meta = {**(body.get("metadata") or {}), "name": name, "uid": str(uuid.uuid4()),
                "resourceVersion": str(next(self._serial)), "generation": 1, "creationTimestamp": _now()}
        if namespace:
            meta["namespace"] = namespace
        if labels:
            meta["labels"] = {**(meta.get("labels") or {}), **labels}
        obj = {**copy.deepcopy(body), "apiVersion": group_version, "kind": kind, "metadata": meta}
        self.objects[(plural, namespace, name)] = obj
        return obj

    def add_deployment(self, name: str, *, namespace: str, replicas: int) -> Obj:
        """A Deployment whose pods carry `app=<name>`, with a Service's EndpointSlice of the same name."""
        with self._lock:
            labels = {"app": name}
            deployment = self._put("deployments", namespace, name, {"spec": {
                "replicas": replicas, "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}}}}, labels=labels)
            self.reconcile()
            return deployment

    # --- the controller ----------------------------------------------------------------------------

    def pods_of(self, deployment: Obj) -> list[Obj]:
        meta = deployment["metadata"]
        return sorted((o for (plural, ns, _), o in self.objects.items()
                       if plural == "pods" and ns == meta["namespace"]
                       and (o["metadata"].get("ownerReferences") or [{}])[0].get("uid") == meta["uid"]),
                      key=lambda p: int(p["metadata"]["resourceVersion"]))

    def _schedulable_node(self, deployment: Obj) -> str | None:
        """The schedulable node running the fewest of this Deployment's pods (spreads over zones)."""
        load = {n["metadata"]["name"]: 0 for (plural, _, _), n in self.objects.items()
                if plural == "nodes" and not n["spec"].get("unschedulable")}
        for pod in self.pods_of(deployment):
            if pod["spec"].get("nodeName") in load:
                load[pod["spec"]["nodeName"]] += 1
        zone = {n["metadata"]["name"]: n["metadata"]["labels"].get(ZONE_LABEL, "")
                for (plural, _, _), n in self.objects.items() if plural == "nodes"}
        return min(load, key=lambda n: (load[n], zone[n], n)) if load else None

    def _new_pod(self, deployment: Obj) -> None:
        meta = deployment["metadata"]
        node = self._schedulable_node(deployment)
        ready = node is not None and self.replacements_ready
        serial = next(self._serial)
        self._put("pods", meta["namespace"], f"{meta['name']}-{serial:05d}", {
            "metadata": {"ownerReferences": [{"kind": "ReplicaSet", "name": f"{meta['name']}-rs",
                                              "uid": meta["uid"]}]},
            "spec": {"nodeName": node} if node else {},
            "status": {"phase": "Running" if node else "Pending", "podIP": f"10.0.{serial // 250}.{serial % 250}",
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
        }, labels=deployment["spec"]["template"]["metadata"]["labels"])

    def reconcile(self) -> None:
        """Bring every Deployment to its desired count; refresh its status and its EndpointSlice."""
        deployments = [o for (plural, _, _), o in self.objects.items() if plural == "deployments"]
        for deployment in deployments:
            meta, desired = deployment["metadata"], int(deployment["spec"].get("replicas", 1))
            while len(self.pods_of(deployment)) < desired:
                self._new_pod(deployment)
            for extra in self.pods_of(deployment)[desired:]:  # newest first would be k8s' choice; any will do
                del self.objects[("pods", meta["namespace"], extra["metadata"]["name"])]
            pods = self.pods_of(deployment)
            ready = [p for p in pods if p["status"]["conditions"][0]["status"] == "True"]
            deployment["status"] = {"observedGeneration": meta["generation"], "replicas": len(pods),
                                    "updatedReplicas": len(pods), "readyReplicas": len(ready),
                                    "availableReplicas": len(ready)}
            self.objects[("endpointslices", meta["namespace"], f"{meta['name']}-slice")] = {
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": f"{meta['name']}-slice", "namespace": meta["namespace"],
                             "labels": {SERVICE_NAME_LABEL: meta["name"]}},
                "endpoints": [{"addresses": [p["status"]["podIP"]],
                               "conditions": {"ready": p in ready, "terminating": False}} for p in pods],
            }

    # --- the Cluster interface ---------------------------------------------------------------------

    def get(self, path: str, *, what: str | None = None, **query: Any) -> Obj:
        return self.request("GET", path, query=query, what=what)

    def list_items(self, path: str, **query: Any) -> list[Obj]:
        return list(self.get(path, **query).get("items") or [])

    def list_metadata(self, path: str, **query: Any) -> list[Obj]:
        """As the API server's PartialObjectMetadataList: each item's metadata only."""
        return [{"metadata": copy.deepcopy(i["metadata"])} for i in self.list_items(path, **query)]

    def request(self, method: str, path: str, *, query: Mapping[str, Any] | None = None, body: Any = None,
                content_type: str = JSON, timeout: float | tuple[float, float] | None = None,
                what: str | None = None, retry_throttled: bool | None = None) -> Obj:
        return self.send(method, path, query=query, body=body, content_type=content_type, what=what)[1]

    def send(self, method: str, path: str, *, query: Mapping[str, Any] | None = None, body: Any = None,
             content_type: str = JSON, timeout: float | tuple[float, float] | None = None,
             what: str | None = None, retry_throttled: bool | None = None) -> tuple[int, Obj]:
        """Answer one request like the API server would, as (status, decoded body) (it never throttles)."""
        with self._lock:
            self.requests.append((method, path))
            if self.lost:
                raise ConnectionFailed(f"cannot reach the Kubernetes API at {self.server} (ConnectionRefusedError)",
                                       fix="the fake cluster was lost")
            status, obj = self._dispatch(method, path, dict(query or {}), body, content_type, what or path)
            if method != "GET" and not (query or {}).get("dryRun"):
                self.reconcile()
            return status, copy.deepcopy(obj)

    # --- routing -----------------------------------------------------------------------------------

    def _dispatch(self, method: str, path: str, query: dict[str, Any], body: Any, content_type: str,
                  what: str) -> tuple[int, Obj]:
        if path == "/version":
            return 200, {"gitVersion": "v1.36.3-fake", "platform": "fake"}
        parts = path.strip("/").split("/")
        group_version, rest = ("v1", parts[2:]) if parts[0] == "api" else ("/".join(parts[1:3]), parts[3:])
        if not rest:
            return 200, {"groupVersion": group_version, "resources": [
                {"name": plural, "kind": kind, "namespaced": namespaced}
                for kind, (plural, namespaced) in RESOURCES.get(group_version, {}).items()]}
        in_namespace = rest[0] == "namespaces" and len(rest) >= 3
        namespace, plural = (rest[1], rest[2]) if in_namespace else ("", rest[0])
        tail = rest[3:] if in_namespace else rest[1:]
        name, sub = (tail + [None, None])[:2] if tail else (None, None)
        body = _secret_data(plural, body)
        if name is None:
            return self._collection(method, plural, namespace, query, body)
        key = (plural, namespace, name)
        if sub == "scale":
            return self._scale(method, key, body, what)
        if sub == "eviction" and method == "POST":
            self._require(key, what)
            del self.objects[key]
            return 201, {"kind": "Status", "status": "Success"}
        if method == "GET":
            return 200, self._require(key, what)
        if method == "DELETE":
            existing = self._require(key, what)
            wanted_uid = ((body or {}).get("preconditions") or {}).get("uid")
            if wanted_uid and wanted_uid != existing["metadata"]["uid"]:
                raise ApiRejected(f"the Kubernetes API refused {what} (409): UID precondition failed", status=409)
            del self.objects[key]
            return 200, {"kind": "Status", "status": "Success"}
        if method == "PATCH":
            return self._patch(key, body, content_type, query)
        raise ApiRejected(f"the Kubernetes API refused {what} (405): {method} not served by the fake", status=405)

    def _require(self, key: Key, what: str) -> Obj:
        if key not in self.objects:
            raise ObjectNotFound(f"{what} not found on {self.server}", fix="check the fake cluster's contents")
        return self.objects[key]

    def _collection(self, method: str, plural: str, namespace: str, query: dict[str, Any],
                    body: Any) -> tuple[int, Obj]:
        if method == "POST":
            name = body["metadata"]["name"]
            if (plural, namespace, name) in self.objects:
                raise ApiRejected(f"{plural} {name} already exists (409)", status=409)
            created = self._put(plural, namespace, name, body)
            if plural == "pods" and name.startswith("drill-isolation-probe"):  # a one-shot pod: it ran at once
                isolated = self.enforces_policies and any(
                    p == "networkpolicies" and ns == namespace for p, ns, _ in self.objects)
                created["status"] = {"phase": "Failed" if isolated else "Succeeded"}
            return 201, created
        node_field = str(query.get("fieldSelector") or "").removeprefix("spec.nodeName=") or None
        items = [o for (p, ns, _), o in sorted(self.objects.items())
                 if p == plural and (not namespace or ns == namespace)
                 and _matches(o["metadata"].get("labels") or {}, query.get("labelSelector"))
                 and (node_field is None or (o.get("spec") or {}).get("nodeName") == node_field)]
        return 200, {"kind": "List", "items": items}

    def _scale(self, method: str, key: Key, body: Any, what: str) -> tuple[int, Obj]:
        deployment = self._require(key, what)
        if method == "PATCH":
            deployment["spec"]["replicas"] = int(body["spec"]["replicas"])
            deployment["metadata"]["generation"] += 1
        return 200, {"kind": "Scale", "spec": {"replicas": deployment["spec"]["replicas"]}}

    def _patch(self, key: Key, body: Any, content_type: str, query: dict[str, Any]) -> tuple[int, Obj]:
        existing = self.objects.get(key)
        if existing is None:
            if content_type != APPLY_PATCH:
                raise ObjectNotFound(f"{key[0]} {key[2]} not found on {self.server}", fix="apply it first")
            if query.get("dryRun"):
                return 201, body
            return 201, self._put(key[0], key[1], key[2], body)
        patched = merge_patch(existing, {k: v for k, v in body.items() if k != "metadata"})
        patched["metadata"] = merge_patch(existing["metadata"], {
            k: v for k, v in (body.get("metadata") or {}).items() if k in ("labels", "annotations")})
        patched["metadata"]["resourceVersion"] = str(next(self._serial))
        patched["metadata"]["managedFields"] = [*(existing["metadata"].get("managedFields") or []), {
            "manager": "fake-client", "operation": "Apply" if content_type == APPLY_PATCH else "Update", "time": _now()}]
        if not query.get("dryRun"):
            self.objects[key] = patched
        return 200, patched

    # --- what tests look at ------------------------------------------------------------------------

    def pods(self, namespace: str, selector: str) -> list[Obj]:
        return self.list_items(f"/api/v1/namespaces/{namespace}/pods", labelSelector=selector)

    def zone_of(self, node: str | None) -> str | None:
        found = self.objects.get(("nodes", "", node or ""))
        return found["metadata"]["labels"][ZONE_LABEL] if found else None

    def cordoned(self) -> list[str]:
        return sorted(n for (p, _, n), o in self.objects.items() if p == "nodes" and o["spec"].get("unschedulable"))

    def deployment_available(self, name: str, *, namespace: str) -> bool:
        """The Deployment exists and every desired replica is available (what the fake health endpoint reports)."""
        with self._lock:
            found = self.objects.get(("deployments", namespace, name))
            if self.lost or found is None:
                return False
            return int(found["status"]["availableReplicas"]) == int(found["spec"]["replicas"])

    def mutations(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if m != "GET"]
