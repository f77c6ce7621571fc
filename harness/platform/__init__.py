"""Kubernetes operations the drills need, through one explicit client (never ~/.kube/config implicitly).

Modules: client (connect, errors, waits) · workloads (rollouts, scale) · pods
(by zone, delete, replacements) · nodes (cordon, drain by zone) · manifests
(server-side apply) · network (isolate) · config_objects (Secret/ConfigMap
export/import) · endpoints (Service readiness) · redis_volume (the cluster
operations a volume restore needs; the restore itself is harness.restore's).
Kubernetes only: local processes and the sandbox's Redis live in harness.sandbox.
"""

from harness.platform.client import Cluster, ObjectNotFound, connect, connect_settings
from harness.platform.config_objects import export_config_objects, import_config_objects, strip_server_fields
from harness.platform.endpoints import ServiceEndpoints, service_endpoints, wait_for_endpoints
from harness.platform.manifests import AppliedObject, apply_manifests, apply_objects, load_manifests
from harness.platform.network import is_isolated, isolate_namespace, unisolate_namespace
from harness.platform.nodes import (
    CordonResult,
    DrainResult,
    cordon_zone,
    drain_zone,
    nodes_in_zone,
    uncordon_zone,
    unschedulable_nodes,
)
from harness.platform.pods import (
    DeletedPods,
    PodInfo,
    Replacements,
    delete_pods,
    list_pods,
    pods_by_zone,
    serving_count,
    wait_for_pods_gone,
    wait_for_replacements,
)
from harness.platform.workloads import RolloutStatus, ScaleResult, rollout_status, scale, wait_for_rollout
from harness.polling import WaitTimedOut

__all__ = [
    "AppliedObject", "Cluster", "CordonResult", "DeletedPods", "DrainResult",
    "ObjectNotFound", "PodInfo",
    "Replacements", "RolloutStatus", "ScaleResult", "ServiceEndpoints", "WaitTimedOut",
    "apply_manifests", "apply_objects", "connect", "connect_settings", "cordon_zone", "delete_pods",
    "drain_zone", "export_config_objects", "import_config_objects", "is_isolated", "isolate_namespace",
    "list_pods", "load_manifests", "nodes_in_zone", "pods_by_zone", "rollout_status",
    "scale", "service_endpoints", "serving_count", "strip_server_fields", "uncordon_zone",
    "unisolate_namespace", "unschedulable_nodes", "wait_for_endpoints", "wait_for_pods_gone",
    "wait_for_replacements", "wait_for_rollout",
]
