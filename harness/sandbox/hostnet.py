"""The host networking real sandbox nodes need, added on record and removed exactly.

Real kubelet nodes share this host's network namespace, so the sandbox adds a
few things to it: one /32 address per node on `lo` (a node IP may not be a
loopback address, and dummy links are not available here), unreachable routes
for its ranges (no packet to a pod, node or kwok address can leave through the
default route; the service range is local), forwarding between its own bridges,
and a guard that drops packets to its ranges arriving on any other interface.

Before anything changes, `check_host` refuses a host whose routes overlap the
ranges (netplan.py) or that already runs a kubelet or kube-proxy (host_chains.py).
Each change is written to the host's record (host_record.py) *before* it is
made, so `sandbox down` — after a crash, or with the state dir gone — removes
exactly what was added: our chains and the component chains that appeared
since (never another program's), the bridges that did not exist before, the
addresses and routes, and each kernel setting that still holds the value the
sandbox or its kubelet set (one changed by another program since is left alone).
"""

from __future__ import annotations

from ipaddress import IPv4Network, ip_network
from pathlib import Path

from harness.sandbox import host_chains, host_command, host_record
from harness.sandbox.host_chains import BINARIES, FORWARD_CHAIN, GUARD_CHAIN, TABLES
from harness.sandbox.host_record import HostRecord
from harness.sandbox.netplan import (
    BASE_ENV,
    SandboxNetwork,
    configured_network,
    free_base,
    host_routes,
    route_conflicts,
    route_destination,
)
from harness.sandbox.state import SandboxError

BRIDGE_PREFIX = "sdr-"
SANDBOX_INTERFACES = ("lo", f"{BRIDGE_PREFIX}+")  # iptables' `+`: every bridge of ours
SYSCTL_ROOT = Path("/proc/sys")
# what the sandbox sets so its pods reach each other (the CNI bridge plugin sets ip_forward as well)
SANDBOX_SYSCTLS = {"net/ipv4/ip_forward": "1", "net/bridge/bridge-nf-call-iptables": "1"}
# what the kubelet sets when protectKernelDefaults is false
KUBELET_SYSCTLS = {"vm/overcommit_memory": "1", "vm/panic_on_oom": "0", "kernel/panic": "10",
                   "kernel/panic_on_oops": "1", "kernel/keys/root_maxkeys": "1000000",
                   "kernel/keys/root_maxbytes": "25000000"}
SET_BY_SANDBOX = {**SANDBOX_SYSCTLS, **KUBELET_SYSCTLS}


def bridge_name(zone: str) -> str:
    return f"{BRIDGE_PREFIX}{zone.rsplit('-', 1)[-1]}"[:15]


def read_sysctl(name: str) -> str | None:
    try:
        return (SYSCTL_ROOT / name).read_text().strip()
    except OSError:
        return None


def write_sysctl(name: str, value: str) -> None:
    try:
        (SYSCTL_ROOT / name).write_text(value)
    except OSError:
        pass  # read-only here (or its module is not loaded): nothing was changed, so nothing to give back


def bridges() -> list[str]:
    out = host_command.run("ip", "-o", "link", "show", "type", "bridge", check=False).stdout
    return [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]


def _own_destinations(record: HostRecord | None) -> set[IPv4Network]:
    if record is None:
        return set()
    found = {IPv4Network(a) for a in record.addresses}
    return found | {d for d in (route_destination(r) for r in record.routes) if d is not None}


def check_host(network: SandboxNetwork, record: HostRecord | None) -> None:
    """Refuse (SandboxError) a host the sandbox could not change without touching what is not its own."""
    routes = host_routes()
    conflicts = route_conflicts(network, routes, own=_own_destinations(record))
    if conflicts:
        more = f" (and {len(conflicts) - 1} more)" if len(conflicts) > 1 else ""
        base = free_base(routes)
        raise SandboxError(
            f"{conflicts[0].describe()}{more}: real nodes would take that traffic over",
            fix=(f"start it with other ranges: {BASE_ENV}={base} sentinel-drill sandbox up" if base else
                 f"choose a base with {BASE_ENV} (four /16 blocks no route of this host touches)")
            + f" (now {BASE_ENV}={network.base}), or run with --nodes kwok")
    foreign = host_chains.foreign_component_chains(record.chains_before if record else None)
    if foreign:
        raise SandboxError(
            f"this host already has Kubernetes networking rules ({', '.join(foreign[:3])}"
            f"{', …' if len(foreign) > 3 else ''}): the sandbox's kube-proxy would rewrite them",
            fix="stop the kubelet or kube-proxy that owns them, or run with --nodes kwok; if none runs they are "
                "left over: remove them (`iptables -t <table> -F <chain>`, then `-X <chain>`)")
    taken = [b for b in bridges() if b.startswith(BRIDGE_PREFIX)
             and (record is None or record.bridges_before is None or b in record.bridges_before)]
    if taken:
        raise SandboxError(f"bridge {taken[0]} exists but is not the sandbox's (its bridges are {BRIDGE_PREFIX}*)",
                           fix=f"remove it (`ip link del {taken[0]}`) if nothing uses it, or run with --nodes kwok")


def guard_rules(network: SandboxNetwork) -> list[list[str]]:
    """INPUT: the sandbox's addresses answer this host (lo) and its own pods on its bridges, nobody else."""
    return [["-i", "lo", "-j", "RETURN"],
            ["-i", SANDBOX_INTERFACES[1], "-s", str(network.pod_range), "-j", "RETURN"],
            *(["-d", str(r), "-j", "DROP"] for r in network.ranges)]


