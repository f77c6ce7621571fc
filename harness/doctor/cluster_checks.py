"""Kubernetes rows: the API answers, it is the pinned cluster, and every verb a scenario needs is allowed.

Read-only: one GET of kube-system and SelfSubjectAccessReviews, which the API
server answers without storing anything.
"""

from __future__ import annotations

from collections import defaultdict

from harness.config import Settings
from harness.doctor.permissions import SCENARIO_NEEDS, Need, scenario_needs
from harness.doctor.rows import Row
from harness.errors import DrillError
from harness.platform.client import Cluster, connect
from harness.safety import PIN_FIX, pinned_identities, read_identity
from harness.target.base import Target

REVIEWS = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


def needing(scenarios: tuple[str, ...], settings: Settings) -> dict[Need, tuple[str, ...]]:
    """Each need of the selected scenarios (with `settings`' Redis URLs) → the scenarios that need it."""
    users: dict[Need, list[str]] = defaultdict(list)
    for scenario in scenarios:
        for need in scenario_needs(scenario, settings):
            users[need].append(scenario)
    order = {"namespace": 0, "dr_namespace": 1, "cluster": 2}
    return {need: tuple(names) for need, names in sorted(
        users.items(), key=lambda item: (order[item[0].scope], item[0].resource_path, item[0].group, item[0].verb))}


def dr_cluster(target: Target) -> Cluster:
    """Where the DR namespace lives: the DR kubeconfig/context when configured, else the target's cluster."""
    settings = target.settings
    if settings.dr_kubeconfig or settings.dr_context:
        return connect(settings.dr_kubeconfig or settings.kubeconfig, settings.dr_context or settings.context)
    return target.cluster()


def namespace_for(need: Need, settings: Settings) -> str | None:
    if need.scope == "cluster":
        return None
    if need.scope == "dr_namespace":
        return settings.dr_namespace or settings.namespace
    return settings.namespace


def api_rows(target: Target, scenarios: tuple[str, ...]) -> tuple[list[Row], Cluster | None]:
    """The API answers and is the cluster the config pinned; returns the connected cluster when it answers."""
    settings = target.settings
    where = f"{settings.kubeconfig or '$KUBECONFIG'} (context {settings.context or 'current'})"
    try:
        cluster = target.cluster()
        seen = read_identity(cluster)
    except DrillError as exc:
        return [Row("kubeconfig / context", f"Kubernetes API through {where}", False, exc.one_line(), scenarios)], None
    rows = [Row("kubeconfig / context", f"Kubernetes API through {where}", True,
                f"answers at {cluster.server}")]
    exempt = target.why_no_pin_needed()
    pinned = pinned_identities(settings)
    if exempt:
        rows.append(Row("pinned_api_server / pinned_kube_system_uid", "the cluster identity", True,
                        f"{seen.describe()}; no pin needed: {exempt}"))
    elif not pinned:
        rows.append(Row("pinned_api_server / pinned_kube_system_uid", "the cluster identity", False,
                        f"nothing pinned (the API is {seen.describe()}); every fault would be refused — {PIN_FIX}",
                        scenarios))
    elif seen in pinned:
        rows.append(Row("pinned_api_server / pinned_kube_system_uid", "the cluster identity", True,
                        f"{seen.describe()} is the pinned cluster"))
    else:
        rows.append(Row("pinned_api_server / pinned_kube_system_uid", "the cluster identity", False,
                        f"the kubeconfig reaches {seen.describe()}, not the pinned "
                        f"{' or '.join(p.describe() for p in pinned)}", scenarios))
    return rows, cluster


def allowed(cluster: Cluster, need: Need, namespace: str | None) -> tuple[bool, str]:
    """Ask the API server whether our credentials may do `need` (SelfSubjectAccessReview; nothing is stored)."""
    attributes = {"group": need.group, "resource": need.resource, "verb": need.verb,
                  "namespace": namespace or ""}
    if need.subresource:
        attributes["subresource"] = need.subresource
    review = cluster.request("POST", REVIEWS, what=f"selfsubjectaccessreview of {need.describe(namespace)}", body={
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attributes}})
    status = review.get("status") or {}
    return bool(status.get("allowed")), str(status.get("reason") or status.get("evaluationError") or "")


def permission_rows(target: Target, cluster: Cluster, scenarios: tuple[str, ...]) -> list[Row]:
    """One row per needed verb: allowed, or denied naming the scenarios it blocks."""
    settings = target.settings
    try:
        dr = dr_cluster(target)
    except DrillError as exc:
        dr_rows = [Row("dr_kubeconfig / dr_context", "the DR cluster's API", False, exc.one_line(),
                       tuple(s for s in scenarios if any(n.scope == "dr_namespace" for n in SCENARIO_NEEDS[s])))]
        dr = None
    else:
        dr_rows = []
    rows: list[Row] = []
    for need, users in needing(scenarios, settings).items():
        namespace = namespace_for(need, settings)
        on = dr if need.scope == "dr_namespace" else cluster
        if on is None:
            continue
        setting = {"cluster": "RBAC (cluster)", "namespace": f"RBAC namespace {namespace}",
                   "dr_namespace": f"RBAC DR namespace {namespace}"}[need.scope]
        try:
            ok, reason = allowed(on, need, namespace)
        except DrillError as exc:
            rows.append(Row(setting, need.describe(namespace), False, exc.one_line(), users))
            continue
        result = "allowed" if ok else "DENIED" + (f" ({reason})" if reason else "")
        rows.append(Row(setting, need.describe(namespace), ok, result, () if ok else users))
    return dr_rows + rows

