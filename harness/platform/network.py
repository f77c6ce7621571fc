"""Cut a namespace off the network and restore it: a deny-all NetworkPolicy, added and removed.

This is the runbook's "Isolate — cut network access" step for a compromise.
Enforcement is the CNI's job; on a cluster without a policy-enforcing CNI (or
the kwok sandbox) the policy is recorded but not enforced, which the drill
reports rather than assumes.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from harness.platform.client import Cluster, ObjectNotFound, namespaced
from harness.platform.manifests import apply_objects
from harness.polling import wait_until

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


@dataclass(frozen=True)
class ConnectionAttempt:
    """A probe pod's try to reach `host:port` from inside the namespace: `connected` means isolation failed."""

    pod: str
    host: str
    port: int
    phase: str

    @property
    def connected(self) -> bool:
        return self.phase == "Succeeded"

    def to_json(self) -> dict[str, object]:
        return {"pod": self.pod, "host": self.host, "port": self.port, "phase": self.phase,
                "connected": self.connected}


def _connect_script(host: str, port: int) -> str:
    """`nc -z` where the image has it, else bash's /dev/tcp (Debian-based images ship bash, not netcat)."""
    target = f"{shlex.quote(host)} {port}"
    return (f"if command -v nc >/dev/null 2>&1; then nc -z -w 3 {target}; "
            f"else timeout 3 bash -c '</dev/tcp/{host}/{port}'; fi")


def connection_attempt(cluster: Cluster, *, namespace: str, image: str, host: str, port: int,
                       timeout: float = 60.0, labels: Mapping[str, str] | None = None) -> ConnectionAttempt:
    """Run a one-shot pod (`nc -z -w 3 host port`, or bash's /dev/tcp) in `namespace` and report whether it connected.

    Where the CNI enforces NetworkPolicy, a deny-all policy makes the pod fail
    (no egress, and the target admits no ingress); a pod that connects proves
    the isolation is only on paper. The pod is deleted afterwards.
    """
    name = f"drill-isolation-probe-{datetime.now(UTC):%H%M%S%f}"
    body = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "sentinel-drill", **(labels or {})}},
            # the namespace enforces the "restricted" Pod Security Standard: so must the probe, or it is refused
            "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                     "automountServiceAccountToken": False,
                     "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                                         "seccompProfile": {"type": "RuntimeDefault"}},
                     "containers": [{"name": "probe", "image": image,
                                     "command": ["sh", "-c", _connect_script(host, int(port))],
                                     "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                                     "securityContext": {"allowPrivilegeEscalation": False,
                                                         "capabilities": {"drop": ["ALL"]}}}]}}
    path = namespaced("v1", "pods", namespace)
    cluster.request("POST", path, body=body, what=f"pod {namespace}/{name}")
    try:
        def finished() -> str | None:
            phase = str((cluster.get(f"{path}/{name}").get("status") or {}).get("phase") or "Pending")
            return phase if phase in ("Succeeded", "Failed") else None

        phase = wait_until(finished, timeout=timeout, interval=0.5, what=f"isolation probe pod {name} finished",
                           describe=lambda: "still running")
    finally:
        try:
            cluster.request("DELETE", f"{path}/{name}", body={"gracePeriodSeconds": 0})
        except ObjectNotFound:
            pass
    return ConnectionAttempt(name, host, int(port), phase)
