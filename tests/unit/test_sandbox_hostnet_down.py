"""What `sandbox down` gives back to the host and what it leaves alone (host commands faked at the edge)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.sandbox import hostnet
from harness.sandbox.state import SandboxError
from tests.fakes.host_network import FakeHost, FakeSysctls

KUBELET_VALUES = {"vm/overcommit_memory": "1", "vm/panic_on_oom": "0", "kernel/panic": "10",
                  "kernel/panic_on_oops": "1", "kernel/keys/root_maxkeys": "1000000",
                  "kernel/keys/root_maxbytes": "25000000"}
HOST_VALUES = {"net/ipv4/ip_forward": "0", "net/bridge/bridge-nf-call-iptables": "0", "vm/overcommit_memory": "0",
               "vm/panic_on_oom": "0", "kernel/panic": "0", "kernel/panic_on_oops": "0",
               "kernel/keys/root_maxkeys": "200", "kernel/keys/root_maxbytes": "20000"}


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> FakeHost:
    fake = FakeHost()

    def run(*argv: str, check: bool = True):  # type: ignore[no-untyped-def]
        out = fake.run(list(argv))
        if check and out.returncode != 0:
            raise SandboxError(f"`{' '.join(argv)}` failed: {out.stderr}")
        return out

    monkeypatch.setattr(hostnet, "_run", run)
    return fake


@pytest.fixture
def sysctls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSysctls:
    fake = FakeSysctls(tmp_path / "proc-sys", HOST_VALUES)
    monkeypatch.setattr(hostnet, "_sysctl_path", lambda name: fake.root / name)
    return fake


@pytest.fixture
def sandbox_up(host: FakeHost, sysctls: FakeSysctls, tmp_path: Path) -> Iterator[Path]:
    record = tmp_path / "state" / "hostnet.json"
    record.parent.mkdir()
    hostnet.prepare_host(record, nodes=3)
    yield record


def _down(record: Path) -> list[str]:
    return hostnet.restore_host(record)


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
