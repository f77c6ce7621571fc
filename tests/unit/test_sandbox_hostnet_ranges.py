"""The sandbox's ranges: one base configures them everywhere, and `up` refuses ranges the host already routes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.sandbox import lifecycle, node_pool, nodes, pipeline_jobs
from harness.sandbox.cluster import real_node_patches
from harness.sandbox.host_record import HostRecord
from harness.sandbox.hostnet import check_host, prepare_host
from harness.sandbox.netplan import (
    BASE_ENV,
    configured_network,
    network_for,
    network_from_base,
    record_network,
    route_conflicts,
)
from harness.sandbox.state import SandboxError, SandboxPaths
from tests.fakes.host_network import FakeEdge, install_fake_edge

DEFAULT = configured_network({})
VPN = "10.0.0.0/8 dev tun0 proto kernel scope link src 10.8.0.2"


@pytest.fixture
def edge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeEdge:
    return install_fake_edge(monkeypatch, tmp_path, {"net/ipv4/ip_forward": "0"})


def test_the_default_ranges_are_unchanged() -> None:
    assert [str(r) for r in DEFAULT.ranges] == ["10.250.0.0/24", "10.251.0.0/16", "10.252.0.0/16", "10.253.0.0/24"]
    assert (DEFAULT.dns_address, DEFAULT.node_address(2), DEFAULT.pod_cidr(0)) == ("10.250.0.2", "10.250.0.13",
                                                                                   "10.251.1.0/24")


def test_one_base_moves_every_range() -> None:
    moved = configured_network({BASE_ENV: "172.20.0.0"})
    assert [str(r) for r in moved.ranges] == ["172.20.0.0/24", "172.21.0.0/16", "172.22.0.0/16", "172.23.0.0/24"]
    assert (moved.dns_address, moved.node_address(0), moved.pod_cidr(2)) == ("172.20.0.2", "172.20.0.11",
                                                                             "172.21.3.0/24")


@pytest.mark.parametrize("base", ["10.250.1.0", "192.168.0.0", "10.254.0.0", "172.30.0.0", "8.8.0.0", "nope"])
def test_a_base_that_cannot_hold_four_private_blocks_is_refused(base: str) -> None:
    with pytest.raises(ConfigError, match=BASE_ENV) as raised:
        network_from_base(base)
    assert raised.value.exit_code == 2 and "10.0.0.0/8 or 172.16.0.0/12" in (raised.value.fix or "")


def test_a_route_overlapping_a_range_is_a_conflict_named_by_range_and_route() -> None:
    conflicts = route_conflicts(DEFAULT, [VPN, "default via 192.0.2.1 dev eth0",
                                          "172.17.0.0/16 dev docker0 proto kernel scope link src 172.17.0.1",
                                          "local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1",
                                          "blackhole 10.251.7.0/24 table 4242"])
    assert [(c.range_name, str(c.network), c.route) for c in conflicts] == [
        ("node", "10.250.0.0/24", VPN), ("pod", "10.251.0.0/16", VPN), ("kwok pod", "10.252.0.0/16", VPN),
        ("service", "10.253.0.0/24", VPN), ("pod", "10.251.0.0/16", "blackhole 10.251.7.0/24 table 4242")]
    assert conflicts[0].describe() == f"the sandbox's node range 10.250.0.0/24 overlaps this host's route `{VPN}`"


def test_the_sandboxs_own_routes_are_no_conflict() -> None:
    own_routes = ["unreachable 10.251.0.0/16", "local 10.253.0.0/24 dev lo table local",
                  "local 10.250.0.11 dev lo table local proto kernel scope host src 10.250.0.11"]
    record = HostRecord(owner="/x", routes=["unreachable 10.251.0.0/16", "local 10.253.0.0/24 dev lo table local"],
                        addresses=["10.250.0.11/32"])
    from harness.sandbox.hostnet import _own_destinations

    assert route_conflicts(DEFAULT, own_routes, own=_own_destinations(record)) == []
    assert len(route_conflicts(DEFAULT, own_routes)) == 3


def test_up_refuses_an_overlap_before_changing_anything_and_names_a_base_that_fits(edge: FakeEdge) -> None:
    edge.host.routes.append(VPN)
    edge.host.routes.append("172.17.0.0/16 dev docker0 proto kernel scope link src 172.17.0.1")
    before = [list(c) for c in edge.host.calls]
    with pytest.raises(SandboxError) as raised:
        prepare_host(HostRecord(owner="/x"), DEFAULT, nodes=3)
    line = raised.value.one_line()
    assert "node range 10.250.0.0/24 overlaps this host's route `10.0.0.0/8 dev tun0" in line, line
    assert "(and 3 more)" in line
    assert f"{BASE_ENV}=172.20.0.0 sentinel-drill sandbox up" in line, line  # 10/8 is the VPN's, 172.16–19 Docker's
    assert raised.value.exit_code == 2
    changes = [c for c in edge.host.calls[len(before):] if {"add", "-N", "-A", "-I", "del", "-D"} & set(c)]
    assert changes == [] and not edge.run_dir.exists()


def test_real_refuses_and_auto_falls_back_to_kwok_naming_the_conflict(
        edge: FakeEdge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(node_pool, "why_no_real_nodes", lambda: None)
    edge.host.routes.append(VPN)
    paths = SandboxPaths(tmp_path / "state")
    with pytest.raises(SandboxError, match="overlaps this host's route"):
        lifecycle._choose_nodes("real", paths)
    real, note = lifecycle._choose_nodes("auto", paths)
    assert not real and note.startswith("kwok-only: the sandbox's node range 10.250.0.0/24 overlaps"), note
    assert not edge.run_dir.exists()  # nothing claimed


def test_another_kubelets_chains_refuse_real_nodes(edge: FakeEdge) -> None:
    edge.host.iptables["iptables"].run(["-t", "nat", "-N", "KUBE-SERVICES"])
    with pytest.raises(SandboxError, match=r"already has Kubernetes networking rules \(iptables nat/KUBE-SERVICES\)"):
        check_host(DEFAULT, None)


def test_a_changed_base_reaches_every_config_of_the_sandbox(edge: FakeEdge, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    paths = SandboxPaths(tmp_path / "state")
    record_network(paths, network_from_base("10.100.0.0"))
    monkeypatch.setenv(BASE_ENV, "172.16.0.0")  # a later process's environment does not move a running sandbox
    assert str(network_for(paths).base) == "10.100.0.0"
    members = node_pool.pool_nodes(paths)
    configs = {
        "kube-proxy": node_pool.kube_proxy_config(paths),
        "control plane": real_node_patches(tmp_path / "pki", network_for(paths)),
        "pipeline endpoint": pipeline_jobs.store_endpoint(paths, 4566),
        "nodes": [(n.address, n.pod_cidr) for n in members],
        "cni": [nodes.cni_config(n) for n in members],
        "kubelets": [nodes.kubelet_config(n, paths, ca_file=tmp_path / "ca.crt", healthz_port=1) for n in members],
    }
    text = json.dumps(configs)
    assert "10.25" not in text and "172.1" not in text
    assert configs["kube-proxy"]["clusterCIDR"] == "10.101.0.0/16"
    assert configs["kube-proxy"]["nodePortAddresses"] == ["10.100.0.0/24"]
    assert configs["pipeline endpoint"] == "http://10.100.0.2:4566"
    assert configs["nodes"] == [("10.100.0.11", "10.101.1.0/24"), ("10.100.0.12", "10.101.2.0/24"),
                                ("10.100.0.13", "10.101.3.0/24")]
    assert "service-cluster-ip-range', 'value': '10.103.0.0/24'" in str(configs["control plane"])
    assert "'value': '10.102.0.1/16'" in str(configs["control plane"])  # kwok's fake pod IPs
    assert all(k["clusterDNS"] == ["10.100.0.2"] for k in configs["kubelets"])  # type: ignore[index]
