"""The README's first step on your cluster, as written: `kubectl apply -k deploy/rbac/` on a cluster that has the
production namespace and nothing else of ours (no DR namespace, no drill namespace), with the real kubectl
against the sandbox's real API server.

The manifests are copied with the namespaces renamed, as the README asks ("edit the namespaces first"): to the
sandbox's namespace for production, to fresh names for the rest, so the test never meets another test's objects.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.platform.client import Cluster, ObjectNotFound
from harness.sandbox import SandboxInfo

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]
RBAC = Path(__file__).resolve().parents[3] / "deploy" / "rbac"


def _edited_copy(tmp_path: Path, production: str, dr: str, drill: str) -> Path:
    out = tmp_path / "rbac"
    shutil.copytree(RBAC, out)
    for path in out.glob("*.yaml"):
        text = re.sub(r"\bsentinel-drill\b", drill, path.read_text())
        text = re.sub(r"\bsentinel-dr\b", dr, text)
        path.write_text(re.sub(r"\bsentinel\b(?!-)", production, text))
    return out


def _kubectl(sandbox_bin_dir: Path, sandbox: SandboxInfo, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(sandbox_bin_dir / "kubectl"), "--kubeconfig", str(sandbox.kubeconfig), "--context",
                           sandbox.context, *args], capture_output=True, text=True, timeout=120, check=False)


def _exists(cluster: Cluster, path: str) -> bool:
    try:
        cluster.request("GET", path)
    except ObjectNotFound:
        return False
    return True


def test_kubectl_apply_k_deploy_rbac_works_on_a_cluster_without_the_dr_namespace(
        cluster: Cluster, sandbox: SandboxInfo, sandbox_bin_dir: Path, tmp_path: Path) -> None:
    suffix = secrets.token_hex(3)
    dr, drill = f"dr-{suffix}", f"drill-{suffix}"
    assert not _exists(cluster, f"/api/v1/namespaces/{dr}")
    rbac = _edited_copy(tmp_path, sandbox.namespace, dr, drill)
    try:
        applied = _kubectl(sandbox_bin_dir, sandbox, "apply", "-k", str(rbac))
        assert applied.returncode == 0, applied.stderr
        assert _exists(cluster, f"/apis/rbac.authorization.k8s.io/v1/namespaces/{dr}/roles/{drill}")
        assert _exists(cluster, f"/apis/rbac.authorization.k8s.io/v1/namespaces/{sandbox.namespace}/rolebindings/{drill}")
        assert _exists(cluster, f"/api/v1/namespaces/{drill}/serviceaccounts/{drill}")
    finally:
        _kubectl(sandbox_bin_dir, sandbox, "delete", "-k", str(rbac), "--ignore-not-found", "--wait=false")
