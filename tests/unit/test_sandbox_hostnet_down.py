"""What `sandbox down` gives back to the host and what it leaves alone (host commands faked at the edge)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.sandbox import host_chains, host_record, hostnet
from harness.sandbox.host_record import HostRecord
from harness.sandbox.netplan import configured_network
from harness.sandbox.state import SandboxError
from tests.fakes.host_network import FakeEdge, FakeHost, FakeSysctls, install_fake_edge

KUBELET_VALUES = {"vm/overcommit_memory": "1", "vm/panic_on_oom": "0", "kernel/panic": "10",
                  "kernel/panic_on_oops": "1", "kernel/keys/root_maxkeys": "1000000",
                  "kernel/keys/root_maxbytes": "25000000"}
HOST_VALUES = {"net/ipv4/ip_forward": "0", "net/bridge/bridge-nf-call-iptables": "0", "vm/overcommit_memory": "0",
               "vm/panic_on_oom": "0", "kernel/panic": "0", "kernel/panic_on_oops": "0",
               "kernel/keys/root_maxkeys": "200", "kernel/keys/root_maxbytes": "20000"}


@pytest.fixture
def edge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeEdge:
    return install_fake_edge(monkeypatch, tmp_path, HOST_VALUES)


@pytest.fixture
def host(edge: FakeEdge) -> FakeHost:
    return edge.host


@pytest.fixture
def sysctls(edge: FakeEdge) -> FakeSysctls:
    return edge.sysctls


@pytest.fixture
def sandbox_up(edge: FakeEdge, tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "state").mkdir()
    hostnet.prepare_host(HostRecord(owner=str(tmp_path / "state")), configured_network({}), nodes=3)
    yield host_record.record_file()


def _down(record: Path) -> list[str]:
    """`down` works from what the host's record says (`record` is where it lives)."""
    loaded = host_record.load()
    assert loaded is not None and host_record.record_file() == record
    return hostnet.restore_host(loaded)


def _components_start(host: FakeHost, sysctls: FakeSysctls) -> None:
    """What the kubelet and kube-proxy do to the host once they run."""
    v4 = host.iptables["iptables"]
    for binary in ("iptables", "ip6tables"):
        ipt = host.iptables[binary]
        for table in ("mangle", "nat", "filter"):
            ipt.run(["-t", table, "-N", "KUBE-KUBELET-CANARY"])
        ipt.run(["-t", "mangle", "-N", "KUBE-IPTABLES-HINT"])
        ipt.run(["-t", "filter", "-N", "KUBE-FIREWALL"])
        ipt.run(["-t", "filter", "-I", "INPUT", "-j", "KUBE-FIREWALL"])
    v4.run(["-t", "nat", "-N", "KUBE-SERVICES"])
    v4.run(["-t", "nat", "-N", "KUBE-SVC-ABCDEFGHIJKLMNOP"])
    v4.run(["-t", "nat", "-A", "KUBE-SERVICES", "-d", "10.253.0.10/32", "-j", "KUBE-SVC-ABCDEFGHIJKLMNOP"])
    for parent in ("PREROUTING", "OUTPUT"):
        v4.run(["-t", "nat", "-I", parent, "-m", "comment", "--comment", "kubernetes service portals",
                "-j", "KUBE-SERVICES"])
    for name, value in KUBELET_VALUES.items():
        sysctls.set(name, value)


def test_down_keeps_the_chains_and_rules_another_program_added_while_up(
        host: FakeHost, sysctls: FakeSysctls, sandbox_up: Path) -> None:
    v4, v6 = host.iptables["iptables"], host.iptables["ip6tables"]
    _components_start(host, sysctls)
    # another program, while the sandbox is up: its own chain, a rule jumping into it, a rule in a built-in chain
    v4.run(["-t", "filter", "-N", "OTHER-PROGRAM"])
    v4.run(["-t", "filter", "-A", "OTHER-PROGRAM", "-s", "198.51.100.7/32", "-j", "DROP"])
    v4.run(["-t", "filter", "-A", "INPUT", "-m", "comment", "--comment", "another program", "-j", "OTHER-PROGRAM"])
    v4.run(["-t", "nat", "-N", "OTHER-NAT"])
    v4.run(["-t", "nat", "-A", "POSTROUTING", "-j", "OTHER-NAT"])
    v6.run(["-t", "filter", "-N", "OTHER-PROGRAM6"])
    v6.run(["-t", "filter", "-A", "FORWARD", "-j", "OTHER-PROGRAM6"])

    assert _down(sandbox_up) == []

    assert v4.rules("filter", "OTHER-PROGRAM") == [["-s", "198.51.100.7/32", "-j", "DROP"]]
    assert v4.rules("filter", "INPUT") == [["-m", "comment", "--comment", "another program", "-j", "OTHER-PROGRAM"]]
    assert v4.rules("nat", "POSTROUTING") == [["-j", "OTHER-NAT"]]
    assert v6.rules("filter", "FORWARD") == [["-j", "OTHER-PROGRAM6"]]
    # what the sandbox and its kubelet and kube-proxy created is gone
    for binary, ipt in (("iptables", v4), ("ip6tables", v6)):
        for table, chains in ipt.tables.items():
            assert not [c for c in chains if c.startswith(("KUBE-", "SENTINEL-DRILL"))], (binary, table)
    assert v4.rules("nat", "PREROUTING") == [] and v4.rules("nat", "OUTPUT") == []


