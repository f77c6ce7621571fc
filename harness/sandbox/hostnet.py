"""The host networking real sandbox nodes need, added on record and removed exactly.

Real kubelet nodes share this host's network namespace, so the sandbox adds a
few things to it: one /32 address per node on `lo` (a node IP may not be a
loopback address, and dummy links are not available here), unreachable routes
for every sandbox range (no packet to a pod, service or node address can ever
leave through the default route), forwarding for the pod range, and a guard
that drops packets to the sandbox ranges arriving from any other interface.
Each change is written to `hostnet.json` in the state dir *before* it is made,
so `sandbox down` (or the next `up` after a crash) removes exactly what was
added, including the chains the kubelet and kube-proxy create, the CNI
bridges and the kernel settings the kubelet tunes.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import dataclass, field
from ipaddress import IPv4Network, ip_network
from pathlib import Path

from harness.redaction import child_environment
from harness.sandbox.state import SandboxError

NODE_RANGE = ip_network("10.250.0.0/24")
POD_RANGE = ip_network("10.251.0.0/16")
KWOK_POD_RANGE = ip_network("10.252.0.0/16")  # kwok's fake pod IPs: never routed, kept off the service range
SERVICE_RANGE = ip_network("10.253.0.0/24")
SANDBOX_RANGES: tuple[IPv4Network, ...] = (NODE_RANGE, POD_RANGE, KWOK_POD_RANGE, SERVICE_RANGE)  # type: ignore[assignment]
DNS_ADDRESS = "10.250.0.2"
GUARD_CHAIN = "SENTINEL-DRILL-GUARD"
FORWARD_CHAIN = "SENTINEL-DRILL-FORWARD"
BRIDGE_PREFIX = "sdr-"
# what the kubelet sets when protectKernelDefaults is false; given back at `down`
KUBELET_SYSCTLS = ("vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
                   "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes")
FORWARDING_SYSCTLS = ("net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables")
TABLES = ("filter", "nat", "mangle")


def node_address(index: int) -> str:
    """Node `index` (0-based) lives at 10.250.0.(11+index)."""
    return str(NODE_RANGE.network_address + 11 + index)


def pod_cidr(index: int) -> str:
    return f"10.251.{index + 1}.0/24"


def bridge_name(zone: str) -> str:
    return f"{BRIDGE_PREFIX}{zone.rsplit('-', 1)[-1]}"[:15]


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        out = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False,
                             env=child_environment())
    except FileNotFoundError:
        raise SandboxError(f"{argv[0]} is not installed", fix="run `make node-bin` (it installs iproute2 and iptables)") from None
    if check and out.returncode != 0:
        raise SandboxError(f"`{' '.join(argv)}` failed: {out.stderr.strip()[-300:]}",
                           fix="run `sentinel-drill sandbox down` to undo the partial setup, then retry") from None
    return out


def _sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name


def read_sysctl(name: str) -> str | None:
    try:
        return _sysctl_path(name).read_text().strip()
    except OSError:
        return None


def write_sysctl(name: str, value: str) -> None:
    try:
        _sysctl_path(name).write_text(value)
    except OSError:
        pass  # read-only here: nothing was changed, so nothing to give back


IPTABLES = ("iptables", "ip6tables")  # the kubelet and kube-proxy write their canaries into both


def chains(table: str, binary: str = "iptables") -> set[str]:
    out = _run(binary, "-w", "-t", table, "-S", check=False)
    return {line.split()[1] for line in out.stdout.splitlines() if line.startswith("-N ")}


@dataclass
class HostChanges:
    """What the sandbox added to the host; saved before each change so a crash loses no record."""

    path: Path
    addresses: list[str] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)  # name → value before the sandbox
    chains_before: dict[str, list[str]] = field(default_factory=dict)
    jumps: list[list[str]] = field(default_factory=list)  # [table, chain, *rule]

    def save(self) -> None:
        self.path.write_text(json.dumps({
            "addresses": self.addresses, "routes": self.routes, "sysctls": self.sysctls,
            "chains_before": self.chains_before, "jumps": self.jumps}, indent=1))

    @classmethod
    def load(cls, path: Path) -> HostChanges | None:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return cls(path, data.get("addresses", []), data.get("routes", []), data.get("sysctls", {}),
                   data.get("chains_before", {}), data.get("jumps", []))


def prepare_host(path: Path, *, nodes: int) -> HostChanges:
    """Addresses, unreachable routes, forwarding and the ingress guard for `nodes` real nodes."""
    changes = HostChanges(path)
    changes.chains_before = {f"{b}:{t}": sorted(chains(t, b)) for b in IPTABLES for t in TABLES}
    for name in (*FORWARDING_SYSCTLS, *KUBELET_SYSCTLS):
        value = read_sysctl(name)
        if value is not None:
            changes.sysctls[name] = value
    changes.save()
    for network in SANDBOX_RANGES:
        # the service range is local: kube-proxy's OUTPUT rules rewrite a connection to a ClusterIP after the
        # first route lookup, which must succeed; an address no Service owns then gets "connection refused" here
        route = (f"local {network} dev lo table local" if network == SERVICE_RANGE else f"unreachable {network}")
        shown = _run("ip", "route", "show", "table", "all").stdout
        if f"{route.split()[0]} {network}" not in shown:
            changes.routes.append(route)
            changes.save()
            _run("ip", "route", "add", *route.split())
    for address in [DNS_ADDRESS, *(node_address(i) for i in range(nodes))]:
        cidr = f"{address}/32"
        if cidr not in _run("ip", "-4", "addr", "show", "dev", "lo").stdout:
            changes.addresses.append(cidr)
            changes.save()
            _run("ip", "addr", "add", cidr, "dev", "lo")
    write_sysctl("net/ipv4/ip_forward", "1")
    write_sysctl("net/bridge/bridge-nf-call-iptables", "1")
    _chain(changes, "filter", GUARD_CHAIN, "INPUT", [
        # sandbox addresses answer only this host (lo) and the sandbox's own pods
        *(["!", "-i", "lo", "!", "-s", str(POD_RANGE), "-d", str(r), "-j", "DROP"] for r in SANDBOX_RANGES),
    ])
    forward_rules = [["-s", str(POD_RANGE), "-j", "ACCEPT"], ["-d", str(POD_RANGE), "-j", "ACCEPT"]]
    # Docker's FORWARD policy is DROP and its own chains come first: accept the pod range ahead of them
    _chain(changes, "filter", FORWARD_CHAIN, "FORWARD", forward_rules)
    if "DOCKER-USER" in chains("filter"):
        _jump(changes, "filter", "DOCKER-USER", ["-j", FORWARD_CHAIN])
    return changes


def _chain(changes: HostChanges, table: str, chain: str, parent: str, rules: list[list[str]]) -> None:
    if chain not in chains(table):
        _run("iptables", "-w", "-t", table, "-N", chain)
    _run("iptables", "-w", "-t", table, "-F", chain)
    for rule in rules:
        _run("iptables", "-w", "-t", table, "-A", chain, *rule)
    _jump(changes, table, parent, ["-j", chain])


def _jump(changes: HostChanges, table: str, parent: str, rule: list[str]) -> None:
    if _run("iptables", "-w", "-t", table, "-C", parent, *rule, check=False).returncode != 0:
        changes.jumps.append([table, parent, *rule])
        changes.save()
        _run("iptables", "-w", "-t", table, "-I", parent, "1", *rule)


def restore_host(path: Path) -> list[str]:
    """Remove everything `prepare_host` and the node processes added; returns what could not be removed."""
    changes = HostChanges.load(path)
    if changes is None:
        return []
    left: list[str] = []
    for table, parent, *rule in reversed(changes.jumps):
        while _run("iptables", "-w", "-t", table, "-D", parent, *rule, check=False).returncode == 0:
            pass
    if changes.chains_before:
        _remove_new_chains(changes, left)
    for link in _bridges():
        if _run("ip", "link", "del", link, check=False).returncode != 0:
            left.append(f"bridge {link}")
    for cidr in changes.addresses:
        _run("ip", "addr", "del", cidr, "dev", "lo", check=False)
    for route in changes.routes:
        _run("ip", "route", "del", *route.split(), check=False)
    for name, value in changes.sysctls.items():
        if read_sysctl(name) != value:
            write_sysctl(name, value)
    if not left:
        path.unlink(missing_ok=True)  # kept otherwise: the next `down` tries again with the same record
    return left


def _remove_new_chains(changes: HostChanges, left: list[str]) -> None:
    """Chains that did not exist before `up` (ours, kube-proxy's, the kubelet's canaries) are flushed then deleted."""
    for binary in IPTABLES:
        for table in TABLES:
            before = set(changes.chains_before.get(f"{binary}:{table}", changes.chains_before.get(table, [])))
            new = sorted(chains(table, binary) - before)
            if not new:
                continue
            # drop every rule of an older chain that jumps into a new one, then flush and delete the new ones
            for line in _run(binary, "-w", "-t", table, "-S", check=False).stdout.splitlines():
                parts = shlex.split(line)  # rules carry quoted comments
                if parts[:1] == ["-A"] and parts[1] not in new and "-j" in parts and parts[parts.index("-j") + 1] in new:
                    _run(binary, "-w", "-t", table, "-D", *parts[1:], check=False)
            for chain in new:
                _run(binary, "-w", "-t", table, "-F", chain, check=False)
            for chain in new:
                if _run(binary, "-w", "-t", table, "-X", chain, check=False).returncode != 0:
                    left.append(f"{binary} chain {table}/{chain}")


def _bridges() -> list[str]:
    out = _run("ip", "-o", "link", "show", "type", "bridge", check=False).stdout
    names = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]
    return [n for n in names if n.startswith(BRIDGE_PREFIX)]


def leftovers() -> list[str]:
    """Anything of a real-node sandbox still on this host (after `down` this must be empty)."""
    found: list[str] = []
    addr = _run("ip", "-4", "-o", "addr", "show", "dev", "lo", check=False).stdout
    found += [f"address {w}" for w in addr.split() if w.startswith(("10.250.", "10.251.", "10.253."))]
    routes = _run("ip", "route", "show", "table", "all", check=False).stdout
    found += [f"route {line.strip()}" for line in routes.splitlines()
              if any(str(r) in line for r in SANDBOX_RANGES)]
    for binary in IPTABLES:
        for table in TABLES:
            found += [f"{binary} chain {table}/{c}" for c in chains(table, binary)
                      if c.startswith(("KUBE-", "SENTINEL-DRILL"))]
    found += [f"bridge {b}" for b in _bridges()]
    nft = _run("nft", "list", "tables", check=False).stdout
    found += [f"nftables {line.strip()}" for line in nft.splitlines() if "knp-" in line]
    cgroups = Path("/sys/fs/cgroup")
    found += [f"cgroup {p}" for p in sorted(cgroups.glob("*/sentinel-drill"))]
    return found
