"""Pure pieces of the platform layer: rollout completeness, endpoint readiness, export stripping, eviction rules."""

from __future__ import annotations

import copy
import io
import tarfile
from pathlib import Path

from harness.platform.config_objects import strip_server_fields
from harness.platform.endpoints import endpoints_from_slices
from harness.platform.manifests import load_manifests
from harness.platform.nodes import _evictable
from harness.platform.pod_exec import _TarStream
from harness.platform.workloads import status_of
from harness.sandbox.state import REPO_ROOT


def deployment(**status: int) -> dict:
    return {"metadata": {"name": "b", "namespace": "s", "generation": 2}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 2, **status}}


def test_a_rollout_is_complete_only_when_every_count_matches_the_latest_generation() -> None:
    full = {"replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3}
    assert status_of("Deployment", deployment(**full)).complete
    assert not status_of("Deployment", deployment(**{**full, "readyReplicas": 2})).complete
    assert not status_of("Deployment", deployment(**{**full, "replicas": 4})).complete  # an old pod lingers
    stale = deployment(**full)
    stale["status"]["observedGeneration"] = 1
    assert not status_of("Deployment", stale).complete


def test_a_statefulset_mid_update_is_not_complete() -> None:
    sts = deployment(replicas=1, updatedReplicas=1, readyReplicas=1, availableReplicas=1)
    sts["spec"]["replicas"] = 1
    sts["status"].update(currentRevision="r1", updateRevision="r2")
    assert not status_of("StatefulSet", sts).complete
    sts["status"]["currentRevision"] = "r2"
    assert status_of("StatefulSet", sts).complete


def test_a_scaled_to_zero_workload_is_complete_with_no_status_counts() -> None:
    zero = deployment()
    zero["spec"]["replicas"] = 0
    assert status_of("Deployment", zero).complete


def test_only_ready_non_terminating_endpoints_of_the_service_count() -> None:
    slices = [
        {"metadata": {"labels": {"kubernetes.io/service-name": "brain"}}, "endpoints": [
            {"addresses": ["10.0.0.1"], "conditions": {"ready": True}},
            {"addresses": ["10.0.0.2"], "conditions": {"ready": False}},
            {"addresses": ["10.0.0.3"], "conditions": {"ready": True, "terminating": True}},
            {"addresses": ["10.0.0.4"], "conditions": {}},  # unset means ready
        ]},
        {"metadata": {"labels": {"kubernetes.io/service-name": "gateway"}},
         "endpoints": [{"addresses": ["10.0.0.9"], "conditions": {"ready": True}}]},
    ]
    eps = endpoints_from_slices("s", "brain", slices)
    assert eps.ready == ("10.0.0.1", "10.0.0.4") and eps.not_ready == ("10.0.0.2", "10.0.0.3") and eps.serving
    assert not endpoints_from_slices("s", "brain", []).serving


def test_an_export_keeps_data_and_drops_what_the_server_owns() -> None:
    secret = {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": {"password": "cHc="},
        "metadata": {"name": "r", "namespace": "s", "uid": "u", "resourceVersion": "9", "creationTimestamp": "t",
                     "managedFields": [{}], "ownerReferences": [{"uid": "x"}], "labels": {"a": "b"},
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
        "status": {},
    }
    original = copy.deepcopy(secret)
    stripped = strip_server_fields(secret)
    assert stripped == {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": {"password": "cHc="},
                        "metadata": {"name": "r", "namespace": "s", "labels": {"a": "b"}}}
    assert secret == original  # the input is not modified


def test_drains_skip_daemonset_static_finished_and_terminating_pods() -> None:
    def pod(**meta: object) -> dict:
        return {"metadata": {"name": "p", "namespace": "s", **meta}, "status": {"phase": "Running"}}

    assert _evictable(pod())
    assert not _evictable(pod(ownerReferences=[{"kind": "DaemonSet"}]))
    assert not _evictable(pod(annotations={"kubernetes.io/config.mirror": "x"}))
    assert not _evictable(pod(deletionTimestamp="now"))
    assert not _evictable({**pod(), "status": {"phase": "Succeeded"}})


def test_the_deploy_kustomization_lists_every_manifest_with_namespace_first() -> None:
    objects = load_manifests(REPO_ROOT / "deploy")
    kinds = [o["kind"] for o in objects]
    assert kinds[0] == "Namespace"
    names = {(o["kind"], o["metadata"]["name"]) for o in objects}
    assert {("Deployment", "sentinel-brain"), ("Deployment", "sentinel-gateway"), ("StatefulSet", "redis"),
            ("Service", "sentinel-brain"), ("Service", "sentinel-gateway"), ("Service", "redis"),
            ("PodDisruptionBudget", "sentinel-brain"), ("Secret", "sentinel-auth"), ("Secret", "sentinel-redis"),
            ("ConfigMap", "sentinel-config")} <= names
    secrets = [o for o in objects if o["kind"] == "Secret"]
    assert all("data" not in s and "stringData" not in s for s in secrets), "secret values are never committed"
    for o in objects:
        if o["kind"] in ("Deployment", "StatefulSet"):
            for c in o["spec"]["template"]["spec"]["containers"]:
                assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]


def test_the_upload_stream_is_one_valid_tar_member(tmp_path: Path) -> None:
    src = tmp_path / "dump.rdb"
    src.write_bytes(bytes(range(256)) * 4099)
    stream = _TarStream(src, ".dump.rdb.upload")
    data = b"".join(iter(lambda: stream.read(65536), b""))
    assert len(data) == stream.total and stream.total % tarfile.RECORDSIZE == 0
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.extractfile(".dump.rdb.upload")
        assert member is not None and member.read() == src.read_bytes()