def test_forward_and_input_accept_only_from_the_sandbox_interfaces(host: FakeHost, sandbox_up: Path) -> None:
    v4 = host.iptables["iptables"]
    forward = v4.rules("filter", hostnet.FORWARD_CHAIN)
    guard = v4.rules("filter", hostnet.GUARD_CHAIN)
    letting_through = [r for r in forward + guard if r[-1] in ("ACCEPT", "RETURN")]
    assert letting_through, (forward, guard)
    for rule in letting_through:
        interfaces = [rule[i + 1] for i, t in enumerate(rule) if t in ("-i", "-o") and rule[i - 1:i] != ["!"]]
        assert interfaces and all(i in ("lo", "sdr-+") for i in interfaces), f"not bound to an interface: {rule}"
    # traffic to the sandbox's ranges from anywhere else is dropped, forwarded or not
    for chain in (forward, guard):
        dropped = {r[r.index("-d") + 1] for r in chain if r[-1] == "DROP" and "-d" in r}
        assert dropped >= {"10.250.0.0/24", "10.251.0.0/16", "10.252.0.0/16", "10.253.0.0/24"}, chain


def test_a_sysctl_is_given_back_only_while_it_holds_the_sandbox_value(
        host: FakeHost, sysctls: FakeSysctls, sandbox_up: Path) -> None:
    assert sysctls.get("net/ipv4/ip_forward") == "1"
    _components_start(host, sysctls)
    sysctls.set("kernel/keys/root_maxkeys", "5000")  # another program's value, set after `up`
    sysctls.set("net/bridge/bridge-nf-call-iptables", "0")  # another program undid ours: it stays undone

    assert _down(sandbox_up) == []

    assert sysctls.get("kernel/keys/root_maxkeys") == "5000"
    assert sysctls.get("net/bridge/bridge-nf-call-iptables") == "0"
    # still holding what the sandbox (or its kubelet) set: given back
    assert sysctls.get("net/ipv4/ip_forward") == "0"
    assert sysctls.get("kernel/panic") == "0"
    assert sysctls.get("kernel/keys/root_maxbytes") == "20000"


def test_the_rule_removes_our_chains_and_new_component_chains_only() -> None:
    before = ["KUBE-SERVICES", "OTHER-PROGRAM", "DOCKER-USER"]
    now = [*before, "KUBE-SVC-ABCDEFGHIJKLMNOP", "KUBE-KUBELET-CANARY", "KUBE-SOMETHING-ELSE", "OTHER-2",
           hostnet.GUARD_CHAIN, hostnet.FORWARD_CHAIN]
    assert host_chains.removable(before, now) == {"KUBE-SVC-ABCDEFGHIJKLMNOP", "KUBE-KUBELET-CANARY",
                                                  hostnet.GUARD_CHAIN, hostnet.FORWARD_CHAIN}
    # no state read before `up`: nothing but the chains the sandbox names itself
    assert host_chains.removable(None, now) == {hostnet.GUARD_CHAIN, hostnet.FORWARD_CHAIN}


def test_only_rules_jumping_into_a_removed_chain_go_with_it() -> None:
    lines = ["-P INPUT ACCEPT", "-N KUBE-FIREWALL", "-N OTHER",
             '-A INPUT -m comment --comment "kubernetes firewall for dropping marked packets" -j KUBE-FIREWALL',
             "-A INPUT -j OTHER", "-A OTHER -g KUBE-FIREWALL", "-A KUBE-FIREWALL -j DROP",
             '-A INPUT -m comment --comment "-j KUBE-FIREWALL" -j ACCEPT']
    assert host_chains.jumps_into(lines, {"KUBE-FIREWALL"}) == [
        ["INPUT", "-m", "comment", "--comment", "kubernetes firewall for dropping marked packets", "-j",
         "KUBE-FIREWALL"],
        ["OTHER", "-g", "KUBE-FIREWALL"]]


def test_down_removes_the_bridges_that_appeared_with_its_pods_and_no_other(host: FakeHost, sandbox_up: Path) -> None:
    host.bridges += ["sdr-a", "sdr-b", "br-0123456789ab"]  # the CNI plugin's two, and another program's
    assert _down(sandbox_up) == []
    assert host.bridges == ["br-0123456789ab"]


def test_a_bridge_of_our_name_that_is_not_ours_refuses_up(host: FakeHost, tmp_path: Path, edge: FakeEdge) -> None:
    host.bridges.append("sdr-a")
    with pytest.raises(SandboxError, match="bridge sdr-a exists but is not the sandbox's"):
        hostnet.prepare_host(HostRecord(owner=str(tmp_path)), configured_network({}), nodes=3)
    assert host.bridges == ["sdr-a"] and not edge.run_dir.exists()


def test_iptables_tables_that_came_with_the_sandbox_go_when_empty_and_others_stay(
        host: FakeHost, sysctls: FakeSysctls, edge: FakeEdge, tmp_path: Path) -> None:
    host.nft_tables[:] = ["ip filter", "ip nat"]
    (tmp_path / "state").mkdir()
    hostnet.prepare_host(HostRecord(owner=str(tmp_path / "state")), configured_network({}), nodes=3)
    _components_start(host, sysctls)  # iptables-nft brings up the tables they write to first
    host.nft_tables += ["ip mangle", "ip6 filter", "ip6 mangle", "ip6 nat", "inet another-program"]
    host.iptables["ip6tables"].run(["-t", "nat", "-N", "OTHER-PROGRAM"])  # someone else's chain in one of them

    assert _down(host_record.record_file()) == []

    assert host.nft_tables == ["ip filter", "ip nat", "ip6 nat", "inet another-program"]


def test_a_missing_command_lists_nothing_unless_it_is_needed() -> None:
    from harness.sandbox import host_command

    assert host_command.run("sentinel-drill-no-such-tool", "list", check=False).returncode == 127
    with pytest.raises(SandboxError, match="sentinel-drill-no-such-tool is not installed"):
        host_command.run("sentinel-drill-no-such-tool", "add")
