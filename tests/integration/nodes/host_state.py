"""This host's network state as the real-node sandbox may touch it, and what "another program" adds meanwhile.

`snapshot()` reads routes (every table, both families), policy rules,
iptables/ip6tables rules of filter/nat/mangle, addresses and links, the kernel
settings a kubelet, kube-proxy or the sandbox could change, and the nftables
tables; `differences()` names what changed. Docker's own per-container state
(its `DOCKER*` chains other than DOCKER-USER, `docker0`/`br-*` and `veth*`
links) is left out: other test runs on this host start containers while the
suite runs, and the sandbox never touches those.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SYSCTL = Path("/proc/sys")
SYSCTL_FILES = ("net/ipv4/ip_forward", "net/ipv4/ip_nonlocal_bind", "net/ipv6/conf/all/forwarding",
                "vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops",
                "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes")
SYSCTL_DIRS = ("net/bridge", "net/netfilter", "net/ipv4/conf/all", "net/ipv4/conf/default", "net/ipv4/conf/lo")
MOVING_SYSCTLS = ("nf_conntrack_count", "nf_conntrack_buckets", "nf_log")  # counters and per-family log lists
DOCKER_OWN = re.compile(r"\b(DOCKER(?!-USER)[A-Z0-9-]*|docker0|br-[0-9a-f]{12}|veth[0-9a-f]+)\b")


def _out(*argv: str) -> str:
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False).stdout
    except FileNotFoundError:
        return ""


def _lines(text: str) -> list[str]:
    return sorted(line.strip() for line in text.splitlines() if line.strip() and not DOCKER_OWN.search(line))


def _sysctls() -> list[str]:
    names = list(SYSCTL_FILES)
    for folder in SYSCTL_DIRS:
        base = SYSCTL / folder
        if base.is_dir():
            names += [str(p.relative_to(SYSCTL)) for p in sorted(base.rglob("*")) if p.is_file()]
    values = []
    for name in names:
        if any(m in name for m in MOVING_SYSCTLS):
            continue
        try:
            values.append(f"{name} = {(SYSCTL / name).read_text().strip()}")
        except OSError:
            continue  # write-only or not readable here
    return values


def snapshot() -> dict[str, list[str]]:
    """Everything compared before and after the real-node suite, one sorted list of lines per part."""
    state: dict[str, list[str]] = {
        "routes": _lines(re.sub(r"\s+expires \S+", "", _out("ip", "-4", "route", "show", "table", "all")
                                + _out("ip", "-6", "route", "show", "table", "all"))),
        "policy rules": _lines(_out("ip", "-4", "rule", "show") + _out("ip", "-6", "rule", "show")),
        "addresses": _lines("\n".join(" ".join(line.split()[1:4]) for line in _out("ip", "-o", "addr").splitlines())),
        "links": _lines("\n".join(line.split(":")[1].split("@")[0].strip()
                                  for line in _out("ip", "-o", "link").splitlines() if ":" in line)),
        "sysctls": _sysctls(),
        "nft tables": _lines(_out("nft", "list", "tables")),
    }
    for binary in ("iptables", "ip6tables"):
        for table in ("filter", "nat", "mangle"):
            state[f"{binary} {table}"] = _lines(_out(binary, "-w", "-t", table, "-S"))
    return state


def differences(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    """What `after` has that `before` had not (+) and the reverse (-), part by part."""
    found = []
    for part in before.keys() | after.keys():
        old, new = set(before.get(part, [])), set(after.get(part, []))
        found += [f"{part}: + {line}" for line in sorted(new - old)]
        found += [f"{part}: - {line}" for line in sorted(old - new)]
    return sorted(found)


def run(*argv: str) -> None:
    out = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 0, f"{' '.join(argv)}: {out.stderr}"


@dataclass
class ForeignChanges:
    """What another program does to the host while the sandbox is up; `down` must leave all of it.

    A chain of its own with a rule, a rule in a built-in chain jumping into it
    (iptables and ip6tables), a route in a table of its own, and a kernel
    setting the kubelet also sets, given a new value.
    """

    sysctl: str = "kernel/keys/root_maxkeys"
    sysctl_value: str = ""
    made: bool = False
    rules: list[tuple[str, ...]] = field(default_factory=lambda: [
        ("iptables", "-t", "filter", "-A", "OTHER-PROGRAM", "-s", "198.51.100.7/32", "-j", "DROP"),
        ("iptables", "-t", "filter", "-A", "INPUT", "-s", "198.51.100.8/32", "-m", "comment", "--comment",
         "another program", "-j", "OTHER-PROGRAM"),
        ("ip6tables", "-t", "filter", "-A", "OTHER-PROGRAM", "-s", "2001:db8::7/128", "-j", "DROP"),
        ("ip6tables", "-t", "filter", "-A", "FORWARD", "-s", "2001:db8::8/128", "-j", "OTHER-PROGRAM"),
    ])
    route: tuple[str, ...] = ("blackhole", "198.51.100.0/24", "table", "4242")

    def make(self) -> None:
        for binary in ("iptables", "ip6tables"):
            run(binary, "-w", "-t", "filter", "-N", "OTHER-PROGRAM")
        for binary, *rule in self.rules:
            run(binary, "-w", *rule)
        run("ip", "route", "add", *self.route)
        current = int((SYSCTL / self.sysctl).read_text())
        self.sysctl_value = str(current + 7)
        (SYSCTL / self.sysctl).write_text(self.sysctl_value)
        self.made = True

    def missing(self) -> list[str]:
        """What of it is gone (after `down` this must be empty)."""
        gone = []
        for binary, *rule in self.rules:
            check = ["-C" if t == "-A" else t for t in rule]
            if subprocess.run([binary, "-w", *check], capture_output=True, check=False, timeout=30).returncode != 0:
                gone.append(f"{binary} rule {' '.join(rule)}")
        table = _out("ip", "route", "show", "table", self.route[-1])
        if self.route[1] not in table:
            gone.append(f"route {' '.join(self.route)}")
        now = (SYSCTL / self.sysctl).read_text().strip()
        if now != self.sysctl_value:
            gone.append(f"{self.sysctl} = {now} (another program set {self.sysctl_value})")
        return gone

    def undo(self, before: dict[str, list[str]]) -> None:
        """The other program goes away: its rules, chain and route removed, the setting back as before the suite."""
        for binary, *rule in reversed(self.rules):
            subprocess.run([binary, "-w", *["-D" if t == "-A" else t for t in rule]], capture_output=True, check=False)
        for binary in ("iptables", "ip6tables"):
            subprocess.run([binary, "-w", "-t", "filter", "-X", "OTHER-PROGRAM"], capture_output=True, check=False)
        subprocess.run(["ip", "route", "del", *self.route], capture_output=True, check=False)
        old = next((line.split(" = ", 1)[1] for line in before["sysctls"] if line.startswith(f"{self.sysctl} = ")), None)
        if old is not None:
            (SYSCTL / self.sysctl).write_text(old)
