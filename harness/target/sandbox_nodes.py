"""The sandbox on real kubelet nodes as a Target: what differs when the stack's containers really run.

Redis is the StatefulSet's own container with its data in a volume on the
last zone's node, so its data plane is the runbook's Kubernetes file restore (scale 0 →
copy into the volume through a helper pod → scale 1), exactly as on a real
cluster. Losing the cluster stops the control plane *and* every node (their
containers die with them) and wipes the volume; a new cluster is a new control
plane that the same host's nodes join afresh. The local front door (health and
Redis URLs) follows the stack wherever it moves.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from harness.config import Settings
from harness.platform.client import Cluster, Obj
from harness.platform.redis_volume import ClusterRedisVolumeOps
from harness.platform.stack import deploy_stack
from harness.safety import require_destructive
from harness.sandbox import SandboxInfo, images, node_pool, pipeline_jobs
from harness.sandbox import cluster as kwok
from harness.sandbox.front import repoint
from harness.sandbox.stack import on_real_nodes
from harness.sandbox.state import REGION, SandboxError, read_secret, save_state, write_secret
from harness.target.base import LossReport, PipelineRun, Target
from harness.target.restore_planes import volume_plane
from harness.target.sandbox import SandboxTarget

if TYPE_CHECKING:
    from harness.restore.plane import RestorePlane

REDIS_VOLUME = "sandbox-redis-data"


class RealNodeSandboxTarget(SandboxTarget):
    """The sandbox whose pods run on this host's kubelet nodes (`sandbox up --nodes real`)."""

    def __init__(self, base: Settings, info: SandboxInfo) -> None:
        super().__init__(base, info)
        if not self.settings.isolation_probe_image:  # NetworkPolicies are enforced here: prove isolation by a probe
            self.settings = self.settings.model_copy(update={"isolation_probe_image": images.REDIS})

    def _adopt(self, info: SandboxInfo) -> None:
        save_state(self.paths, info)
        self.info = info
        self.settings = self.settings.model_copy(update={
            "kubeconfig": str(info.kubeconfig), "context": info.context, "namespace": info.namespace})
        repoint(self.paths.front_config, kubeconfig=info.kubeconfig, context=info.context, namespace=info.namespace)

    def nodes_description(self) -> str:
        return "sandbox real nodes: a kubelet + containerd per zone; Brain, Gateway and Redis run in containers"

    def why_no_hard_zone_failure(self) -> str | None:
        return None

    def why_no_gateway(self) -> str | None:
        return None

    def stop_zone(self, zone: str) -> list[str]:
        require_destructive(self, f"stop every machine of zone {zone}")
        return node_pool.stop_zone(self.paths, zone)

    def restart_zone(self, zone: str) -> list[str]:
        return node_pool.restart_zone(self.paths, zone)

    def zone_cgroups(self, zone: str) -> list[str]:
        return node_pool.zone_cgroups(self.paths, zone)

    def stack_as_deployed(self, namespace: str) -> list[Obj]:
        """Runnable on the real nodes: local images never pulled, requests a laptop can hold."""
        return on_real_nodes(super().stack_as_deployed(namespace))

    def run_pipeline_backup(self, *, timeout: float) -> PipelineRun:
        """The backup CronJob's own Job runs here, as on a real cluster (the sandbox's pipeline applied first)."""
        self._deploy_pipeline(self.cluster(), self.namespace)
        return Target.run_pipeline_backup(self, timeout=timeout)

    def restore_plane(self) -> RestorePlane:
        """Redis runs in the cluster here: the runbook's volume restore, its helper pod from the local image."""
        cluster = self.cluster()
        ops = ClusterRedisVolumeOps(cluster, self.namespace, helper_image=images.REDIS, helper_pull_policy="Never")
        return volume_plane(self, cluster, ops)

    def lose_primary(self) -> LossReport:
        require_destructive(self, "destroy the cluster, its nodes and the Redis volume")
        name = self.info.cluster_name
        kwok.delete_cluster(name, self.paths)
        left = node_pool.stop_pool(self.paths)  # every kubelet, runtime and container of every zone
        volume = self.paths.root / "pv"
        removed = sorted(str(p.relative_to(volume)) for p in volume.rglob("*") if p.is_file()) if volume.exists() else []
        shutil.rmtree(volume, ignore_errors=True)
        self.lost_cluster = name
        return LossReport(name, self.info.api_server, self.info.redis_url,
                          {"nodes_stopped": list(node_pool.pool_node_names(self.paths)), "left_on_host": left,
                           "volume_files_removed": removed})

    def provision_cluster(self) -> Cluster:
        """A new control plane; the host's nodes join it afresh; the stack applied (its Secrets come from the export)."""
        stamp = datetime.now(UTC).strftime("%H%M%S")
        name = f"{self.info.cluster_name.split('-dr-')[0]}-dr-{stamp}"
        creating = kwok.start_create(name, kwok.bin_dir(), self.paths, timeout=120, real_nodes=True)
        cluster = kwok.finish_create(creating, name, self.paths, timeout=120)
        why = node_pool.claim_host(self.paths)
        if why:
            raise SandboxError(f"cannot bring the nodes back: {why}", fix="stop the other sandbox, then rerun")
        node_pool.start_pool(cluster, self.paths, cluster_name=name, images=images.image_ids(), timeout=120)
        kwok.create_redis_volume(cluster, self.paths, namespace=self.info.namespace, name=REDIS_VOLUME,
                                 node=node_pool.redis_node(self.paths))
        # Secrets come back from the encrypted export
        objects = self.stack_as_deployed(self.info.namespace)
        deploy_stack(cluster, objects, namespace=self.info.namespace, timeout=120, wait=False)
        node_pool.restart_dns(self.paths, context=f"kwok-{name}")
        self._adopt(replace(self.info, cluster_name=name, context=f"kwok-{name}", api_server=cluster.server,
                            ports={**{k: v for k, v in self.info.ports.items() if "/" not in k},
                                   **kwok.api_ports(self.paths, name)}))
        return cluster

    def _deploy_pipeline(self, cluster: Cluster, namespace: str) -> None:
        """The sandbox's backup CronJobs (and their store Secrets) in `namespace`, as `sandbox up` applies them:
        after scenario 3 or 4 the sandbox's production is a new cluster or a clean namespace, whose pipeline a
        real production would have redeployed (and scenario 4's rotation gave its store Secrets random values)."""
        moto_port = urlsplit(self.info.s3_endpoint).port
        if moto_port is None:
            raise SandboxError(f"the sandbox's S3 endpoint {self.info.s3_endpoint} names no port",
                               fix="recreate the sandbox")
        pipeline_jobs.deploy_pipeline(cluster, namespace=namespace,
                                      endpoint=pipeline_jobs.store_endpoint(self.paths, moto_port), region=REGION,
                                      verifier_key_pem=read_secret(self.paths.verifier_key_file))

    def rotate_redis_password(self, new_password: str) -> None:
        """The clean namespace's Redis starts from its (rotated) Secret: only the drill's copy changes here."""
        write_secret(self.info.redis_password_file, new_password)

    def deploy_clean_namespace(self, namespace: str) -> Cluster:
        cluster = self.cluster()
        kwok.create_redis_volume(cluster, self.paths, namespace=namespace, name=f"{REDIS_VOLUME}-{namespace}",
                                 node=node_pool.redis_node(self.paths))
        # fresh Secrets come from the rotation
        objects = self.stack_as_deployed(namespace)
        deploy_stack(cluster, objects, namespace=namespace, timeout=120, wait=False)
        self._adopt(replace(self.info, namespace=namespace))
        return cluster
