"""Kubeconfigs for a ServiceAccount of the sandbox, so tests see exactly what its RBAC allows."""

from __future__ import annotations

from pathlib import Path

import yaml

from harness.platform.client import Cluster, namespaced
from harness.sandbox import SandboxInfo


def token_kubeconfig(cluster: Cluster, sandbox: SandboxInfo, *, namespace: str, account: str, path: Path,
                     context: str = "sa", seconds: int = 900) -> Path:
    """A kubeconfig (0600) for ServiceAccount `namespace/account`: the sandbox's server and CA, a TokenRequest token."""
    review = cluster.request("POST", namespaced("v1", "serviceaccounts", namespace, account) + "/token",
                             body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                   "spec": {"expirationSeconds": seconds}})
    admin = yaml.safe_load(sandbox.kubeconfig.read_text())
    admin_context = next(c["context"] for c in admin["contexts"] if c["name"] == sandbox.context)
    server = next(c["cluster"] for c in admin["clusters"] if c["name"] == admin_context["cluster"])
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "sandbox", "cluster": server}],
        "users": [{"name": account, "user": {"token": review["status"]["token"]}}],
        "contexts": [{"name": context, "context": {"cluster": "sandbox", "user": account}}]}))
    path.chmod(0o600)
    return path
