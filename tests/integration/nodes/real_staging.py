"""A "staging" target on the real-node sandbox: production's namespace plus a DR namespace whose stack runs in pods.

The kwok staging (tests/integration/drills/staging.py) stands a host redis-server in for the DR Redis, since
kwok pods never run. Here the DR environment is what a user's is: `dr_redis_url: k8s://sentinel-dr/redis:6379`,
the DR stack's own Redis reached through the API server, which does not exist until the clean deploy creates
it; the restore writes its volume (`redis_restore_method: file`). What differs from a cloud cluster is only
what this host lacks: no registry (the deploy's manifests and the restore helper name the locally built images,
pull policy Never), no provisioner (the DR claim's volume is made ahead, on a real node's disk) and no load
balancer (a front process gives the DR Gateway a local port, as the sandbox's own does for production).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness.platform.client import Cluster, connect
from harness.platform.stack import stack_in
from harness.redis_process import free_port
from harness.sandbox import SandboxInfo, images, node_pool, processes
from harness.sandbox.cluster import create_redis_volume
from harness.sandbox.front import FrontConfig, Route
from harness.sandbox.lifecycle import GATEWAY_PORT
from harness.sandbox.stack import on_real_nodes
from harness.sandbox.state import REPO_ROOT, SandboxPaths
from tests.integration.drills.staging import DR_NAMESPACE, TARGET, ensure_namespace, fernet_key

DR_REDIS_URL = f"k8s://{DR_NAMESPACE}/redis:6379"


@dataclass
class RealStaging:
    """The files and coordinates of one staging target on real nodes."""

    sandbox: SandboxInfo
    config_file: Path
    dr_health_url: str
    dr_record: str

    def env(self) -> dict[str, str]:
        """A user's shell: AWS coordinates, both Redis passwords (the DR stack's Redis takes production's, from the
        exported Secret), the export key, the confirmation."""
        env = {k: v for k, v in self.sandbox.env(include_secrets=True).items()
               if not k.startswith(("DRILL_", "KUBE"))}
        env.update(DRILL_CONFIG=str(self.config_file), DR_REDIS_PASSWORD=self.sandbox.redis_password(),
                   DRILL_CONFIRM_DESTRUCTIVE=TARGET, DRILL_CONFIG_KEY=fernet_key(self.config_file.parent))
        return env

    def cluster(self) -> Cluster:
        return connect(self.sandbox.kubeconfig, self.sandbox.context)


def _write_dr_manifests(directory: Path) -> Path:
    """The reference stack as a user's manifests for this host: local images, never pulled (deploy_method manifests)."""
    objects = on_real_nodes([o for o in stack_in(DR_NAMESPACE) if o["kind"] not in ("Namespace", "Secret")])
    out = directory / "dr-manifests"
    out.mkdir(exist_ok=True)
    (out / "stack.yaml").write_text(yaml.safe_dump_all(objects, sort_keys=False))
    return out


def _start_dr_front(sandbox: SandboxInfo, directory: Path) -> tuple[str, processes.TrackedProcess]:
    """The DR Gateway's "load balancer": a local port forwarded per connection to sentinel-dr/sentinel-gateway."""
    port = free_port()
    path = directory / "dr-front.json"
    FrontConfig(str(sandbox.kubeconfig), sandbox.context, DR_NAMESPACE,
                (Route(port, "sentinel-gateway", GATEWAY_PORT),)).save(path)
    proc = processes.spawn("dr-front", [sys.executable, "-m", "harness.sandbox.front", "--config", str(path)],
                           log=directory / "dr-front.log", pidfile=directory / "dr-front.pid", cwd=REPO_ROOT)
    return f"http://127.0.0.1:{port}/health", proc


def start_real_staging(sandbox: SandboxInfo, directory: Path) -> Iterator[RealStaging]:
    """Set up the DR namespace beside the real-node sandbox and write the staging config; stop it all afterwards."""
    cluster = connect(sandbox.kubeconfig, sandbox.context)
    ensure_namespace(cluster, DR_NAMESPACE)
    paths = SandboxPaths(sandbox.state_dir)
    # the DR claim's disk, provisioned ahead (the sandbox has no provisioner); it outlives each drill's StatefulSet
    create_redis_volume(cluster, paths, namespace=DR_NAMESPACE, name="staging-dr-redis-data",
                        node=node_pool.redis_node(paths))
    health_url, front = _start_dr_front(sandbox, directory)
    dr_record = f"dr-drill.{sandbox.hosted_zone_name}"
    config = {
        "target": TARGET, "allowed_targets": [TARGET],
        "kubeconfig": str(sandbox.kubeconfig), "context": sandbox.context, "namespace": sandbox.namespace,
        "redis_url": sandbox.redis_url, "store_url": sandbox.store_url, "log_store_url": sandbox.log_store_url,
        "health_url": sandbox.health_url,
        "hosted_zone_id": sandbox.hosted_zone_id, "dns_record_name": sandbox.record_name,
        "dr_context": sandbox.context, "dr_namespace": DR_NAMESPACE,
        "dr_redis_url": DR_REDIS_URL, "dr_health_url": health_url,
        "dr_dns_record_name": dr_record, "load_balancer": f"lb-dr.{sandbox.hosted_zone_name}",
        "redis_restore_method": "file",
        "restore_helper_image": images.REDIS, "restore_helper_pull_policy": "Never",
        "deploy_method": "manifests", "deploy_dir": str(_write_dr_manifests(directory)),
        "isolation_probe_image": images.REDIS,  # NetworkPolicies are enforced here: isolation proven by a probe
        # production stays untouched (no Job in its namespace): the pipeline's newest backup, as it is; which
        # predates any smoke session, so none is seeded through production's Gateway either
        "request_pipeline_backup": False, "integration_smoke": False,
        "rto_seconds": 300,  # pods start in seconds here; a hang fails in minutes, not 15
    }
    config_file = directory / "staging.yaml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    staging = RealStaging(sandbox, config_file, health_url, dr_record)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("DRILL_", "AWS_", "KUBE", "REDIS_", "DR_"))},
           **staging.env()}
    try:
        pin = subprocess.run([sys.executable, "-m", "harness.cli", "target", "pin", "--config", str(config_file)],
                             check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, env=env)
        assert pin.returncode == 0, pin.stderr
        # the user's configuration CronJob, with the user's key: its export is what the DR namespace gets
        exported = subprocess.run([sys.executable, "-m", "harness.cli", "backup", "config", "--config",
                                   str(config_file)], check=False, cwd=REPO_ROOT, capture_output=True, text=True,
                                  timeout=60, env=env)
        assert exported.returncode == 0, exported.stderr
        yield staging
    finally:
        processes.terminate(front, timeout=5.0)


__all__ = ["DR_REDIS_URL", "RealStaging", "start_real_staging"]
