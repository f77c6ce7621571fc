"""tools/install-system-packages.sh: only what is missing, in one apt run, waiting for apt's locks.

apt itself cannot run in a test (it would change this machine), so `apt-get`, `sudo` and `id` are small
scripts on a PATH that holds nothing else but the shell tools the installer uses; the fake apt-get logs
every call and "installs" a package by creating the file the list checks for.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.sandbox.state import REPO_ROOT

INSTALLER = REPO_ROOT / "tools" / "install-system-packages.sh"
SHELL_TOOLS = ("bash", "env", "cat", "grep", "tail", "sleep", "mkdir", "dirname", "sed", "true", "rm")
FAKE_APT = """#!/bin/bash
echo "$*" >>"$FAKE/apt-calls"
if [[ " $* " == *" update "* && -f "$FAKE/lists-busy" ]]; then
  n=$(cat "$FAKE/lists-busy"); echo $((n - 1)) >"$FAKE/lists-busy"; [[ $n -le 1 ]] && rm "$FAKE/lists-busy"
  echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)" >&2; exit 100
fi
if [[ " $* " == *" install "* ]]; then
  for a in "$@"; do [[ "$a" == -* || "$a" == install || "$a" == *=* ]] || : >"$FAKE/installed/$a"; done
fi
"""


@dataclass
class Host:
    root: Path
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.root / "bin" / "bash"), str(INSTALLER), *args], env=self.env,
                              capture_output=True, text=True, timeout=60, check=False)

    def apt_calls(self) -> list[str]:
        calls = self.root / "apt-calls"
        return calls.read_text().splitlines() if calls.exists() else []


def _script(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def _host(tmp_path: Path, *, uid: int = 0, apt: bool = True, sudo: bool = False,
          missing: tuple[str, ...] = ()) -> Host:
    """A PATH with the shell tools, `id -u` = uid, optionally apt-get and a password-less sudo; a list of three
    packages (two every-run, one real-nodes) whose `missing` ones have no file yet."""
    bin_dir, installed = tmp_path / "bin", tmp_path / "installed"
    bin_dir.mkdir()
    installed.mkdir()
    for tool in SHELL_TOOLS:
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    _script(bin_dir / "id", f"#!/bin/bash\necho {uid}\n")
    if apt:
        _script(bin_dir / "apt-get", FAKE_APT)
    if sudo:
        _script(bin_dir / "sudo", '#!/bin/bash\n[[ "$1" == -n ]] && shift\necho "sudo $*" >>"$FAKE/sudo-calls"\nexec "$@"\n')
    packages = {"redis-server": "every-run", "poppler-utils": "every-run", "docker.io": "real-nodes"}
    (tmp_path / "list.txt").write_text("# a comment line\n\n" + "".join(
        f"{name}  {group}  {installed / name}\n" for name, group in packages.items()))
    for name in packages:
        if name not in missing:
            (installed / name).touch()
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "FAKE": str(tmp_path),
           "SYSTEM_PACKAGES_LIST": str(tmp_path / "list.txt"), "SENTINEL_DRILL_CACHE": str(tmp_path / "cache")}
    return Host(tmp_path, env)


def test_nothing_missing_is_silent_and_runs_no_apt(tmp_path: Path) -> None:
    host = _host(tmp_path)
    out = host.run()
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "")
    assert host.apt_calls() == []


def test_the_missing_packages_are_installed_in_one_apt_run_that_waits_for_the_lock(tmp_path: Path) -> None:
    host = _host(tmp_path, missing=("poppler-utils", "docker.io"))
    out = host.run()
    assert out.returncode == 0, out.stderr
    assert host.apt_calls() == [
        "-o DPkg::Lock::Timeout=600 -qq update",
        "-o DPkg::Lock::Timeout=600 -qq install -y --no-install-recommends poppler-utils docker.io"]
    assert "installing poppler-utils docker.io (apt, one run" in out.stderr
    assert host.run().returncode == 0 and len(host.apt_calls()) == 2, "a second run finds nothing missing"


def test_a_busy_package_list_lock_is_waited_for(tmp_path: Path) -> None:
    """apt does not wait for /var/lib/apt/lists/lock (only for dpkg's): another program's `apt-get update`."""
    host = _host(tmp_path, missing=("redis-server",))
    (tmp_path / "lists-busy").write_text("2")
    out = host.run()
    assert out.returncode == 0, out.stderr
    assert [c.split()[-1] for c in host.apt_calls()] == ["update", "update", "update", "redis-server"]


def test_a_failing_update_stops_with_the_log(tmp_path: Path) -> None:
    host = _host(tmp_path, missing=("redis-server",))
    _script(tmp_path / "bin" / "apt-get", '#!/bin/bash\necho "E: The repository is not signed." >&2; exit 100\n')
    out = host.run()
    assert out.returncode == 1
    assert "E: The repository is not signed." in out.stderr
    assert "system packages: apt-get update failed (log: " in out.stderr


def test_real_node_packages_only_as_root(tmp_path: Path) -> None:
    host = _host(tmp_path, uid=1000, missing=("docker.io",))
    assert host.run().returncode == 0 and host.apt_calls() == []
    out = host.run("--check", "real-nodes")
    assert (out.returncode, out.stdout.strip()) == (1, "missing docker.io (make system-packages installs them)")


def test_not_root_installs_through_sudo(tmp_path: Path) -> None:
    host = _host(tmp_path, uid=1000, sudo=True, missing=("redis-server",))
    out = host.run()
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "sudo-calls").read_text().splitlines()[-1].startswith(
        "sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -qq install")


def test_not_root_without_sudo_names_the_command(tmp_path: Path) -> None:
    host = _host(tmp_path, uid=1000, missing=("redis-server", "poppler-utils"))
    out = host.run()
    assert out.returncode == 1 and host.apt_calls() == []
    assert out.stderr.strip() == ("system packages: missing redis-server poppler-utils; install them as root: "
                                  "apt-get install --no-install-recommends redis-server poppler-utils")


@pytest.mark.parametrize(("missing", "code"), [(("redis-server", "docker.io"), 1), (("docker.io",), 0)])
def test_without_apt_one_line_says_what_is_missing(tmp_path: Path, missing: tuple[str, ...], code: int) -> None:
    """Not Debian: a package every run needs stops the run; real nodes' alone leave the sandbox kwok-only."""
    out = _host(tmp_path, apt=False, missing=missing).run()
    assert out.returncode == code
    assert out.stderr.count("\n") == 1 and "there is no apt-get here" in out.stderr
    assert f"missing {' '.join(missing)} (Debian package names" in out.stderr


def test_every_package_of_the_list_names_a_group_and_a_check() -> None:
    rows = [line.split() for line in (REPO_ROOT / "tools" / "apt-packages.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert rows and all(len(r) == 3 and r[1] in ("every-run", "real-nodes") for r in rows), rows
    names = {r[0] for r in rows}
    assert {"redis-server", "redis-tools", "poppler-utils", "docker.io", "debootstrap", "gcc", "libseccomp-dev",
            "containernetworking-plugins", "iptables", "nftables", "conntrack", "iproute2"} <= names
