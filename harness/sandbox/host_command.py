"""The one place the sandbox runs `ip`, `iptables`, `ip6tables` and `nft` on this host (tests fake `run`)."""

from __future__ import annotations

import subprocess

from harness.redaction import child_environment
from harness.sandbox.state import SandboxError


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a host network command; with `check`, a failure raises SandboxError naming the command.

    Without `check` a command that is not installed answers like a shell would (exit 127, nothing printed):
    there is then nothing of it to list or remove.
    """
    try:
        out = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False,
                             env=child_environment())
    except FileNotFoundError:
        if not check:
            return subprocess.CompletedProcess(list(argv), 127, "", f"{argv[0]}: command not found")
        raise SandboxError(f"{argv[0]} is not installed",
                           fix="run `make node-bin` (it installs iproute2, iptables and nftables)") from None
    if check and out.returncode != 0:
        raise SandboxError(f"`{' '.join(argv)}` failed: {out.stderr.strip()[-300:]}",
                           fix="run `sentinel-drill sandbox down` to undo the partial setup, then retry")
    return out
