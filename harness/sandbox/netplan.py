"""The address ranges of a real-node sandbox: where they come from, and whether this host already routes them.

Real nodes share this host's network namespace, so the sandbox's ranges become
routes of the host. They are four consecutive /16 blocks from one base
(`DRILL_SANDBOX_NET_BASE`, default 10.250.0.0): nodes base/24 (cluster DNS at
.2, node N at .11+N), pods base+1/16 (one /24 per node), kwok's fake pod IPs
base+2/16, Services base+3/24. A range that overlaps a route the host already
has (a VPN's 10.0.0.0/8, a Docker network) would take that traffic over, so a
real-node `up` refuses it before changing anything and names a base that fits.

The plan is chosen at `up` and written to `<state>/network.json`; everything
done later to that sandbox (a new control plane in scenario 3, its node pool)
reads it from there, whatever the environment says by then.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from ipaddress import AddressValueError, IPv4Address, IPv4Network, ip_network
from pathlib import Path

from harness.errors import ConfigError
from harness.sandbox import host_command
from harness.sandbox.state import SandboxPaths

BASE_ENV = "DRILL_SANDBOX_NET_BASE"
DEFAULT_BASE = "10.250.0.0"
PRIVATE_BLOCKS = (IPv4Network("10.0.0.0/8"), IPv4Network("172.16.0.0/12"))
ROUTE_TYPES = frozenset({"unicast", "local", "broadcast", "multicast", "unreachable", "blackhole", "prohibit",
                         "throw", "nat", "anycast"})
BLOCK = 1 << 16


@dataclass(frozen=True)
class SandboxNetwork:
    """The ranges and fixed addresses one real-node sandbox uses."""

    base: IPv4Address

    @property
    def node_range(self) -> IPv4Network:
        return IPv4Network(f"{self.base}/24")

    @property
    def pod_range(self) -> IPv4Network:
        return IPv4Network(f"{self.base + BLOCK}/16")

    @property
    def kwok_pod_range(self) -> IPv4Network:
        """kwok's fake pod IPs: never routed anywhere, kept off the service range."""
        return IPv4Network(f"{self.base + 2 * BLOCK}/16")

    @property
    def service_range(self) -> IPv4Network:
        return IPv4Network(f"{self.base + 3 * BLOCK}/24")

    @property
    def named_ranges(self) -> dict[str, IPv4Network]:
        return {"node": self.node_range, "pod": self.pod_range, "kwok pod": self.kwok_pod_range,
                "service": self.service_range}

    @property
    def ranges(self) -> tuple[IPv4Network, ...]:
        return tuple(self.named_ranges.values())

    @property
    def dns_address(self) -> str:
        """The cluster DNS (and the pods' door to moto), on `lo`."""
        return str(self.node_range.network_address + 2)

    def node_address(self, index: int) -> str:
        """Node `index` (0-based) lives at .11+index of the node range."""
        return str(self.node_range.network_address + 11 + index)

    def pod_cidr(self, index: int) -> str:
        """Node `index`'s pods: the (index+1)-th /24 of the pod range."""
        return f"{self.pod_range.network_address + 256 * (index + 1)}/24"


def network_from_base(text: str) -> SandboxNetwork:
    """The plan for base `text` (a.b.0.0, four /16 blocks inside 10/8 or 172.16/12); ConfigError otherwise."""
    fix = (f"set {BASE_ENV} to an address a.b.0.0 whose four /16 blocks lie in 10.0.0.0/8 or 172.16.0.0/12 "
           f"(default {DEFAULT_BASE})")
    try:
        base = IPv4Address(text.strip())
        blocks = [IPv4Network((int(base) + i * BLOCK, 16)) for i in range(4)]
    except (AddressValueError, ValueError):
        raise ConfigError(f"{BASE_ENV}={text!r} does not start four /16 blocks of IPv4 addresses", fix=fix) from None
    if not any(all(b.subnet_of(p) for b in blocks) for p in PRIVATE_BLOCKS):
        raise ConfigError(f"{BASE_ENV}={text} does not start four private /16 blocks", fix=fix)
    return SandboxNetwork(base)


def configured_network(environ: Mapping[str, str] = os.environ) -> SandboxNetwork:
    """The plan a new `up` uses: $DRILL_SANDBOX_NET_BASE, else the default."""
    return network_from_base(environ.get(BASE_ENV) or DEFAULT_BASE)


def _plan_file(paths: SandboxPaths) -> Path:
    return paths.root / "network.json"


def record_network(paths: SandboxPaths, network: SandboxNetwork) -> None:
    """Fix `network` as this sandbox's plan (before its control plane is created)."""
    paths.root.mkdir(parents=True, exist_ok=True)
    _plan_file(paths).write_text(json.dumps({"base": str(network.base)}) + "\n")


def network_for(paths: SandboxPaths) -> SandboxNetwork:
    """The plan this sandbox was started with; the configured one when it recorded none."""
    try:
        return network_from_base(json.loads(_plan_file(paths).read_text())["base"])
    except (OSError, ValueError, KeyError, TypeError):
        return configured_network()


def forget_network(paths: SandboxPaths) -> None:
    _plan_file(paths).unlink(missing_ok=True)


# ------------------------------------------------------------------ the host's routes
@dataclass(frozen=True)
class RouteConflict:
    range_name: str
    network: IPv4Network
    route: str

    def describe(self) -> str:
        return f"the sandbox's {self.range_name} range {self.network} overlaps this host's route `{self.route}`"


def route_destination(line: str) -> IPv4Network | None:
    """The destination of one `ip -4 route show table all` line (None for a default route or an unreadable one)."""
    words = line.split()
    if words and words[0] in ROUTE_TYPES:
        words = words[1:]
    if not words or words[0] == "default":
        return None
    try:
        network = ip_network(words[0], strict=False)
    except ValueError:
        return None
    return network if isinstance(network, IPv4Network) and network.prefixlen > 0 else None


def route_conflicts(network: SandboxNetwork, routes: Iterable[str], *,
                    own: Iterable[IPv4Network] = ()) -> list[RouteConflict]:
    """Each route (of any table) that overlaps one of the sandbox's ranges, except the sandbox's own (`own`).

    A default route overlaps everything and takes nothing over (the sandbox's
    routes are more specific), so it never conflicts.
    """
    mine = set(own)
    found = []
    for line in (r.strip() for r in routes):
        destination = route_destination(line)
        if destination is None or destination in mine:
            continue
        found += [RouteConflict(name, r, line) for name, r in network.named_ranges.items() if r.overlaps(destination)]
    return found


def host_routes() -> list[str]:
    return host_command.run("ip", "-4", "route", "show", "table", "all").stdout.splitlines()


def free_base(routes: list[str]) -> str | None:
    """A base whose four blocks no route of the host touches (what a refusal suggests), or None."""
    candidates = [f"10.{b}.0.0" for b in range(248, -1, -4)] + [f"172.{b}.0.0" for b in (16, 20, 24, 28)]
    return next((c for c in candidates if not route_conflicts(network_from_base(c), routes)), None)
