"""Scenario 4's isolation is enforced, not just written: a probe pod's connection is refused under deny-all.

It runs in a namespace of its own: a deny-all policy also cuts the kubelet's probes, so the isolated
pods go unready and are restarted, as the compromised namespace's pods would be (scenario 4 leaves
that namespace isolated for forensics and serves from a clean one).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.platform.client import Cluster, ObjectNotFound, cluster_scoped, namespaced
from harness.platform.network import connection_attempt, isolate_namespace
from harness.polling import wait_until
from harness.sandbox import SandboxInfo
from harness.sandbox.images import REDIS

NAMESPACE = "isolation-check"


@pytest.fixture
def server_ip(real_sandbox: SandboxInfo, real_cluster: Cluster) -> Iterator[str]:
    real_cluster.request("POST", cluster_scoped("v1", "namespaces"),
                         body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "server", "namespace": NAMESPACE},
           "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
               "name": "redis", "image": REDIS, "imagePullPolicy": "Never",
               "command": ["redis-server", "--port", "6379", "--protected-mode", "no", "--save", ""]}]}}
    real_cluster.request("POST", namespaced("v1", "pods", NAMESPACE), body=pod)
    path = namespaced("v1", "pods", NAMESPACE, "server")
    try:
        yield wait_until(lambda: (real_cluster.get(path).get("status") or {}).get("podIP")
                         if (real_cluster.get(path).get("status") or {}).get("phase") == "Running" else None,
                         timeout=90, interval=0.3, what="server pod Running", describe=lambda: "not Running")
    finally:
        try:
            real_cluster.request("DELETE", cluster_scoped("v1", "namespaces", NAMESPACE))
        except ObjectNotFound:
            pass


def test_deny_all_policy_stops_a_probe_pod_that_connects_without_it(real_cluster: Cluster, server_ip: str) -> None:
    before = connection_attempt(real_cluster, namespace=NAMESPACE, image=REDIS, host=server_ip, port=6379,
                                timeout=90)
    assert before.connected, before.to_json()  # the probe itself works: without a policy it connects
    isolate_namespace(real_cluster, namespace=NAMESPACE)
    during = connection_attempt(real_cluster, namespace=NAMESPACE, image=REDIS, host=server_ip, port=6379,
                                timeout=90)
    assert not during.connected, during.to_json()
