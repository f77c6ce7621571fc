"""Cut a namespace off the network and restore it: a deny-all NetworkPolicy, added and removed.

This is the runbook's "Isolate — cut network access" step for a compromise.
Enforcement is the CNI's job; on a cluster without a policy-enforcing CNI (or
the kwok sandbox) the policy is recorded but not enforced, which the drill
reports rather than assumes.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.platform.client import Cluster, ObjectNotFound, namespaced
from harness.platform.manifests import apply_objects

ISOLATION_POLICY = "sentinel-drill-isolate"


@dataclass(frozen=True)
class IsolationResult:
    namespace: str
    policy: str
    changed: bool


def isolation_policy(namespace: str, name: str = ISOLATION_POLICY) -> dict[str, object]:
    """The deny-all policy: every pod selected, no ingress or egress rule allowed."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "sentinel-drill"},
            "annotations": {"sentinel-drill/purpose": "incident isolation: deny all ingress and egress"},
        },
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }


def is_isolated(cluster: Cluster, *, namespace: str, name: str = ISOLATION_POLICY) -> bool:
    """True while the deny-all policy exists in `namespace`."""
    try:
        cluster.get(namespaced("networking.k8s.io/v1", "networkpolicies", namespace, name))
    except ObjectNotFound:
        return False
    return True


def isolate_namespace(
    cluster: Cluster, *, namespace: str, name: str = ISOLATION_POLICY, dry_run: bool = False
) -> IsolationResult:
    """Add the deny-all NetworkPolicy to `namespace` (idempotent); its rollback is unisolate_namespace."""
    existed = is_isolated(cluster, namespace=namespace, name=name)
    apply_objects(cluster, [isolation_policy(namespace, name)], dry_run=dry_run)
    return IsolationResult(namespace, name, changed=not existed)


def unisolate_namespace(
    cluster: Cluster, *, namespace: str, name: str = ISOLATION_POLICY, dry_run: bool = False
) -> IsolationResult:
    """Remove the deny-all NetworkPolicy (idempotent: absent is fine)."""
    try:
        cluster.request(
            "DELETE", namespaced("networking.k8s.io/v1", "networkpolicies", namespace, name),
            query={"dryRun": "All"} if dry_run else None,
            what=f"networkpolicy {namespace}/{name}",
        )
    except ObjectNotFound:
        return IsolationResult(namespace, name, changed=False)
    return IsolationResult(namespace, name, changed=True)
