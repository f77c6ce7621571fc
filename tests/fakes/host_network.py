"""A host's network as `ip`, `iptables`, `ip6tables` and `nft` see it, answered in memory.

The sandbox's host code talks to the host only through those commands and
/proc/sys; this fake answers the commands it uses (same argv, same output
shape) so the rules about what `down` removes and keeps can be tested without
root. Rules are kept as the argv tokens they were added with (real iptables
normalises some, e.g. `/32`; the sandbox's own rules are written normalised).
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

BUILTIN = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
}


@dataclass
class FakeIptables:
    """One family's tables: chain → rules (each rule a list of tokens, in order)."""

    tables: dict[str, dict[str, list[list[str]]]] = field(
        default_factory=lambda: {t: {c: [] for c in chains} for t, chains in BUILTIN.items()})

    def rules(self, table: str, chain: str) -> list[list[str]]:
        return self.tables[table][chain]

    def run(self, args: list[str]) -> tuple[int, str, str]:
        args = [a for a in args if a != "-w"]
        table = "filter"
        if args[:1] == ["-t"]:
            table, args = args[1], args[2:]
        chains = self.tables[table]
        op, rest = args[0], args[1:]
        if op == "-S":
            lines = [f"-P {c} ACCEPT" for c in BUILTIN[table]] + [f"-N {c}" for c in chains if c not in BUILTIN[table]]
            lines += [f"-A {c} {_join(rule)}" for c, rules in chains.items() for rule in rules]
            return 0, "\n".join(lines) + "\n", ""
        chain = rest[0]
        if op == "-N":
            if chain in chains:
                return 1, "", "iptables: Chain already exists."
            chains[chain] = []
            return 0, "", ""
        if chain not in chains:
            return 1, "", f"iptables: No chain/target/match by that name ({chain})."
        if op == "-X":
            if chains[chain] or any(_target(r) == chain for rules in chains.values() for r in rules):
                return 1, "", "iptables: Directory not empty / too many links."
            del chains[chain]
        elif op == "-F":
            chains[chain].clear()
        elif op == "-A":
            return self._add(chains, chain, len(chains[chain]), rest[1:])
        elif op == "-I":
            position = int(rest[1]) - 1 if len(rest) > 1 and rest[1].isdigit() else 0
            rule = rest[2:] if len(rest) > 1 and rest[1].isdigit() else rest[1:]
            return self._add(chains, chain, position, rule)
        elif op in ("-D", "-C"):
            if rest[1:] not in chains[chain]:
                return 1, "", "iptables: Bad rule (does a matching rule exist in that chain?)."
            if op == "-D":
                chains[chain].remove(rest[1:])
        else:
            raise AssertionError(f"the fake does not know iptables {op}")
        return 0, "", ""

    @staticmethod
    def _add(chains: dict[str, list[list[str]]], chain: str, position: int, rule: list[str]) -> tuple[int, str, str]:
        target = _target(rule)
        if target and target not in chains and target not in ("ACCEPT", "DROP", "RETURN", "REJECT", "MASQUERADE",
                                                              "DNAT", "SNAT", "MARK", "LOG"):
            return 2, "", f"iptables: Couldn't load target `{target}'"
        chains[chain].insert(position, rule)
        return 0, "", ""


def _target(rule: list[str]) -> str | None:
    for flag in ("-j", "-g"):
        if flag in rule:
            return rule[rule.index(flag) + 1]
    return None


def _join(rule: list[str]) -> str:
    return " ".join(f'"{t}"' if " " in t else t for t in rule)


