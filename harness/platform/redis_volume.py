"""Cluster side of the Kubernetes file restore: the StatefulSet, its claim, and a short-lived helper pod.

The helper pod mounts the Redis claim while Redis is scaled to 0 (a
ReadWriteOnce volume cannot be shared), runs as the redis user under the
"restricted" Pod Security Standard, and is deleted afterwards.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.platform.client import Cluster, Obj, ObjectNotFound, namespaced
from harness.platform.pod_exec import PodCommandFailed, exec_in_pod, upload_file
from harness.platform.workloads import scale, scale_of, wait_for_no_pods, wait_for_rollout
from harness.polling import wait_until

HELPER_IMAGE = "redis:7.0.15-alpine"
HELPER_LABEL = "sentinel-drill/role"


def helper_pod(name: str, *, namespace: str, claim: str, mount_path: str, image: str = HELPER_IMAGE,
               pull_policy: str = "IfNotPresent", labels: Mapping[str, str] | None = None) -> Obj:
    """A pod that only sleeps with `claim` mounted, so files can be copied into the volume."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {HELPER_LABEL: "restore-helper", **(labels or {})}},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 0,
            "securityContext": {
                "runAsNonRoot": True, "runAsUser": 999, "runAsGroup": 999, "fsGroup": 999,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [{
                "name": "restore",
                "image": image,
                "imagePullPolicy": pull_policy,
                "command": ["sleep", "3600"],
                "volumeMounts": [{"name": "data", "mountPath": mount_path}],
                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            }],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}],
        },
    }


@dataclass(frozen=True)
class ClusterRedisVolumeOps:
    """RedisVolumeOps against a real cluster."""

    cluster: Cluster
    namespace: str
    selector_label: str = "app"
    helper_image: str = HELPER_IMAGE  # any image with sh, sha256sum and tar; the sandbox uses its local Redis image
    helper_pull_policy: str = "IfNotPresent"

    def replicas(self, statefulset: str) -> int:
        return scale_of(self.cluster, "StatefulSet", statefulset, namespace=self.namespace)

    def scale(self, statefulset: str, replicas: int) -> int:
        return scale(self.cluster, "StatefulSet", statefulset, replicas, namespace=self.namespace).previous

    def _selector(self, statefulset: str) -> str:
        sts = self.cluster.get(namespaced("apps/v1", "statefulsets", self.namespace, statefulset),
                               what=f"statefulset {self.namespace}/{statefulset}")
        labels = sts["spec"]["selector"].get("matchLabels") or {}
        return ",".join(f"{k}={v}" for k, v in labels.items())

    def wait_stopped(self, statefulset: str, timeout: float) -> None:
        wait_for_no_pods(self.cluster, namespace=self.namespace, selector=self._selector(statefulset), timeout=timeout)

    def wait_ready(self, statefulset: str, timeout: float) -> None:
        wait_for_rollout(self.cluster, "StatefulSet", statefulset, namespace=self.namespace, timeout=timeout)

    def start_helper(self, claim: str, mount_path: str, timeout: float, *, name: str,
                     labels: dict[str, str]) -> str:
        self.cluster.get(namespaced("v1", "persistentvolumeclaims", self.namespace, claim),
                         what=f"persistentvolumeclaim {self.namespace}/{claim}")
        self.cluster.request("POST", namespaced("v1", "pods", self.namespace),
                             body=helper_pod(name, namespace=self.namespace, claim=claim, mount_path=mount_path,
                                             image=self.helper_image, pull_policy=self.helper_pull_policy,
                                             labels=labels),
                             what=f"pod {self.namespace}/{name}")

        def running() -> bool | None:
            pod = self.cluster.get(namespaced("v1", "pods", self.namespace, name))
            return True if (pod.get("status") or {}).get("phase") == "Running" else None

        wait_until(running, timeout=timeout, interval=0.2, what=f"restore helper pod {name} Running",
                   describe=lambda: "not Running (kubectl describe pod shows why)")
        return name

    def upload(self, pod: str, src: Path, dest: str, timeout: float) -> str:
        return upload_file(self.cluster, namespace=self.namespace, pod=pod, src=src, dest=dest, timeout=timeout)

    def move_aside_aof(self, pod: str, mount_path: str) -> None:
        aof = shlex.quote(f"{mount_path}/appendonlydir")
        script = f'if [ -d {aof} ]; then mv {aof} {aof}.before-restore-$(date +%s); fi'
        result = exec_in_pod(self.cluster, namespace=self.namespace, pod=pod, command=["sh", "-c", script])
        if result.returncode != 0:
            raise PodCommandFailed(f"could not move the AOF directory aside in {pod}: {result.stderr.decode()[-200:]}",
                                   fix="check the volume's permissions")

    def remove(self, pod: str, path: str) -> None:
        result = exec_in_pod(self.cluster, namespace=self.namespace, pod=pod, command=["rm", "-f", path])
        if result.returncode != 0:
            raise PodCommandFailed(f"could not remove {path} in {pod}: {result.stderr.decode()[-200:]}",
                                   fix="check the volume's permissions")

    def delete_helper(self, pod: str) -> None:
        try:
            self.cluster.request("DELETE", namespaced("v1", "pods", self.namespace, pod),
                                 body={"gracePeriodSeconds": 0}, what=f"pod {self.namespace}/{pod}")
        except ObjectNotFound:
            pass