def forward_rules(network: SandboxNetwork) -> list[list[str]]:
    """FORWARD: pod to pod between the sandbox's bridges; nothing else to or from its ranges is forwarded.

    Docker's FORWARD policy is DROP and its own chains come first, so this chain is
    jumped to from FORWARD and DOCKER-USER alike.
    """
    bridge = SANDBOX_INTERFACES[1]
    pods = str(network.pod_range)
    return [["-i", bridge, "-o", bridge, "-s", pods, "-d", pods, "-j", "ACCEPT"],
            *(["-d", str(r), "-j", "DROP"] for r in network.ranges),
            ["-s", pods, "-j", "DROP"]]


def prepare_host(record: HostRecord, network: SandboxNetwork, *, nodes: int) -> None:
    """Addresses, routes, forwarding and the guard for `nodes` real nodes, each written to `record` first."""
    check_host(network, record)
    if record.chains_before is None:
        record.chains_before = host_chains.all_chains()
    if record.bridges_before is None:
        record.bridges_before = bridges()
    if record.nft_tables_before is None:
        record.nft_tables_before = host_chains.nft_tables()
    for name, value in SET_BY_SANDBOX.items():
        before = read_sysctl(name)
        if before is not None and before != value and name not in record.sysctls:
            record.sysctls[name] = {"before": before, "set": value}
    record.save()
    shown = host_command.run("ip", "-4", "route", "show", "table", "all").stdout
    for r in network.ranges:
        # the service range is local: kube-proxy's OUTPUT rules rewrite a connection to a ClusterIP after the
        # first route lookup, which must succeed; an address no Service owns then gets "connection refused" here
        route = f"local {r} dev lo table local" if r == network.service_range else f"unreachable {r}"
        if f"{route.split()[0]} {r}" not in shown:
            record.routes.append(route)
            record.save()
            host_command.run("ip", "route", "add", *route.split())
    on_lo = host_command.run("ip", "-4", "addr", "show", "dev", "lo").stdout
    for address in [network.dns_address, *(network.node_address(i) for i in range(nodes))]:
        cidr = f"{address}/32"
        if cidr not in on_lo:
            record.addresses.append(cidr)
            record.save()
            host_command.run("ip", "addr", "add", cidr, "dev", "lo")
    for name, value in SANDBOX_SYSCTLS.items():
        write_sysctl(name, value)
    _chain(record, GUARD_CHAIN, "INPUT", guard_rules(network))
    _chain(record, FORWARD_CHAIN, "FORWARD", forward_rules(network))
    if "DOCKER-USER" in host_chains.chains("iptables", "filter"):
        _jump(record, "DOCKER-USER", FORWARD_CHAIN)


def _chain(record: HostRecord, chain: str, parent: str, rules: list[list[str]]) -> None:
    host_chains.ensure_chain("iptables", "filter", chain, rules)  # removed by name at `down`: no record needed
    _jump(record, parent, chain)


def _jump(record: HostRecord, parent: str, chain: str) -> None:
    rule = ["-j", chain]
    if not host_chains.has_rule("iptables", "filter", parent, rule):
        record.jumps.append(["iptables", "filter", parent, *rule])
        record.save()
        host_chains.insert_first("iptables", "filter", parent, rule)


def restore_host(record: HostRecord) -> list[str]:
    """Undo what `record` says the sandbox (and its kubelet and kube-proxy) changed; returns what stayed.

    The record is dropped once nothing is left; otherwise it is kept for the next `down`.
    """
    left: list[str] = []
    for binary, table, parent, *rule in reversed(record.jumps):
        host_chains.delete_rule(binary, table, parent, rule)
    left += host_chains.remove_owned(record.chains_before)
    left += host_chains.remove_emptied_tables(record.nft_tables_before)
    if record.bridges_before is not None:
        for link in bridges():
            if link.startswith(BRIDGE_PREFIX) and link not in record.bridges_before \
                    and host_command.run("ip", "link", "del", link, check=False).returncode != 0:
                left.append(f"bridge {link}")
    for cidr in record.addresses:
        host_command.run("ip", "addr", "del", cidr, "dev", "lo", check=False)
    for route in record.routes:
        host_command.run("ip", "route", "del", *route.split(), check=False)
    for name, values in record.sysctls.items():
        if read_sysctl(name) == values["set"]:  # another program's value since then stays
            write_sysctl(name, values["before"])
    if not left:
        record.forget()
    return left


def leftovers(network: SandboxNetwork | None = None) -> list[str]:
    """Anything of a real-node sandbox still on this host (after `down` this must be empty)."""
    network = network or configured_network()
    found: list[str] = []
    addr = host_command.run("ip", "-4", "-o", "addr", "show", "dev", "lo", check=False).stdout
    found += [f"address {w}" for w in addr.split() if "/" in w and w[0].isdigit()
              and any(ip_network(w, strict=False).overlaps(r) for r in network.ranges)]
    for line in host_command.run("ip", "-4", "route", "show", "table", "all", check=False).stdout.splitlines():
        destination = route_destination(line)
        if destination is not None and any(destination.overlaps(r) for r in network.ranges):
            found.append(f"route {line.strip()}")
    for binary in BINARIES:
        for table in TABLES:
            found += [f"{binary} chain {table}/{c}" for c in sorted(host_chains.chains(binary, table))
                      if c in host_chains.SANDBOX_CHAINS or host_chains.is_component_chain(c)]
    found += [f"bridge {b}" for b in bridges() if b.startswith(BRIDGE_PREFIX)]
    nft = host_command.run("nft", "list", "tables", check=False).stdout
    found += [f"nftables {line.strip()}" for line in nft.splitlines() if "knp-" in line]
    cgroups = Path("/sys/fs/cgroup")
    found += [f"cgroup {p}" for p in sorted(cgroups.glob("*/sentinel-drill"))]
    if host_record.record_file().exists():
        found.append(f"host record {host_record.record_file()}")
    return found
