"""An in-memory Kubernetes API that behaves enough like the real one for the drills' unit tests.

It answers the requests `harness.platform` sends (`request`/`send`/`get`/
`list_items`, the same signatures as `harness.platform.client.Cluster`) and runs
a tiny controller on every write: a Deployment owns its pods, spread over the
schedulable nodes of three zones; a deleted or evicted pod is replaced at once
by a Ready pod with a new UID; scaling adds or removes pods; cordoned nodes get
no new pods. PodDisruptionBudgets are not modelled (every eviction succeeds).
Everything else — faults, proofs, rollbacks, the guard — is the real code.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.platform.client import ApiRejected, ObjectNotFound

ZONE_LABEL = "topology.kubernetes.io/zone"
Obj = dict[str, Any]


def _matches(labels: Mapping[str, str], selector: str | None) -> bool:
    if not selector:
        return True
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True


@dataclass
class FakeCluster:
    """Nodes, Deployments, pods and NetworkPolicies in dicts; `requests` records every (verb, path)."""

    server: str = "https://fake-api.invalid:6443"
    kubeconfig: str = "/fake/kubeconfig"
    context: str | None = "fake"
    kube_system_uid: str = field(default_factory=lambda: str(uuid.uuid4()))
    nodes: dict[str, Obj] = field(default_factory=dict)
    deployments: dict[tuple[str, str], Obj] = field(default_factory=dict)
    pods: dict[tuple[str, str], Obj] = field(default_factory=dict)
    policies: dict[tuple[str, str], Obj] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    enforces_policies: bool = True  # a one-shot probe pod fails to connect while a policy isolates its namespace
    _names: itertools.count = field(default_factory=itertools.count)  # type: ignore[type-arg]

    # ------------------------------------------------------------------ setup
    def add_zones(self, zones: tuple[str, ...] = ("zone-a", "zone-b", "zone-c"), per_zone: int = 2) -> None:
        for zone in zones:
            for i in range(1, per_zone + 1):
                name = f"{zone}-node-{i}"
                self.nodes[name] = {"metadata": {"name": name, "labels": {ZONE_LABEL: zone}}, "spec": {}}

    def add_deployment(self, namespace: str, name: str, replicas: int, labels: Mapping[str, str]) -> None:
        self.deployments[(namespace, name)] = {
            "metadata": {"namespace": namespace, "name": name, "generation": 1},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)}},
        }
        self._reconcile()

    # ------------------------------------------------------------------ controller
    def _owned(self, namespace: str, name: str) -> list[Obj]:
        return [p for (ns, _), p in self.pods.items() if ns == namespace and p["metadata"]["owner"] == name]

    def _schedulable(self) -> list[str]:
        return sorted(n for n, node in self.nodes.items() if not node["spec"].get("unschedulable"))

    def _reconcile(self) -> None:
        for (ns, name), deployment in self.deployments.items():
            owned = sorted(self._owned(ns, name), key=lambda p: str(p["metadata"]["name"]))
            want = int(deployment["spec"]["replicas"])
            for extra in owned[want:]:
                del self.pods[(ns, extra["metadata"]["name"])]
            nodes = self._schedulable()
            for i in range(len(owned), want):
                if not nodes:
                    break
                pod_name = f"{name}-{next(self._names):05d}"
                self.pods[(ns, pod_name)] = {
                    "metadata": {"namespace": ns, "name": pod_name, "uid": str(uuid.uuid4()), "owner": name,
                                 "labels": dict(deployment["spec"]["selector"]["matchLabels"])},
                    "spec": {"nodeName": nodes[(len(self.pods) + i) % len(nodes)]},
                    "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
                }
            count = len(self._owned(ns, name))
            meta = deployment["metadata"]
            deployment["status"] = {"replicas": count, "updatedReplicas": count, "readyReplicas": count,
                                    "availableReplicas": count, "observedGeneration": meta["generation"]}

    # ------------------------------------------------------------------ the Cluster surface
    def get(self, path: str, *, what: str | None = None, **query: Any) -> Obj:
        return self.request("GET", path, query=query, what=what)

    def list_items(self, path: str, **query: Any) -> list[Obj]:
        return list(self.get(path, **query).get("items") or [])

    def send(self, method: str, path: str, *, query: Mapping[str, Any] | None = None, body: Any = None,
             content_type: str = "", timeout: Any = None, what: str | None = None) -> tuple[int, Obj]:
        return 200, self.request(method, path, query=query, body=body, content_type=content_type, what=what)

    def request(self, method: str, path: str, *, query: Mapping[str, Any] | None = None, body: Any = None,
                content_type: str = "", timeout: Any = None, what: str | None = None) -> Obj:
        self.requests.append((method, path))
        query = dict(query or {})
        for pattern, handler in self._routes():
            m = re.fullmatch(pattern, path)
            if m:
                result: Obj = handler(method, body, query, **m.groupdict())
                self._reconcile()
                return result
        raise ApiRejected(f"the fake API has no route for {method} {path}", status=404)

    def _routes(self) -> list[tuple[str, Any]]:
        return [
            (r"/api/v1/namespaces/kube-system", self._kube_system),
            (r"/api/v1/nodes(?:/(?P<name>[^/]+))?", self._node),
            (r"/api/v1/pods", self._all_pods),
            (r"/api/v1/namespaces/(?P<ns>[^/]+)/pods(?:/(?P<name>[^/]+))?(?P<evict>/eviction)?", self._pod),
            (r"/apis/apps/v1/namespaces/(?P<ns>[^/]+)/deployments/(?P<name>[^/]+)(?P<scale>/scale)?",
             self._deployment),
            (r"/apis/networking.k8s.io/v1", self._discovery),
            (r"/apis/networking.k8s.io/v1/namespaces/(?P<ns>[^/]+)/networkpolicies(?:/(?P<name>[^/]+))?",
             self._policy),
            (r"/version", lambda *_a, **_k: {"gitVersion": "v1.36.3-fake"}),
        ]

    def _kube_system(self, method: str, body: Any, query: dict[str, Any]) -> Obj:
        return {"metadata": {"name": "kube-system", "uid": self.kube_system_uid}}

    def _node(self, method: str, body: Any, query: dict[str, Any], name: str | None) -> Obj:
        if name is None:
            items = [n for n in self.nodes.values()
                     if _matches(n["metadata"]["labels"], query.get("labelSelector"))]
            return {"items": items}
        if name not in self.nodes:
            raise ObjectNotFound(f"node {name} not found")
        if method == "PATCH":
            self.nodes[name]["spec"]["unschedulable"] = bool((body.get("spec") or {}).get("unschedulable"))
        return self.nodes[name]

    def _all_pods(self, method: str, body: Any, query: dict[str, Any]) -> Obj:
        field_selector = query.get("fieldSelector") or ""
        node = field_selector.partition("spec.nodeName=")[2] or None
        return {"items": [p for p in self.pods.values() if node is None or p["spec"]["nodeName"] == node]}

    def _pod(self, method: str, body: Any, query: dict[str, Any], ns: str, name: str | None, evict: str | None) -> Obj:
        if name is None and method == "POST":  # a one-shot probe pod: it "ran" by the time anyone looks
            isolated = self.enforces_policies and any(pns == ns for pns, _ in self.policies)
            pod = {**body, "metadata": {**body["metadata"], "namespace": ns, "uid": str(uuid.uuid4()), "owner": ""},
                   "spec": {**body["spec"], "nodeName": self._schedulable()[0]},
                   "status": {"phase": "Failed" if isolated else "Succeeded"}}
            self.pods[(ns, pod["metadata"]["name"])] = pod
            return pod
        if name is None:
            return {"items": [p for (pns, _), p in self.pods.items()
                              if pns == ns and _matches(p["metadata"]["labels"], query.get("labelSelector"))]}
        if (ns, name) not in self.pods:
            raise ObjectNotFound(f"pod {ns}/{name} not found")
        if method == "DELETE" or (method == "POST" and evict):
            return self.pods.pop((ns, name))
        return self.pods[(ns, name)]

    def _deployment(self, method: str, body: Any, query: dict[str, Any], ns: str, name: str,
                    scale: str | None) -> Obj:
        deployment = self.deployments.get((ns, name))
        if deployment is None:
            raise ObjectNotFound(f"deployment {ns}/{name} not found")
        if scale:
            if method == "PATCH":
                deployment["spec"]["replicas"] = int(body["spec"]["replicas"])
                deployment["metadata"]["generation"] += 1
                self._reconcile()
            return {"spec": {"replicas": deployment["spec"]["replicas"]}}
        return deployment

    def _discovery(self, method: str, body: Any, query: dict[str, Any]) -> Obj:
        return {"resources": [{"name": "networkpolicies", "kind": "NetworkPolicy", "namespaced": True}]}

    def _policy(self, method: str, body: Any, query: dict[str, Any], ns: str, name: str | None) -> Obj:
        if name is None:
            return {"items": [p for (pns, _), p in self.policies.items() if pns == ns]}
        if method == "PATCH":
            self.policies[(ns, name)] = {**body, "metadata": {**body["metadata"], "namespace": ns}}
        elif method == "DELETE":
            if (ns, name) not in self.policies:
                raise ObjectNotFound(f"networkpolicy {ns}/{name} not found")
            return self.policies.pop((ns, name))
        if (ns, name) not in self.policies:
            raise ObjectNotFound(f"networkpolicy {ns}/{name} not found")
        return self.policies[(ns, name)]

    # ------------------------------------------------------------------ what tests look at
    def cordoned(self, zone: str) -> list[str]:
        return sorted(n for n, node in self.nodes.items()
                      if node["metadata"]["labels"][ZONE_LABEL] == zone and node["spec"].get("unschedulable"))

    def serving(self, namespace: str, name: str) -> bool:
        deployment = self.deployments[(namespace, name)]
        return len(self._owned(namespace, name)) >= int(deployment["spec"]["replicas"])
