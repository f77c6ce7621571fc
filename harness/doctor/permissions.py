"""The Kubernetes verbs each scenario needs, in one typed table, and their check by SelfSubjectAccessReview.

Derived from what the code sends (harness/platform, harness/chaos, harness/drills,
harness/restore): scenario 1 deletes pods and scales deployments; scenario 2
cordons nodes (a node PATCH), lists every pod on them and evicts them whatever
their namespace; scenarios 3 and 4 server-side apply the stack into the DR
namespace (an apply PATCH that creates needs `create` too), restore Redis through
a helper pod (create, exec, delete; the StatefulSet scaled through /scale) and
tear it down again; scenario 4 also isolates production with a NetworkPolicy and
rotates the DR namespace's Secrets; scenarios 3 and 4 ask the backup CronJob for
a backup (a Job from its template, unless request_pipeline_backup is false); a k8s:// Redis URL adds pods/portforward. deploy/rbac/ grants exactly this table
(tests/unit/test_rbac_manifests.py holds the two together).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from harness.config import Settings
from harness.platform.port_forward import is_k8s_url

#: where a need applies: production's namespace, the DR namespace, or the whole cluster (ClusterRole)
NamespaceSetting = Literal["namespace", "dr_namespace", "cluster"]

SCENARIOS = ("scenario-1", "scenario-2", "scenario-3", "scenario-4")


@dataclass(frozen=True, order=True)
class Need:
    """One verb on one resource a scenario sends; `scope` says which namespace setting it lands in."""

    group: str
    resource: str
    subresource: str
    verb: str
    scope: NamespaceSetting

    @property
    def resource_path(self) -> str:
        """RBAC's spelling: `pods/eviction`."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    def describe(self, namespace: str | None) -> str:
        group = f"{self.group}/" if self.group else ""
        where = f"in namespace {namespace}" if namespace else "cluster-wide"
        return f"{self.verb} {group}{self.resource_path} {where}"


def _needs(scope: NamespaceSetting, group: str, resource: str, verbs: str, subresource: str = "") -> list[Need]:
    return [Need(group, resource, subresource, verb, scope) for verb in verbs.split()]


#: what every scenario reads before and while it breaks anything (preconditions, probes, the Gateway's key)
_READ_PRODUCTION = [
    *_needs("namespace", "", "pods", "get list"),
    *_needs("namespace", "apps", "deployments", "get list"),
    *_needs("namespace", "apps", "statefulsets", "get"),
    *_needs("namespace", "", "services", "get"),
    *_needs("namespace", "", "configmaps", "get list"),
    *_needs("namespace", "", "secrets", "get list"),
    *_needs("namespace", "", "persistentvolumeclaims", "get"),
    *_needs("namespace", "discovery.k8s.io", "endpointslices", "list"),
    *_needs("namespace", "networking.k8s.io", "networkpolicies", "get"),
    *_needs("cluster", "", "namespaces", "get"),  # the identity check reads kube-system's UID
    *_needs("cluster", "", "nodes", "list"),  # pods' zones
]

#: the stack's namespaced kinds, server-side applied into the DR namespace and deleted at the end of recovery
_STACK_KINDS = (("", "configmaps"), ("", "secrets"), ("", "services"), ("apps", "deployments"),
                ("apps", "statefulsets"), ("policy", "poddisruptionbudgets"))

_RESTORE_INTO_DR = [
    *[need for group, kind in _STACK_KINDS for need in _needs("dr_namespace", group, kind, "get create patch delete")],
    *_needs("cluster", "", "namespaces", "patch"),  # the stack's Namespace object is applied too
    *_needs("dr_namespace", "", "pods", "get list create delete"),  # the volume-restore helper pod
    *_needs("dr_namespace", "", "pods", "get create", "exec"),  # websocket exec: a GET that must also be allowed create
    *_needs("dr_namespace", "apps", "statefulsets", "get patch", "scale"),
    *_needs("dr_namespace", "", "persistentvolumeclaims", "get"),
    *_needs("dr_namespace", "discovery.k8s.io", "endpointslices", "list"),
    *_needs("cluster", "", "persistentvolumes", "get"),
]

