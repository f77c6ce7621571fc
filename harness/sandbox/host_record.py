"""What the real-node sandbox changed on this host, written down before each change, outside every state dir.

One record per host (only one real-node pool runs on a host): RECORD_DIR/hostnet.json.
It names the state dir that owns it, so `sandbox down` repairs the host after a
crash, after `kill -9` of `sandbox up`, or with that state dir deleted. It also
names the boot it was written in: routes, addresses, rules and kernel settings
do not survive a reboot, so a record from an earlier boot describes nothing
and is dropped rather than replayed over what the host set since.

Whoever creates the record holds the host's real-node pool (node_pool.claim_host).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

RECORD_DIR = Path("/run/sentinel-drill")
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
LEGACY_NAME = "hostnet.json"  # where a state dir kept the record before it moved to the host


def record_file() -> Path:
    return RECORD_DIR / "hostnet.json"


def booted_at() -> float:
    """When this host booted (seconds since the epoch)."""
    try:
        return float(next(line.split()[1] for line in Path("/proc/stat").read_text().splitlines()
                          if line.startswith("btime ")))
    except (OSError, StopIteration, ValueError):
        return 0.0


def boot_id() -> str:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return ""


@dataclass
class HostRecord:
    """The sandbox's changes to this host, each saved before it is made."""

    owner: str  # the state dir holding the pool
    boot: str = field(default_factory=boot_id)
    addresses: list[str] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    sysctls: dict[str, dict[str, str]] = field(default_factory=dict)  # name → {"before", "set"}
    chains_before: dict[str, list[str]] | None = None  # "<binary>:<table>" → chains, read before the first change
    bridges_before: list[str] | None = None
    nft_tables_before: list[str] | None = None
    jumps: list[list[str]] = field(default_factory=list)  # [binary, table, chain, *rule] into our own chains

    def save(self) -> None:
        RECORD_DIR.mkdir(parents=True, exist_ok=True)
        path = record_file()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1))
        os.replace(tmp, path)

    def owned_by(self, state_dir: Path) -> bool:
        return self.owner == str(state_dir)

    def orphaned(self) -> bool:
        """Its owner's state dir is gone: nobody else can ever undo these changes."""
        return not Path(self.owner).is_dir()

    def forget(self) -> None:
        record_file().unlink(missing_ok=True)


def _from_json(data: Mapping[str, object]) -> HostRecord:
    known = {k: v for k, v in data.items() if k in HostRecord.__dataclass_fields__}
    return HostRecord(**known)  # type: ignore[arg-type]


def load() -> HostRecord | None:
    """This host's record; None when there is none, or it was written before the last reboot (then dropped)."""
    try:
        record = _from_json(json.loads(record_file().read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if record.boot != boot_id():
        record.forget()
        return None
    return record


def adopt_legacy(state_dir: Path, set_values: Mapping[str, str]) -> HostRecord | None:
    """A record a sandbox of an earlier version kept in its state dir, moved to the host (`set_values`: the
    value the sandbox or its kubelet sets for each kernel setting it recorded)."""
    legacy = state_dir / LEGACY_NAME
    try:
        if legacy.stat().st_mtime < booted_at():
            legacy.unlink()  # written before the last reboot: what it describes is gone
            return None
        data = json.loads(legacy.read_text())
    except (OSError, ValueError):
        return None
    before = data.get("chains_before") or {}
    record = HostRecord(
        owner=str(state_dir), addresses=list(data.get("addresses", [])), routes=list(data.get("routes", [])),
        sysctls={name: {"before": value, "set": set_values[name]} for name, value in data.get("sysctls", {}).items()
                 if name in set_values and value != set_values[name]},
        chains_before={k if ":" in k else f"iptables:{k}": v for k, v in before.items()} or None,
        bridges_before=[],
        jumps=[["iptables", *j] for j in data.get("jumps", [])])
    record.save()
    legacy.unlink(missing_ok=True)
    return record


@contextmanager
def locked() -> Iterator[None]:
    """One claim or release of the host at a time."""
    RECORD_DIR.mkdir(parents=True, exist_ok=True)
    with open(RECORD_DIR / "hostnet.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
