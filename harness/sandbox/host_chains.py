"""Which iptables chains are the sandbox's, and removing exactly those.

The rule `sandbox down` follows, in iptables and ip6tables, tables filter, nat and mangle:
- the chains the sandbox names itself (SANDBOX_CHAINS) are removed;
- a chain the kubelet or kube-proxy the sandbox runs is known to create
  (COMPONENT_CHAINS, COMPONENT_PREFIXES) is removed when it did not exist before `up`;
- any other chain is never touched, whoever created it and whenever;
- the rules removed are those that jump (`-j`/`-g`) into a chain being removed
  (they cannot outlive it) and nothing else.
An iptables table that the components' first rule brought into being (iptables-nft
creates the nftables table `ip mangle`, `ip6 nat`, … on first use) is removed
too when it did not exist before `up` and holds nothing but its empty built-in
chains with an ACCEPT policy after the above (a table with anyone's rule or
policy in it stays).
`up` refuses when a component chain already exists before it changed anything:
another kubelet or kube-proxy runs on this host, ours would rewrite its rules,
and `down` could not tell them from ours. `kube-proxy --cleanup` is not used:
it removes every kube-proxy chain and nftables table on the host, whoever
created them, and cleans its other modes (ipvs, nftables) as well.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable

from harness.sandbox import host_command

GUARD_CHAIN = "SENTINEL-DRILL-GUARD"
FORWARD_CHAIN = "SENTINEL-DRILL-FORWARD"
SANDBOX_CHAINS = frozenset({GUARD_CHAIN, FORWARD_CHAIN})
# the kubelet's (iptables hint, canaries, its localhost firewall) and kube-proxy's in iptables mode (v1.36)
COMPONENT_CHAINS = frozenset({
    "KUBE-IPTABLES-HINT", "KUBE-KUBELET-CANARY", "KUBE-FIREWALL",
    "KUBE-PROXY-CANARY", "KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING",
    "KUBE-MARK-MASQ", "KUBE-MARK-DROP", "KUBE-FORWARD", "KUBE-PROXY-FIREWALL",
})
COMPONENT_PREFIXES = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-", "KUBE-XLB-")  # per Service
BINARIES = ("iptables", "ip6tables")  # the kubelet and kube-proxy write both families
TABLES = ("filter", "nat", "mangle")


def is_component_chain(chain: str) -> bool:
    return chain in COMPONENT_CHAINS or chain.startswith(COMPONENT_PREFIXES)


def rules(binary: str, table: str) -> list[str]:
    return host_command.run(binary, "-w", "-t", table, "-S", check=False).stdout.splitlines()


def chains(binary: str, table: str) -> set[str]:
    return {line.split()[1] for line in rules(binary, table) if line.startswith("-N ")}


def all_chains() -> dict[str, list[str]]:
    """Every chain now, keyed "<binary>:<table>" (what a record keeps as the state before `up`)."""
    return {f"{b}:{t}": sorted(chains(b, t)) for b in BINARIES for t in TABLES}


def removable(before: Iterable[str] | None, now: Iterable[str]) -> set[str]:
    """The chains of `now` that `down` removes, given those that existed before `up` (None: not read yet)."""
    existed = set(before) if before is not None else None
    return {c for c in now if c in SANDBOX_CHAINS
            or (existed is not None and c not in existed and is_component_chain(c))}


def jumps_into(lines: Iterable[str], targets: set[str]) -> list[list[str]]:
    """The rules (`<chain> <rule...>`, as -S prints them) of chains outside `targets` that jump into one."""
    found = []
    for line in lines:
        parts = shlex.split(line)  # rules carry quoted comments
        if parts[:1] != ["-A"] or parts[1] in targets:
            continue
        for flag in ("-j", "-g"):
            if flag in parts[2:] and parts[parts.index(flag, 2) + 1] in targets:
                found.append(parts[1:])
                break
    return found


def foreign_component_chains(before: dict[str, list[str]] | None) -> list[str]:
    """Component chains that are not the sandbox's (they existed before `up`, or no `up` recorded any state)."""
    found = []
    for binary in BINARIES:
        for table in TABLES:
            listed = None if before is None else before.get(f"{binary}:{table}")
            existed = None if listed is None else set(listed)
            found += [f"{binary} {table}/{c}" for c in sorted(chains(binary, table))
                      if is_component_chain(c) and (existed is None or c in existed)]
    return found


def ensure_chain(binary: str, table: str, chain: str, chain_rules: list[list[str]]) -> None:
    """Create (or empty) one of our chains and fill it."""
    if chain not in chains(binary, table):
        host_command.run(binary, "-w", "-t", table, "-N", chain)
    host_command.run(binary, "-w", "-t", table, "-F", chain)
    for rule in chain_rules:
        host_command.run(binary, "-w", "-t", table, "-A", chain, *rule)


def has_rule(binary: str, table: str, chain: str, rule: list[str]) -> bool:
    return host_command.run(binary, "-w", "-t", table, "-C", chain, *rule, check=False).returncode == 0


def insert_first(binary: str, table: str, chain: str, rule: list[str]) -> None:
    host_command.run(binary, "-w", "-t", table, "-I", chain, "1", *rule)


def delete_rule(binary: str, table: str, chain: str, rule: list[str]) -> None:
    """Delete every copy of `rule` in `chain`."""
    while host_command.run(binary, "-w", "-t", table, "-D", chain, *rule, check=False).returncode == 0:
        pass


def remove_owned(before: dict[str, list[str]] | None) -> list[str]:
    """Remove the chains `removable` names and the rules jumping into them; returns the chains that stayed."""
    left = []
    for binary in BINARIES:
        for table in TABLES:
            existed = None if before is None else before.get(f"{binary}:{table}")  # unread: only ours by name
            going = removable(existed, chains(binary, table))
            if not going:
                continue
            for chain, *rule in jumps_into(rules(binary, table), going):
                delete_rule(binary, table, chain, rule)
            for chain in sorted(going):  # all flushed first: ours jump into each other
                host_command.run(binary, "-w", "-t", table, "-F", chain, check=False)
            for chain in sorted(going):
                if host_command.run(binary, "-w", "-t", table, "-X", chain, check=False).returncode != 0:
                    left.append(f"{binary} chain {table}/{chain}")
    return left


def nft_tables() -> list[str] | None:
    """`nft list tables` as lines ("table ip filter"); None where nft cannot list them (not installed)."""
    out = host_command.run("nft", "list", "tables", check=False)
    return out.stdout.splitlines() if out.returncode == 0 else None


def remove_emptied_tables(before: list[str] | None) -> list[str]:
    """Drop iptables' own tables that appeared since `up` and are empty again; returns those that stayed."""
    now = nft_tables()
    if before is None or now is None:
        return []
    left = []
    for line in (t for t in now if t not in before):
        family, name = (line.split() + ["", "", ""])[1:3]
        binary = {"ip": "iptables", "ip6": "ip6tables"}.get(family)
        if binary is None or name not in TABLES:
            continue  # not an iptables table: another program's nftables, never ours to judge
        if all(r.startswith("-P ") and r.endswith(" ACCEPT") for r in rules(binary, name)) and \
                host_command.run("nft", "delete", "table", family, name, check=False).returncode != 0:
            left.append(f"nftables {line}")
    return left
