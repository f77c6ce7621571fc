"""What `make` runs on a clean machine, and in which order, read from its own dry run.

`make -n --trace GOAL` with the caches in an empty directory (SENTINEL_DRILL_CACHE) and a venv that does
not exist prints every step a first run takes. A fresh machine once failed after 16 minutes because two
apt runs started side by side (the node binaries' packages beside the images' debootstrap, under the
parallel sub-make of real-node-parts): Debian packages are installed by one step, before anything runs
in parallel, and nothing a run does not use is built.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.sandbox.images import node_images
from harness.sandbox.state import REPO_ROOT

#: an apt install on a command line, however spelled (`apt-get install`, `$SUDO apt-get -o … install`, `apt install`)
APT_INSTALL = re.compile(r"\bapt(?:-get)?\b[^;&|\n]*\binstall\b")
#: apt run from a script's code
APT_CALL = re.compile(r"\bapt(?:-get)?\s")
#: a parallel make: -j with no number or one above 1, or --jobs
PARALLEL = re.compile(r"(?:^|\s)(?:-j(?:\s|$|[2-9]|\d\d)|--jobs\b)")
SCRIPT = re.compile(r"\btools/[\w.-]+\.sh\b")
COMMAND_SEPARATORS = re.compile(r";|&&|\|\||\|")
QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")  # a message that names a command does not run it
TRAILING_COMMENT = re.compile(r"\s#.*")
INSTALLER = "tools/install-system-packages.sh"


def _code(path: Path) -> list[str]:
    """The file's lines of shell code: no comments, no quoted strings."""
    return [TRAILING_COMMENT.sub("", QUOTED.sub("", line)) for line in path.read_text().splitlines()
            if not line.lstrip().startswith("#")]


def _installs_packages(command: str) -> bool:
    """This shell command (quotes removed) runs apt install, or a tools/ script that runs apt (a --check does not)."""
    if APT_INSTALL.search(command):
        return True
    return "--check" not in command and any(APT_CALL.search(line) for script in SCRIPT.findall(command)
                                            for line in _code(REPO_ROOT / script))


def _dry_run(goal: str, tmp_path: Path, venv: Path | None = None, **env: str) -> list[str]:
    """The lines `make -n --trace GOAL` prints on a clean tree: nothing cached, no venv (unless given)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS", "DRILL_"))}
    clean.update(SENTINEL_DRILL_CACHE=str(tmp_path / "cache"), **env)
    out = subprocess.run(["make", "-n", "--trace", goal, f"VENV={venv or tmp_path / 'venv'}"], cwd=REPO_ROOT,
                         env=clean, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert not (tmp_path / "cache").exists(), "a dry run built something"
    return out.stdout.splitlines()


@pytest.mark.parametrize("goal", ["drill", "test"])
def test_at_most_one_apt_install_and_it_comes_before_any_parallel_step(goal: str, tmp_path: Path) -> None:
    lines = _dry_run(goal, tmp_path)
    installs = [(i, line) for i, line in enumerate(lines)
                if any(_installs_packages(c) for c in COMMAND_SEPARATORS.split(QUOTED.sub("", line)))]
    parallel = [i for i, line in enumerate(lines) if PARALLEL.search(line)]
    assert len(installs) <= 1, f"make {goal} runs apt {len(installs)} times: " + " | ".join(
        line.strip()[:120] for _, line in installs)
    if installs and parallel:
        assert installs[0][0] < parallel[0], (
            f"make {goal} installs packages after a parallel step starts: {lines[parallel[0]].strip()[:120]} "
            f"comes before {installs[0][1].strip()[:120]}")


def test_the_one_install_step_is_the_package_list_installer(tmp_path: Path) -> None:
    """Every goal that needs packages gets them from the installer, first among the recipes that need them."""
    lines = _dry_run("drill", tmp_path)
    assert INSTALLER in lines, "make drill does not run the package installer"
    assert _installs_packages(INSTALLER)
    first_build = next(i for i, line in enumerate(lines) if SCRIPT.search(line) and INSTALLER not in line)
    assert lines.index(INSTALLER) < first_build


def test_no_apt_call_outside_the_installer() -> None:
    """Makefile, mk/, tools/, .ci/run and CI name packages and `make system-packages`; only the installer runs apt
    (the Dockerfiles build images, not this machine)."""
    files = [REPO_ROOT / "Makefile", REPO_ROOT / ".ci" / "run", REPO_ROOT / ".github" / "workflows" / "ci.yml",
             *sorted((REPO_ROOT / "mk").glob("*.mk")), *sorted((REPO_ROOT / "tools").glob("*.sh"))]
    calls = [f"{path.relative_to(REPO_ROOT)}: {line.strip()}" for path in files if path.name != Path(INSTALLER).name
             for line in _code(path) if APT_CALL.search(line)]
    assert calls == []


@pytest.mark.parametrize("goal", ["drill", "restore-test", "drill-all", "verify-backup", "coverage"])
def test_a_drill_builds_no_helm_and_only_the_node_images(goal: str, tmp_path: Path) -> None:
    drill = "\n".join(_dry_run(goal, tmp_path))
    assert "build-helm-bin.sh" not in drill
    assert "tools/build-images.sh --nodes" in drill


def test_make_test_builds_helm_and_every_image(tmp_path: Path) -> None:
    lines = _dry_run("test", tmp_path)
    assert "tools/build-helm-bin.sh" in lines  # tests/unit/test_deploy_methods.py, the staging drill's helm deploy
    assert "tools/build-images.sh" in lines  # the trixie Redis of tests/integration/test_restore_rdb_versions.py


def test_make_drill_builds_helm_when_the_configuration_deploys_with_it(tmp_path: Path) -> None:
    venv = Path(sys.prefix)  # the configuration is read with the harness, so this needs a venv that has it
    lines = _dry_run("drill", tmp_path, venv=venv, DRILL_DEPLOY_METHOD="helm", DRILL_HELM_CHART="deploy/chart")
    assert "tools/build-helm-bin.sh" in lines


def test_the_node_images_are_the_ones_real_nodes_run() -> None:
    out = subprocess.run(["bash", str(REPO_ROOT / "tools" / "build-images.sh"), "--nodes", "--print"],
                         capture_output=True, text=True, timeout=30, check=True)
    assert set(out.stdout.split()) == {"local/debian:bookworm", *node_images()}


def test_the_parallel_step_does_not_lock_stdout(tmp_path: Path) -> None:
    """`--output-sync` makes GNU make (4.3) lock its stdout; /dev/null is one inode for every process, and dockerd
    holds a lock on its stdin, /dev/null: `make drill >/dev/null` (a cron job) then waited forever."""
    parallel = [line for line in _dry_run("drill", tmp_path) if PARALLEL.search(line)]
    assert parallel and not any("--output-sync" in line or " -O" in line for line in parallel), parallel
