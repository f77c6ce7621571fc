"""The sandbox on real kubelet nodes: the stack's own containers serve, and nothing leaves the host."""

from __future__ import annotations

import socket
import struct
import subprocess
from ipaddress import IPv4Address

from harness.measure.availability import probe_once
from harness.platform.client import Cluster, cluster_scoped, namespaced
from harness.sandbox import SandboxInfo
from harness.sandbox.netplan import network_for
from harness.sandbox.nodes import REAL_NODE_LABEL
from harness.sandbox.state import SandboxPaths


def _pods(cluster: Cluster, namespace: str, selector: str) -> list[dict]:
    return cluster.list_items(namespaced("v1", "pods", namespace), labelSelector=selector)


def test_one_ready_real_node_per_zone(real_sandbox: SandboxInfo, real_cluster: Cluster) -> None:
    node_range = network_for(SandboxPaths(real_sandbox.state_dir)).node_range
    nodes = real_cluster.list_items(cluster_scoped("v1", "nodes"), labelSelector=f"{REAL_NODE_LABEL}=real")
    zones = sorted(n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes)
    assert zones == ["zone-a", "zone-b", "zone-c"]
    for node in nodes:
        ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
        assert ready == "True", node["metadata"]["name"]
        internal = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
        assert IPv4Address(internal) in node_range


def test_the_stack_runs_in_containers_on_the_real_nodes(real_sandbox: SandboxInfo, real_cluster: Cluster) -> None:
    for app in ("sentinel-brain", "sentinel-gateway", "redis"):
        pods = _pods(real_cluster, real_sandbox.namespace, f"app={app}")
        assert pods, app
        for pod in pods:
            assert pod["spec"]["nodeName"].startswith("node-zone-"), pod["metadata"]["name"]
            statuses = pod["status"].get("containerStatuses") or []
            assert statuses and all(s.get("started") and s.get("containerID") for s in statuses), pod["metadata"]["name"]


def test_the_health_url_is_the_real_gateway_behind_the_front_door(real_sandbox: SandboxInfo) -> None:
    probe = probe_once(real_sandbox.health_url, timeout=3.0)
    assert probe.ok, probe.reason


def _dns_query(name: str, server: str) -> int:
    query = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"".join(
        bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack("!HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2.0)
        sock.sendto(query, (server, 53))
        reply = sock.recv(512)
    return reply[3] & 0x0F


def test_cluster_dns_answers_services_and_refuses_everything_else(real_sandbox: SandboxInfo) -> None:
    server = network_for(SandboxPaths(real_sandbox.state_dir)).dns_address
    assert _dns_query(f"redis.{real_sandbox.namespace}.svc.cluster.local", server) == 0
    assert _dns_query("example.com", server) == 5  # REFUSED: never forwarded


def test_sandbox_ranges_cannot_leave_through_the_default_route(real_sandbox: SandboxInfo) -> None:
    network = network_for(SandboxPaths(real_sandbox.state_dir))
    routes = subprocess.run(["ip", "route", "show", "type", "unreachable"], capture_output=True, text=True,
                            check=True).stdout
    for r in network.ranges:
        if r != network.service_range:
            assert str(r) in routes
    local = subprocess.run(["ip", "route", "show", "table", "local", "type", "local"], capture_output=True,
                           text=True, check=True).stdout
    assert f"local {network.service_range} dev lo" in local  # a ClusterIP nobody owns is refused here
    fake_pod = str(network.kwok_pod_range.network_address + 7 * 256 + 7)
    probe = subprocess.run(["ip", "route", "get", fake_pod], capture_output=True, text=True, check=False)
    assert probe.returncode != 0 or "unreachable" in probe.stdout
