"""The build scripts' version check is not a race.

A cold `make drill` failed with "etcd --version does not report 3.6.16: etcd Version: 3.6.16": under
`set -o pipefail`, `etcd --version | grep -qF …` fails whenever grep exits on its first match before
etcd has written its last line (etcd gets SIGPIPE, the pipeline takes its status). The scripts now
capture the output first and search that (`expect_version` in tools/bin-build-common.sh).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from harness.sandbox.state import REPO_ROOT

TOOLS = REPO_ROOT / "tools"


def _chatty_binary(tmp_path: Path) -> Path:
    """A binary that reports its version first and then writes more than a pipe holds, as a slow etcd can."""
    fake = tmp_path / "etcd"
    fake.write_text("#!/usr/bin/env bash\necho 'etcd Version: 3.6.16'\nhead -c 400000 /dev/zero | tr '\\0' 'x'\necho\n")
    fake.chmod(0o755)
    return fake


def _bash(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          check=False)


def test_a_piped_grep_q_under_pipefail_fails_on_a_matching_version(tmp_path: Path) -> None:
    """The old check, kept here as the reproduction: the version matches and the pipeline still fails."""
    _chatty_binary(tmp_path)
    old = _bash("set -euo pipefail; ./etcd --version | grep -qF 'etcd Version: 3.6.16'", tmp_path)
    assert old.returncode != 0


def test_expect_version_accepts_a_matching_version_however_much_the_binary_writes(tmp_path: Path) -> None:
    _chatty_binary(tmp_path)
    script = (f"set -euo pipefail; BIN_BUILD_NAME=build-test; source {TOOLS}/bin-build-common.sh; "
              f"TMP_DIR={tmp_path}; expect_version etcd 'etcd Version: 3.6.16' --version; echo ok")
    done = _bash(script, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_expect_version_names_the_binary_and_what_it_reported_when_it_differs(tmp_path: Path) -> None:
    _chatty_binary(tmp_path)
    script = (f"set -euo pipefail; BIN_BUILD_NAME=build-test; source {TOOLS}/bin-build-common.sh; "
              f"TMP_DIR={tmp_path}; expect_version etcd 'etcd Version: 3.7.0' --version")
    done = _bash(script, tmp_path)
    assert done.returncode == 1
    assert "build-test: error: etcd --version does not report 'etcd Version: 3.7.0': etcd Version: 3.6.16" in done.stderr


def test_no_tools_script_pipes_into_grep_q() -> None:
    """grep -q closes the pipe early; with pipefail that fails the writer's side of a successful match."""
    offenders = [f"{path.name}:{n}" for path in sorted(TOOLS.glob("*.sh"))
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if not line.lstrip().startswith("#") and re.search(r"\|\s*grep\s+-[a-zA-Z]*q", line)]
    assert offenders == []