@dataclass
class FakeHost:
    """Routes, `lo` addresses, bridges, iptables/ip6tables and nft tables; `run` answers an argv."""

    routes: list[str] = field(default_factory=lambda: ["default via 192.0.2.1 dev eth0",
                                                      "192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2",
                                                      "local 127.0.0.0/8 dev lo table local proto kernel scope host"])
    lo_addresses: list[str] = field(default_factory=lambda: ["127.0.0.1/8"])
    bridges: list[str] = field(default_factory=list)
    nft_tables: list[str] = field(default_factory=list)
    iptables: dict[str, FakeIptables] = field(default_factory=lambda: {"iptables": FakeIptables(),
                                                                         "ip6tables": FakeIptables()})
    calls: list[list[str]] = field(default_factory=list)

    def run(self, argv: list[str] | tuple[str, ...], **_: object) -> subprocess.CompletedProcess[str]:
        argv = list(argv)
        self.calls.append(argv)
        code, out, err = self._answer(argv)
        return subprocess.CompletedProcess(argv, code, out, err)

    def _answer(self, argv: list[str]) -> tuple[int, str, str]:
        name, args = argv[0], argv[1:]
        if name in self.iptables:
            return self.iptables[name].run(args)
        if name == "ip":
            return self._ip([a for a in args if a not in ("-4", "-o")])
        if name == "nft" and args[:2] == ["list", "tables"]:
            return 0, "".join(f"table {t}\n" for t in self.nft_tables), ""
        if name == "nft" and args[:2] == ["delete", "table"]:
            table = " ".join(args[2:])
            if table not in self.nft_tables:
                return 1, "", f"Error: No such file or directory; did you mean table '{table}'?"
            self.nft_tables.remove(table)
            return 0, "", ""
        raise AssertionError(f"the fake host does not know {shlex.join(argv)}")

    def _ip(self, args: list[str]) -> tuple[int, str, str]:
        if args[:2] == ["route", "show"]:
            return 0, "".join(f"{r}\n" for r in self.routes), ""
        if args[:2] in (["route", "add"], ["route", "del"]):
            spec = " ".join(args[2:])
            if args[1] == "add":
                if spec in self.routes:
                    return 2, "", "RTNETLINK answers: File exists"
                self.routes.append(spec)
            elif spec in self.routes:
                self.routes.remove(spec)
            else:
                return 2, "", "RTNETLINK answers: No such process"
            return 0, "", ""
        if args[:2] == ["addr", "show"]:
            lines = [f"1: lo    inet {a} scope host lo" for a in self.lo_addresses]
            return 0, "\n".join(lines) + "\n", ""
        if args[:2] in (["addr", "add"], ["addr", "del"]):
            cidr = args[2]
            if args[1] == "add":
                self.lo_addresses.append(cidr)
            elif cidr in self.lo_addresses:
                self.lo_addresses.remove(cidr)
            else:
                return 2, "", "RTNETLINK answers: Cannot assign requested address"
            return 0, "", ""
        if args[:2] == ["link", "show"]:
            return 0, "".join(f"{i + 7}: {b}: <BROADCAST,MULTICAST,UP> mtu 1500\n" for i, b in enumerate(self.bridges)), ""
        if args[:2] == ["link", "del"]:
            if args[2] not in self.bridges:
                return 1, "", f'Cannot find device "{args[2]}"'
            self.bridges.remove(args[2])
            return 0, "", ""
        raise AssertionError(f"the fake host does not know ip {shlex.join(args)}")


class FakeSysctls:
    """/proc/sys as a directory: `root` is what the code under test reads instead."""

    def __init__(self, root: Path, values: dict[str, str]) -> None:
        self.root = root
        for name, value in values.items():
            self.set(name, value)

    def set(self, name: str, value: str) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + "\n")

    def get(self, name: str) -> str:
        return (self.root / name).read_text().strip()


@dataclass
class FakeEdge:
    host: FakeHost
    sysctls: FakeSysctls
    run_dir: Path  # stands for /run/sentinel-drill (the host record and lock)


def install_fake_edge(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sysctls: dict[str, str]) -> FakeEdge:
    """Point the sandbox's host code at a fake host: commands, /proc/sys, /run/sentinel-drill, cgroups."""
    from harness.sandbox import host_command, host_record, hostnet, node_pool, nodes
    from harness.sandbox.state import SandboxError

    host = FakeHost()

    def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        out = host.run(list(argv))
        if check and out.returncode != 0:
            raise SandboxError(f"`{' '.join(argv)}` failed: {out.stderr}")
        return out

    monkeypatch.setattr(host_command, "run", run)
    fake_sysctls = FakeSysctls(tmp_path / "proc-sys", sysctls)
    monkeypatch.setattr(hostnet, "SYSCTL_ROOT", fake_sysctls.root)
    run_dir = tmp_path / "run-sentinel-drill"
    monkeypatch.setattr(host_record, "RECORD_DIR", run_dir)
    monkeypatch.setattr(node_pool, "HOST_LOCK", run_dir / "real-nodes.json")
    (tmp_path / "cgroup").mkdir()
    monkeypatch.setattr(nodes, "CGROUP_FS", tmp_path / "cgroup")
    return FakeEdge(host, fake_sysctls, run_dir)
