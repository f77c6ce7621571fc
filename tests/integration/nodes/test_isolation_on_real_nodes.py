"""Scenario 4's isolation is enforced, not just written: a probe pod's connection is refused under deny-all."""

from __future__ import annotations

from harness.measure.availability import probe_once
from harness.platform.client import Cluster, namespaced
from harness.platform.network import connection_attempt, isolate_namespace, unisolate_namespace
from harness.polling import wait_until
from harness.sandbox import SandboxInfo
from harness.sandbox.images import REDIS


def test_deny_all_policy_stops_a_probe_pod_that_connects_without_it(real_sandbox: SandboxInfo,
                                                                     real_cluster: Cluster) -> None:
    ns = real_sandbox.namespace
    redis_ip = real_cluster.get(namespaced("v1", "services", ns, "redis"))["spec"]["clusterIP"]
    before = connection_attempt(real_cluster, namespace=ns, image=REDIS, host=redis_ip, port=6379, timeout=90)
    assert before.connected, before.to_json()  # the probe itself works: without a policy it connects
    isolate_namespace(real_cluster, namespace=ns)
    try:
        during = connection_attempt(real_cluster, namespace=ns, image=REDIS, host=redis_ip, port=6379, timeout=90)
    finally:
        unisolate_namespace(real_cluster, namespace=ns)
        # the enforcer lets traffic through again once it has seen the policy go: wait for that
        wait_until(lambda: probe_once(real_sandbox.health_url, timeout=2.0).ok or None, timeout=60, interval=0.5,
                   what="the Gateway serving again after the isolation", describe=lambda: "still not serving")
    assert not during.connected, during.to_json()