#: scenario → every (group, resource, subresource, verb, namespace setting) its code sends
SCENARIO_NEEDS: dict[str, tuple[Need, ...]] = {
    "scenario-1": tuple(sorted({
        *_READ_PRODUCTION,
        *_needs("namespace", "", "pods", "delete"),
        *_needs("namespace", "apps", "deployments", "get patch", "scale"),
    })),
    "scenario-2": tuple(sorted({
        *_READ_PRODUCTION,
        *_needs("cluster", "", "nodes", "get list patch"),  # cordon / uncordon
        *_needs("cluster", "", "pods", "list"),  # every pod on the zone's nodes, any namespace
        *_needs("cluster", "", "pods", "create", "eviction"),  # drain evicts them wherever they run
        *_needs("namespace", "apps", "deployments", "get patch", "scale"),
    })),
    "scenario-3": tuple(sorted({*_READ_PRODUCTION, *_RESTORE_INTO_DR})),
    "scenario-4": tuple(sorted({
        *_READ_PRODUCTION,
        *_RESTORE_INTO_DR,
        *_needs("namespace", "networking.k8s.io", "networkpolicies", "get create patch delete"),  # isolation
        *_needs("namespace", "", "services", "list"),  # the assessment: what changed since the last export
        *_needs("namespace", "apps", "statefulsets", "list"),
    })),
}

#: only with a k8s:// redis_url (dr_redis_url for the DR namespace): harness/platform/port_forward.py opens a
#: websocket port-forward, a GET that must also be allowed create; every scenario's canary writes to Redis
PORT_FORWARD: dict[NamespaceSetting, tuple[Need, ...]] = {
    scope: tuple(_needs(scope, "", "pods", "get create", "portforward")) for scope in ("namespace", "dr_namespace")}
_RECOVERING_IN_DR = ("scenario-3", "scenario-4")
#: scenarios 3 and 4 with request_pipeline_backup (the default): a Job from the backup CronJob's template in
#: production's namespace (harness/platform/jobs.py), waited for, the backup id read from its pod's log
PIPELINE_BACKUP_JOB: tuple[Need, ...] = tuple(sorted({
    *_needs("namespace", "batch", "cronjobs", "get"),
    *_needs("namespace", "batch", "jobs", "get create"),
    *_needs("namespace", "", "pods", "list"),
    *_needs("namespace", "", "pods", "get", "log"),
}))


def scenario_needs(scenario: str, settings: Settings) -> tuple[Need, ...]:
    """SCENARIO_NEEDS[scenario] plus pods/portforward where the configured Redis URL is k8s://, plus the backup
    CronJob's Job where scenarios 3 and 4 ask the pipeline for their backup."""
    extra: list[Need] = []
    if scenario in _RECOVERING_IN_DR and settings.request_pipeline_backup:
        extra += PIPELINE_BACKUP_JOB
    if is_k8s_url(settings.redis_url):
        extra += PORT_FORWARD["namespace"]
    if scenario in _RECOVERING_IN_DR and is_k8s_url(settings.dr_redis_url):
        extra += PORT_FORWARD["dr_namespace"]
    return tuple(sorted({*SCENARIO_NEEDS[scenario], *extra}))


#: asked of the API by `doctor` itself; granted to the ServiceAccount by its ClusterRole
SELF_REVIEW = Need("authorization.k8s.io", "selfsubjectaccessreviews", "", "create", "cluster")

#: verbs that only read
READ_VERBS = frozenset({"get", "list", "watch"})


def all_needs() -> frozenset[Need]:
    """Everything any configuration needs (deploy/rbac/ grants it: drop pods/portforward if Redis is redis://)."""
    return (frozenset(n for needs in SCENARIO_NEEDS.values() for n in needs) | {SELF_REVIEW}
            | {n for needs in PORT_FORWARD.values() for n in needs} | set(PIPELINE_BACKUP_JOB))
