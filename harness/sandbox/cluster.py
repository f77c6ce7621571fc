"""The sandbox's Kubernetes: a kwokctl binary-runtime cluster on 127.0.0.1, fake nodes in three zones.

kwokctl runs the real etcd, kube-apiserver, kube-controller-manager and
kube-scheduler plus the kwok controller (which plays every kubelet), all from
the binaries tools/build-sandbox-bin.sh built into the cache. Its work dir,
kubeconfig and logs live in the sandbox state dir; ~/.kube/config and ~/.kwok
are never touched, and nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import DrillError
from harness.platform.client import Cluster, cluster_scoped, connect
from harness.platform.pods import ZONE_LABEL
from harness.platform.tool_bins import SANDBOX_BIN_DIR_ENV
from harness.polling import wait_until
from harness.redaction import child_environment
from harness.redis_process import free_port
from harness.sandbox.netplan import SandboxNetwork, network_for
from harness.sandbox.stages import STAGES_YAML
from harness.sandbox.state import REPO_ROOT, SandboxError, SandboxPaths

BIN_DIR_ENV = SANDBOX_BIN_DIR_ENV
BUILD_SCRIPT = REPO_ROOT / "tools" / "build-sandbox-bin.sh"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok", "kwokctl")
ZONES = ("zone-a", "zone-b", "zone-c")
KWOK_NODE_ANNOTATION = "kwok.x-k8s.io/node"


@dataclass(frozen=True)
class NodeShape:
    """What every fake node offers the scheduler."""

    cpu: str = "4"
    memory: str = "16Gi"
    pods: str = "110"

    @classmethod
    def holding(cls, brain_pods_per_node: int) -> NodeShape:
        """A node big enough for `brain_pods_per_node` Brain pods (500m, 512Mi each) beside the rest of the stack."""
        if brain_pods_per_node <= 4:
            return cls()
        return cls(cpu=str(brain_pods_per_node // 2 + 4), memory=f"{brain_pods_per_node // 2 + 16}Gi",
                   pods=str(max(110, brain_pods_per_node + 20)))


def bin_dir() -> Path:
    """The built control-plane binaries: $DRILL_SANDBOX_BIN_DIR, else what the build script would produce."""
    env = os.environ.get(BIN_DIR_ENV)
    if env:
        path = Path(env)
    elif BUILD_SCRIPT.is_file():
        out = subprocess.run(["bash", str(BUILD_SCRIPT), "--print-dir"], check=False, capture_output=True, text=True,
                             timeout=30, env=child_environment())
        if out.returncode != 0:
            raise SandboxError(f"{BUILD_SCRIPT} --print-dir failed: {out.stderr.strip()[-300:]}",
                               fix="run the script by hand to see why")
        path = Path(out.stdout.strip())
    else:
        raise SandboxError("cannot locate the sandbox binaries",
                           fix=f"set {BIN_DIR_ENV} to the directory tools/build-sandbox-bin.sh printed")
    missing = [b for b in BINARIES if not os.access(path / b, os.X_OK)]
    if missing or not (path / ".complete").is_file():
        raise SandboxError(
            f"sandbox control-plane binaries are not built in {path} (missing: {', '.join(missing) or '.complete'})",
            fix="run tools/build-sandbox-bin.sh (the first build takes ~10-25 min; later starts take seconds)",
        )
    return path


def binaries_available() -> tuple[bool, str]:
    """Whether `sandbox up` can find its binaries, and if not, why (for test skips)."""
    try:
        return True, str(bin_dir())
    except SandboxError as exc:
        return False, exc.one_line()


def kwokctl_env(bins: Path, paths: SandboxPaths) -> dict[str, str]:
    """Environment pinning every kwokctl binary to the cache and its work dir to the state dir."""
    env = child_environment()  # kwokctl and the control plane it forks never see a secret
    for line in (bins / "kwokctl.env").read_text().splitlines():
        line = line.strip()
        if line.startswith("export ") and "=" in line:
            key, value = line[len("export "):].split("=", 1)
            env[key] = value.strip().strip('"').strip("'")
    env.update({
        "KWOK_KUBE_APISERVER_BINARY": str(bins / "kube-apiserver"),
        "KWOK_KUBE_CONTROLLER_MANAGER_BINARY": str(bins / "kube-controller-manager"),
        "KWOK_KUBE_SCHEDULER_BINARY": str(bins / "kube-scheduler"),
        "KWOK_KUBECTL_BINARY": str(bins / "kubectl"),
        "KWOK_ETCD_BINARY": str(bins / "etcd"),
        "KWOK_CONTROLLER_BINARY": str(bins / "kwok"),
        # optional components we never enable: point them at the cache too, so kwokctl lists no URL
        # (and fails loudly instead of downloading if someone enables them)
        "KWOK_METRICS_SERVER_BINARY": str(bins / "metrics-server"),
        "KWOK_PROMETHEUS_BINARY": str(bins / "prometheus"),
        "KWOK_WORKDIR": str(paths.kwok_workdir),
    })
    return env


PORT_OPTIONS = ("kubeApiserverPort", "etcdPort", "etcdPeerPort", "kubeControllerManagerPort",
                "kubeSchedulerPort", "kwokControllerPort")


def _distinct_free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def real_node_patches(pki: Path, network: SandboxNetwork) -> dict[str, Any]:
    """What a control plane needs before real kubelets can join it (kwokctl can only set these at creation).

    kwok must leave the real nodes alone; the API server reaches kubelets by
    InternalIP (by hostname it would ask this machine's DNS server) with a client
    certificate the kubelets verify; services and kwok's fake pod IPs get ranges
    of their own (the defaults overlap); a node that stops answering is noticed in
    seconds and its pods evicted 10 s later, so a hard zone failure shows inside a drill.
    """
    def args(**kv: str) -> list[dict[str, str]]:
        return [{"key": k.replace("_", "-"), "value": v} for k, v in kv.items()]

    return {
        "options": {"kubeControllerManagerNodeMonitorGracePeriodMilliseconds": 20_000,
                    "kubeControllerManagerNodeMonitorPeriodMilliseconds": 2_000,
                    "heartbeatFactor": 1.0},
        "componentsPatches": [
            {"name": "kube-apiserver", "extraArgs": args(
                kubelet_preferred_address_types="InternalIP",
                kubelet_client_certificate=str(pki / "admin.crt"), kubelet_client_key=str(pki / "admin.key"),
                service_cluster_ip_range=str(network.service_range),
                default_not_ready_toleration_seconds="10", default_unreachable_toleration_seconds="10")},
            {"name": "kwok-controller", "extraArgs": args(
                manage_all_nodes="false", manage_nodes_with_annotation_selector=f"{KWOK_NODE_ANNOTATION}=fake",
                cidr=f"{network.kwok_pod_range.network_address + 1}/{network.kwok_pod_range.prefixlen}")},
        ],
    }


def write_kwok_config(paths: SandboxPaths, *, real_nodes_for: str | None = None) -> Path:
    """kwokctl configuration: every component on 127.0.0.1 on OS-chosen ports, our Stages.

    `real_nodes_for` (the cluster's name) adds `real_node_patches` for it.

    kwokctl's own port choice counts down from 32767, so two clusters created at
    the same moment (parallel test sessions, two sandboxes) pick the same ports
    and one fails; ports the OS hands out are random, which avoids that.
    """
    ports = dict(zip(PORT_OPTIONS, _distinct_free_ports(len(PORT_OPTIONS)), strict=True))
    options: dict[str, Any] = {
        "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
        "kind": "KwokctlConfiguration",
        "options": {"bindAddress": "127.0.0.1", **ports},
    }
    if real_nodes_for:
        patches = real_node_patches(paths.kwok_cluster_dir(real_nodes_for) / "pki", network_for(paths))
        options["options"].update(patches["options"])
        options["componentsPatches"] = patches["componentsPatches"]
    paths.kwok_config.write_text(yaml.safe_dump(options, sort_keys=False) + STAGES_YAML)
    return paths.kwok_config


def start_create(name: str, bins: Path, paths: SandboxPaths, *, timeout: float,
                 real_nodes: bool = False) -> subprocess.Popen[bytes]:
    """Start `kwokctl create cluster` in the background (it forks the control plane and exits)."""
    paths.kwok_workdir.mkdir(parents=True, exist_ok=True)
    paths.logs_dir.mkdir(parents=True, exist_ok=True)
    config = write_kwok_config(paths, real_nodes_for=name if real_nodes else None)
    with open(paths.log("kwokctl"), "ab") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [str(bins / "kwokctl"), "create", "cluster", "--runtime", "binary", "--name", name,
             "--config", str(config), "--kubeconfig", str(paths.kubeconfig), "--wait", f"{int(timeout)}s"],
            env=kwokctl_env(bins, paths), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def finish_create(proc: subprocess.Popen[bytes], name: str, paths: SandboxPaths, *, timeout: float) -> Cluster:
    """Wait for kwokctl to finish and the API to answer; return a client for the cluster."""
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise SandboxError(f"kubernetes control plane (kwokctl create cluster {name}) did not start within "
                           f"{timeout:.0f}s", fix=f"see {paths.log('kwokctl')} and {paths.logs_dir / name}/")
    if code != 0 or not paths.kubeconfig.is_file():
        raise SandboxError(f"kwokctl create cluster {name} failed (exit {code})",
                           fix=f"see {paths.log('kwokctl')} and {paths.logs_dir / name}/")
    paths.kubeconfig.chmod(0o600)
    cluster = connect(paths.kubeconfig, f"kwok-{name}", timeout=5.0)
    wait_until(lambda: _ready(cluster), timeout=timeout, interval=0.2, what="kube-apiserver /readyz",
               describe=lambda: f"not ready; see {paths.logs_dir / name}/kube-apiserver.log")
    return cluster


def _ready(cluster: Cluster) -> bool | None:
    try:
        cluster.get("/api/v1/namespaces/default")
        cluster.get("/api/v1/namespaces/default/serviceaccounts/default")  # controllers are running too
    except DrillError:  # unreachable, 403 before RBAC is bootstrapped, 404 before the controllers ran: not yet
        return None
    return True


def delete_cluster(name: str, paths: SandboxPaths, *, timeout: float = 60.0) -> None:
    """`kwokctl delete cluster` (stops the control plane processes); a missing cluster is fine."""
    if not paths.kwok_cluster_dir(name).exists():
        return
    try:
        bins = bin_dir()
    except SandboxError:
        return  # binaries gone: the caller still stops the recorded pids one by one
    with open(paths.log("kwokctl"), "ab") as log:
        subprocess.run(
            [str(bins / "kwokctl"), "delete", "cluster", "--name", name, "--kubeconfig", str(paths.kubeconfig)],
            env=kwokctl_env(bins, paths), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            timeout=timeout, check=False,
        )


def node_manifest(name: str, zone: str, shape: NodeShape) -> dict[str, object]:
    resources = {"cpu": shape.cpu, "memory": shape.memory, "pods": shape.pods}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_NODE_ANNOTATION: "fake"},
            "labels": {
                ZONE_LABEL: zone,
                "topology.kubernetes.io/region": "sandbox-1",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": "kwok.4x16",
                "type": "kwok",
            },
        },
        # kwok keeps whatever allocatable/capacity the node was created with
        "status": {"allocatable": resources, "capacity": resources},
    }


def create_nodes(cluster: Cluster, *, per_zone: int = 2, shape: NodeShape = NodeShape(),
                 timeout: float = 60.0) -> tuple[str, ...]:
    """Create `per_zone` fake nodes in each zone through the API and wait until all are Ready."""
    names = tuple(f"sandbox-{zone}-{i}" for zone in ZONES for i in range(1, per_zone + 1))
    for name in names:
        zone = name[len("sandbox-"):].rsplit("-", 1)[0]
        cluster.request("POST", cluster_scoped("v1", "nodes"), body=node_manifest(name, zone, shape),
                        what=f"node {name}")

    def all_ready() -> bool | None:
        nodes = cluster.list_items(cluster_scoped("v1", "nodes"), labelSelector="type=kwok")
        ready = {n["metadata"]["name"] for n in nodes
                 if any(c.get("type") == "Ready" and c.get("status") == "True"
                        for c in (n.get("status") or {}).get("conditions") or [])}
        return True if set(names) <= ready else None

    wait_until(all_ready, timeout=timeout, interval=0.2, what=f"{len(names)} kwok nodes Ready",
               describe=lambda: "nodes not Ready; see the kwok-controller log in the kwok work dir")
    return names


REDIS_UID = 999  # deploy/redis.yaml's runAsUser: a hostPath volume is not chowned by fsGroup


def create_redis_volume(cluster: Cluster, paths: SandboxPaths, *, namespace: str, claim: str = "data-redis-0",
                        size: str = "1Gi", name: str = "sandbox-redis-data", node: str | None = None) -> str:
    """A PersistentVolume pre-bound to the Redis StatefulSet's claim (the sandbox has no provisioner).

    PersistentVolumes are cluster-wide: a second namespace in the same cluster needs another `name`.
    With `node` (a real node) the volume is a directory on this host that only that node
    may mount, as a zonal disk can only attach in its zone; Redis follows it there.
    """
    directory = paths.root / "pv" / name
    body: dict[str, object] = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "sentinel-drill-sandbox"}},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            # on kwok nothing mounts this; on a real node the kubelet does
            "hostPath": {"path": str(directory), "type": "DirectoryOrCreate"},
            "claimRef": {"namespace": namespace, "name": claim},
        },
    }
    if node is not None:
        directory.mkdir(parents=True, exist_ok=True)
        os.chown(directory, REDIS_UID, REDIS_UID)
        body["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [  # type: ignore[index]
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}
    cluster.request("POST", cluster_scoped("v1", "persistentvolumes"), body=body, what=f"persistentvolume {name}")
    return name


def api_ports(paths: SandboxPaths, name: str) -> dict[str, int]:
    """Ports the control-plane components listen on, from kwokctl's rendered cluster config."""
    try:
        docs = list(yaml.safe_load_all((paths.kwok_cluster_dir(name) / "kwok.yaml").read_text()))
    except (OSError, yaml.YAMLError):
        return {}
    conf: dict[str, Any] = next((d for d in docs if d and d.get("kind") == "KwokctlConfiguration"), {})
    ports: dict[str, int] = {}
    for comp in conf.get("components") or []:
        for port in comp.get("ports") or []:
            number = port.get("hostPort") or port.get("port")
            if number:
                ports[f"{comp['name']}/{port.get('name', 'port')}"] = int(number)
    return ports


def keep_logs(paths: SandboxPaths, name: str) -> None:
    """Copy a cluster's component logs to logs/<cluster>/ (they survive `down` for post-mortems)."""
    source = paths.kwok_cluster_dir(name) / "logs"
    if source.is_dir():
        shutil.copytree(source, paths.logs_dir / name, dirs_exist_ok=True)
