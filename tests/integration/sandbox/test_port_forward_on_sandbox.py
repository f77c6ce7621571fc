"""k8s:// Redis URLs against the kwok sandbox's API objects: Service → pod resolution and the one-line errors.

Kwok pods never run, so nothing here carries Redis traffic (tests/integration/nodes/
test_port_forward_on_real_nodes.py does); what the API alone decides is tested here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import AuthFailed, ConnectionFailed
from harness.platform.client import Cluster, ObjectNotFound, connect, namespaced
from harness.platform.port_forward import forwarded_redis, parse_k8s_url, pod_port
from harness.sandbox import SandboxInfo
from tests.kubeconfigs import token_kubeconfig

ROLE = "port-forward-test"


def _forward(url: str, cluster: Cluster) -> None:
    """Open the forward for `url`; reaching the body means it carried a reply."""
    with forwarded_redis(url, lambda: cluster):
        pass


def test_a_service_resolves_to_a_ready_redis_pod_and_its_target_port(cluster: Cluster, sandbox: SandboxInfo) -> None:
    for url in (f"k8s://{sandbox.namespace}/redis:6379", f"k8s://{sandbox.namespace}/svc/redis:6379"):
        pod, port = pod_port(cluster, parse_k8s_url(url))
        assert pod.startswith("redis-") and port == 6379, url
        labels = cluster.get(namespaced("v1", "pods", sandbox.namespace, pod))["metadata"]["labels"]
        assert labels["app"] == "redis"


def test_a_bare_name_without_a_service_is_a_pod(cluster: Cluster, sandbox: SandboxInfo) -> None:
    assert pod_port(cluster, parse_k8s_url(f"k8s://{sandbox.namespace}/redis-0:6379")) == ("redis-0", 6379)


def test_a_missing_pod_or_service_is_named(cluster: Cluster, sandbox: SandboxInfo) -> None:
    with pytest.raises(ObjectNotFound, match=f"pod {sandbox.namespace}/nope-0 .*not found"):
        _forward(f"k8s://{sandbox.namespace}/pod/nope-0:6379", cluster)
    with pytest.raises(ObjectNotFound, match=f"no service or pod {sandbox.namespace}/nope"):
        _forward(f"k8s://{sandbox.namespace}/nope:6379", cluster)
    with pytest.raises(ObjectNotFound, match=f"service {sandbox.namespace}/nope .*not found"):
        _forward(f"k8s://{sandbox.namespace}/svc/nope:6379", cluster)


def test_a_pod_that_is_not_running_is_refused_before_any_stream(cluster: Cluster, sandbox: SandboxInfo) -> None:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pf-unschedulable"},
            "spec": {"nodeSelector": {"no-such-node": "true"},
                     "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                     "containers": [{"name": "redis", "image": "redis:7", "ports": [{"containerPort": 6379}],
                                     "securityContext": {"allowPrivilegeEscalation": False,
                                                         "capabilities": {"drop": ["ALL"]}}}]}}
    cluster.request("POST", namespaced("v1", "pods", sandbox.namespace), body=body)
    try:
        with pytest.raises(ConnectionFailed, match="pf-unschedulable is not running and ready \\(phase Pending\\)"):
            _forward(f"k8s://{sandbox.namespace}/pod/pf-unschedulable:6379", cluster)
    finally:
        cluster.request("DELETE", namespaced("v1", "pods", sandbox.namespace, "pf-unschedulable"),
                        query={"gracePeriodSeconds": 0})


def test_a_service_with_no_ready_pod_is_named(cluster: Cluster, sandbox: SandboxInfo) -> None:
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "pf-empty"},
            "spec": {"selector": {"app": "pf-nothing"}, "ports": [{"name": "redis", "port": 6379}]}}
    cluster.request("POST", namespaced("v1", "services", sandbox.namespace), body=body)
    try:
        with pytest.raises(ConnectionFailed, match=f"no ready pod behind service {sandbox.namespace}/pf-empty"):
            _forward(f"k8s://{sandbox.namespace}/svc/pf-empty:6379", cluster)
    finally:
        cluster.request("DELETE", namespaced("v1", "services", sandbox.namespace, "pf-empty"))


@pytest.fixture
def reader_without_port_forward(cluster: Cluster, sandbox: SandboxInfo, tmp_path: Path) -> Iterator[Cluster]:
    """A ServiceAccount that may read pods, Services and EndpointSlices but not create pods/portforward."""
    ns = sandbox.namespace
    objects = [
        ("v1", "serviceaccounts", {"metadata": {"name": ROLE}}),
        ("rbac.authorization.k8s.io/v1", "roles", {"metadata": {"name": ROLE}, "rules": [
            {"apiGroups": [""], "resources": ["pods", "services"], "verbs": ["get", "list"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list"]}]}),
        ("rbac.authorization.k8s.io/v1", "rolebindings", {"metadata": {"name": ROLE}, "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE},
            "subjects": [{"kind": "ServiceAccount", "name": ROLE, "namespace": ns}]}),
    ]
    for group_version, plural, body in objects:
        cluster.request("POST", namespaced(group_version, plural, ns), body=body)
    try:
        yield connect(token_kubeconfig(cluster, sandbox, namespace=sandbox.namespace, account=ROLE,
                                        path=tmp_path / "sa.kubeconfig", seconds=600), "sa")
    finally:
        for group_version, plural, body in reversed(objects):
            cluster.request("DELETE", namespaced(group_version, plural, ns, body["metadata"]["name"]))


def test_port_forward_forbidden_by_rbac_names_the_permission(reader_without_port_forward: Cluster,
                                                             sandbox: SandboxInfo) -> None:
    with pytest.raises(AuthFailed) as caught:
        _forward(f"k8s://{sandbox.namespace}/svc/redis:6379", reader_without_port_forward)
    line = caught.value.one_line()
    assert "forbids port-forwarding to pod" in line and "pods/portforward" in line, line
    assert "\n" not in line


def test_a_kwok_pod_answers_no_stream_and_says_so_in_one_line(cluster: Cluster, sandbox: SandboxInfo) -> None:
    """Kwok's simulated kubelet serves no port-forward: the error says where to look, not a traceback."""
    with pytest.raises(ConnectionFailed, match="port-forward to pod .*redis-0:6379 carries no data") as caught:
        _forward(f"k8s://{sandbox.namespace}/svc/redis:6379", cluster)
    assert "\n" not in caught.value.one_line()
