"""Real kubelet nodes for the sandbox: one containerd + one kubelet per zone, on this host.

kwok plays a kubelet but runs nothing, so a drill on it never kills a process
or copies a file into a volume. These nodes run real containers (runc) from
images built on this machine (no registry is reachable), joined to the same
kwokctl control plane as the fake nodes. Each node gets its own address on
`lo` (harness/sandbox/hostnet.py), its own containerd (root kept in the cache
so imported images survive `down`), its own kubelet root, CNI bridge and
cgroup subtree `/sentinel-drill/<zone>`. Everything a node runs, the shims and
containers included, lives in that subtree: freezing it is a hard zone
failure, killing it is `down`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness.platform.client import Cluster, cluster_scoped
from harness.platform.pods import ZONE_LABEL
from harness.polling import poll, wait_until
from harness.redaction import child_environment
from harness.sandbox import host_command, hostnet, processes
from harness.sandbox.netplan import SandboxNetwork
from harness.sandbox.state import REPO_ROOT, SandboxError, SandboxPaths

BUILD_SCRIPT = REPO_ROOT / "tools" / "build-node-bin.sh"
BIN_DIR_ENV = "DRILL_NODE_BIN_DIR"
NETWORK_POLICY = "kube-network-policies"
NODE_BINARIES = ("containerd", "ctr", "containerd-shim-runc-v2", "runc", "kubelet", "kube-proxy", NETWORK_POLICY)
CNI_DIR = Path("/usr/lib/cni")
CNI_PLUGINS = ("bridge", "host-local", "loopback", "portmap")
CGROUP_FS = Path("/sys/fs/cgroup")
CGROUP_PARENT = "sentinel-drill"
REAL_NODE_LABEL = "sentinel-drill/node"
PAUSE_IMAGE = "sentinel-drill/pause:3.10"
CACHE_ROOT = Path(os.environ.get("SENTINEL_DRILL_CACHE", str(Path.home() / ".cache" / "sentinel-drill")))


@dataclass(frozen=True)
class RealNode:
    """One real node: where it lives and how it is reached."""

    index: int
    zone: str
    state: Path  # runtime files: configs, sockets, kubelet root (removed by `down`)
    network: SandboxNetwork  # the sandbox's ranges (netplan.py)

    @property
    def name(self) -> str:
        return f"node-{self.zone}"

    @property
    def address(self) -> str:
        return self.network.node_address(self.index)

    @property
    def pod_cidr(self) -> str:
        return self.network.pod_cidr(self.index)

    @property
    def socket(self) -> Path:
        return self.state / "containerd.sock"

    @property
    def containerd_root(self) -> Path:
        """Kept across `down` (in the cache) so the images imported once stay imported."""
        return CACHE_ROOT / "nodes" / self.zone / "containerd"

    @property
    def cgroup(self) -> str:
        return f"/{CGROUP_PARENT}/{self.zone}"

    @property
    def nftables_table(self) -> str:
        return f"knp-{self.name}"

    @property
    def kubelet_root(self) -> Path:
        return self.state / "kubelet"

    def ctr(self, *args: str, check: bool = True, stdin: int | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([str(node_bin_dir() / "ctr"), "--address", str(self.socket), "-n", "k8s.io", *args],
                              stdin=stdin, capture_output=True, timeout=timeout, check=check, env=child_environment())


def node_bin_dir() -> Path:
    """The node binaries tools/build-node-bin.sh built (or $DRILL_NODE_BIN_DIR)."""
    env = os.environ.get(BIN_DIR_ENV)
    if env:
        path = Path(env)
    else:
        out = subprocess.run(["bash", str(BUILD_SCRIPT), "--print-dir"], capture_output=True, text=True, timeout=30,
                             check=False, env=child_environment())
        if out.returncode != 0:
            raise SandboxError(f"{BUILD_SCRIPT} --print-dir failed: {out.stderr.strip()[-200:]}",
                               fix="run `make node-bin`")
        path = Path(out.stdout.strip())
    missing = [b for b in NODE_BINARIES if not os.access(path / b, os.X_OK)]
    if missing or not (path / ".complete").is_file():
        raise SandboxError(f"the real-node binaries are not built in {path} (missing: {', '.join(missing) or '.complete'})",
                           fix="run `make node-bin` (containerd, runc, kubelet, kube-proxy from Go modules; ~6 min cold)")
    return path


def why_not_real_nodes() -> str | None:
    """None when this machine can run real nodes, else one line saying why not (the sandbox then stays kwok-only)."""
    if os.geteuid() != 0:
        return "real nodes need root (network addresses, cgroups, mounts); running as an unprivileged user"
    if not (CGROUP_FS / "freezer").is_dir():
        return f"real nodes need cgroup v1 hierarchies under {CGROUP_FS} (with freezer); this machine has none"
    try:
        node_bin_dir()
    except SandboxError as exc:
        return exc.message
    missing = [p for p in CNI_PLUGINS if not (CNI_DIR / p).exists()]
    if missing:
        return f"CNI plugins missing in {CNI_DIR}: {', '.join(missing)} (apt package containernetworking-plugins)"
    for tool in ("ip", "iptables"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (apt packages iproute2, iptables)"
    return None


# ------------------------------------------------------------------ cgroups
def hierarchies() -> list[Path]:
    return [p for p in sorted(CGROUP_FS.iterdir()) if p.is_dir() and p.name not in ("unified",)
            and (p / "cgroup.procs").exists()]


def make_cgroup(path: str) -> None:
    """Create `path` in every v1 hierarchy (cpuset needs cpus/mems copied from its parent before use)."""
    for root in hierarchies():
        current = root
        for part in path.strip("/").split("/"):
            child = current / part
            child.mkdir(exist_ok=True)
            if root.name == "cpuset":
                for knob in ("cpuset.cpus", "cpuset.mems"):
                    if not (child / knob).read_text().strip():
                        (child / knob).write_text((current / knob).read_text())
            current = child


def enter_cgroup(pid: int, path: str) -> None:
    for root in hierarchies():
        (root / path.strip("/") / "cgroup.procs").write_text(str(pid))


def cgroup_pids(path: str) -> set[int]:
    pids: set[int] = set()
    for root in hierarchies():
        base = root / path.strip("/")
        if base.is_dir():
            for procs in base.rglob("cgroup.procs"):
                try:
                    pids.update(int(p) for p in procs.read_text().split())
                except OSError:
                    pass
    return pids


def freeze(path: str, frozen: bool) -> None:
    """Freeze (or thaw) every process of a node at once: a hard failure, as if the machine stopped."""
    state = CGROUP_FS / "freezer" / path.strip("/") / "freezer.state"
    state.write_text("FROZEN" if frozen else "THAWED")


def is_frozen(path: str) -> bool:
    state = CGROUP_FS / "freezer" / path.strip("/") / "freezer.state"
    try:
        return state.read_text().strip() != "THAWED"
    except OSError:
        return False


def kill_cgroup(path: str) -> list[int]:
    """SIGKILL every process under `path` (thawing it first), then remove the subtree; returns pids left."""
    if is_frozen(path):
        freeze(path, False)
    for _ in range(20):  # a process forking while we kill shows up in the next round
        pids = cgroup_pids(path)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        poll(lambda: True if not cgroup_pids(path) else None, timeout=5.0, interval=0.05)
    left = sorted(cgroup_pids(path))
    if not left:
        remove_cgroup_tree(path)
    return left


def remove_cgroup_tree(path: str) -> list[str]:
    """rmdir `path` and everything below it in every mounted hierarchy (the runtimes also create some in
    the unified one); returns the directories that could not be removed."""
    left = []
    for root in (p for p in sorted(CGROUP_FS.iterdir()) if p.is_dir()):
        base = root / path.strip("/")
        if not base.is_dir():
            continue
        for sub in sorted((d for d in base.rglob("*") if d.is_dir()), key=lambda d: len(d.parts), reverse=True):
            try:
                sub.rmdir()
            except OSError:
                left.append(str(sub))
        try:
            base.rmdir()
        except OSError:
            left.append(str(base))
    return left


# ------------------------------------------------------------------ containerd
def containerd_config(node: RealNode, bins: Path) -> str:
    cni = node.state / "cni"
    return f"""version = 3
root = "{node.containerd_root}"
state = "{node.state / 'containerd-state'}"
[grpc]
  address = "{node.socket}"
[ttrpc]
  address = "{node.socket}.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "docker.io/{PAUSE_IMAGE}"
[plugins."io.containerd.cri.v1.runtime"]
  enable_selinux = false
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "{bins / 'runc'}"
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["{CNI_DIR}"]
    conf_dir = "{cni / 'net.d'}"
[plugins."io.containerd.nri.v1.nri"]
  disable = true
[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
"""


def cni_config(node: RealNode) -> dict[str, object]:
    return {
        "cniVersion": "1.0.0",
        "name": f"sandbox-{node.zone}",
        "plugins": [
            {
                "type": "bridge", "bridge": hostnet.bridge_name(node.zone), "isGateway": True, "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local", "dataDir": str(node.state / "cni" / "ipam"),
                    "ranges": [[{"subnet": node.pod_cidr}]],
                    "routes": [{"dst": str(node.network.pod_range)}, {"dst": str(node.network.service_range)},
                               {"dst": str(node.network.node_range)}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def _runtime_env(bins: Path) -> dict[str, str]:
    env = child_environment()
    env["PATH"] = f"{bins}:{env.get('PATH', '/usr/bin:/bin')}"
    return env


def start_containerd(node: RealNode, bins: Path, paths: SandboxPaths) -> processes.TrackedProcess:
    for d in (node.state / "cni" / "net.d", node.containerd_root):
        d.mkdir(parents=True, exist_ok=True)
    (node.state / "cni" / "net.d" / "10-sandbox.conflist").write_text(json.dumps(cni_config(node), indent=1))
    config = node.state / "containerd.toml"
    config.write_text(containerd_config(node, bins))
    make_cgroup(f"{node.cgroup}/runtime")
    proc = processes.spawn(f"containerd-{node.zone}", [str(bins / "containerd"), "--config", str(config)],
                           log=paths.log(f"containerd-{node.zone}"), pidfile=paths.pidfile(f"containerd-{node.zone}"),
                           env=_runtime_env(bins))
    enter_cgroup(proc.pid, f"{node.cgroup}/runtime")  # the shims it forks (and their containers' parents) follow
    wait_until(lambda: node.socket.exists() and node.ctr("version", check=False).returncode == 0 or None,
               timeout=30, interval=0.1, what=f"containerd of {node.name}",
               describe=lambda: f"see {paths.log(f'containerd-{node.zone}')}")
    return proc


def _image_ref(name: str) -> str:
    return name if "/" in name.split(":")[0] and "." in name.split("/")[0] else f"docker.io/{name}"


def _missing_images(node: RealNode, images: dict[str, str]) -> list[str]:
    """The images (by name) `node` does not hold at their current id; an older build under the same tag is
    dropped first, or every `make images` would leave GBs behind."""
    have = node.ctr("images", "ls").stdout.decode()
    missing = []
    for name, image_id in images.items():
        ref = _image_ref(name)
        if ref in have and image_id in have:
            continue
        if ref in have:
            node.ctr("images", "rm", "--sync", ref, check=False)
        missing.append(name)
    return missing


def _import_into(node: RealNode, name: str, image_id: str, archive: Path) -> None:
    with archive.open("rb") as tar:
        out = node.ctr("images", "import", "--no-unpack", "-", stdin=tar.fileno(), check=False)
    if out.returncode != 0:
        raise SandboxError(f"could not import image {name} into {node.name}: {out.stderr.decode()[-300:]}",
                           fix="run `make images` (images are built locally; no registry is reachable)")
    node.ctr("images", "label", _image_ref(name), f"sentinel-drill/image-id={image_id}", check=False)


def import_images(members: list[RealNode], images: dict[str, str], *, work_dir: Path) -> int:
    """Give every node the images (name → image id) it does not have yet; return how many imports ran.

    Each missing image is `docker save`d once, then imported into the nodes' containerds side by side
    (a first start imports every image into every zone: saving it once per zone took most of a cold
    `make drill`'s sandbox start).
    """
    from concurrent.futures import ThreadPoolExecutor

    wanted = {node.name: _missing_images(node, images) for node in members}
    names = sorted({name for missing in wanted.values() for name in missing})
    if not names:
        return 0
    work_dir.mkdir(parents=True, exist_ok=True)
    archives: dict[str, Path] = {}
    try:
        for name in names:
            archives[name] = work_dir / f"image-{len(archives)}.tar"
            saved = subprocess.run(["docker", "save", "-o", str(archives[name]), name], capture_output=True,
                                   timeout=600, check=False, env=child_environment())
            if saved.returncode != 0:
                raise SandboxError(f"could not save image {name}: {saved.stderr.decode()[-300:]}",
                                   fix="run `make images` (images are built locally; no registry is reachable)")

        def give(node: RealNode) -> int:
            for name in wanted[node.name]:
                _import_into(node, name, images[name], archives[name])
            return len(wanted[node.name])

        with ThreadPoolExecutor(max_workers=len(members)) as pool:
            return sum(pool.map(give, members))
    finally:
        for archive in archives.values():
            archive.unlink(missing_ok=True)


# ------------------------------------------------------------------ kubelet
def kubelet_config(node: RealNode, paths: SandboxPaths, *, ca_file: Path, healthz_port: int) -> dict[str, object]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": f"{node.cgroup}/pods",
        "address": node.address,
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": healthz_port,
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": str(ca_file)}},
        "authorization": {"mode": "Webhook"},
        "clusterDomain": "cluster.local",
        "clusterDNS": [node.network.dns_address],
        "resolvConf": str(paths.root / "nodes" / "resolv.conf"),
        "containerRuntimeEndpoint": f"unix://{node.socket}",
        "podLogsDir": str(node.state / "pod-logs"),
        "failSwapOn": False,
        "protectKernelDefaults": False,
        "serializeImagePulls": False,
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%",
                         "nodefs.inodesFree": "1%"},
        "nodeStatusUpdateFrequency": "2s",
        "nodeLeaseDurationSeconds": 10,
        "syncFrequency": "5s",
        "fileCheckFrequency": "5s",
        "shutdownGracePeriod": "0s",
        "maxPods": 60,
    }


def start_kubelet(node: RealNode, bins: Path, paths: SandboxPaths, *, ca_file: Path,
                  healthz_port: int) -> processes.TrackedProcess:
    (paths.root / "nodes" / "resolv.conf").write_text(
        "# pods resolve only through the sandbox's cluster DNS (kubelet clusterDNS) or nothing\nnameserver 127.0.0.1\n")
    config = node.state / "kubelet.yaml"
    config.write_text(yaml.safe_dump(kubelet_config(node, paths, ca_file=ca_file, healthz_port=healthz_port)))
    make_cgroup(f"{node.cgroup}/pods")
    make_cgroup(f"{node.cgroup}/system")
    labels = {ZONE_LABEL: node.zone, "topology.kubernetes.io/region": "sandbox-1", REAL_NODE_LABEL: "real",
              "type": "real"}
    proc = processes.spawn(f"kubelet-{node.zone}", [
        str(bins / "kubelet"), "--config", str(config), "--kubeconfig", str(paths.kubeconfig),
        "--root-dir", str(node.kubelet_root), "--cert-dir", str(node.state / "pki"),
        "--hostname-override", node.name, "--node-ip", node.address,
        "--node-labels", ",".join(f"{k}={v}" for k, v in labels.items()), "--v", "1",
    ], log=paths.log(f"kubelet-{node.zone}"), pidfile=paths.pidfile(f"kubelet-{node.zone}"), env=_runtime_env(bins))
    enter_cgroup(proc.pid, f"{node.cgroup}/system")
    return proc


def wait_nodes_ready(cluster: Cluster, nodes: list[RealNode], *, timeout: float, paths: SandboxPaths) -> None:
    names = {n.name for n in nodes}

    def ready() -> bool | None:
        items = cluster.list_items(cluster_scoped("v1", "nodes"), labelSelector=f"{REAL_NODE_LABEL}=real")
        up = {n["metadata"]["name"] for n in items
              if any(c.get("type") == "Ready" and c.get("status") == "True"
                     for c in (n.get("status") or {}).get("conditions") or [])}
        return True if names <= up else None

    wait_until(ready, timeout=timeout, interval=0.2, what=f"{len(nodes)} real nodes Ready",
               describe=lambda: f"see {paths.logs_dir}/kubelet-*.log and containerd-*.log")


def unmount_under(root: Path) -> None:
    """Lazily unmount everything mounted below `root` (pod volumes, container rootfs, netns files)."""
    try:
        mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    except OSError:
        return
    prefix = str(root.resolve()) + "/"
    for target in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True, check=False, timeout=30, env=child_environment())


def start_network_policy(node: RealNode, bins: Path, paths: SandboxPaths, *,
                         metrics_port: int) -> processes.TrackedProcess:
    """One enforcer per node (it judges the packets of its node's pods), each with its own nftables table and queue."""
    return processes.spawn(f"network-policy-{node.zone}", [
        str(bins / NETWORK_POLICY), "--kubeconfig", str(paths.kubeconfig), "--hostname-override", node.name,
        "--nftables-table", node.nftables_table, "--nfqueue-id", str(100 + node.index),
        "--metrics-bind-address", f"127.0.0.1:{metrics_port}", "--v=1",
    ], log=paths.log(f"network-policy-{node.zone}"), pidfile=paths.pidfile(f"network-policy-{node.zone}"),
        env=_runtime_env(bins))


def delete_nftables_table(node: RealNode) -> None:
    """The enforcer removes its table on SIGTERM; after a SIGKILL this does."""
    host_command.run("nft", "delete", "table", "inet", node.nftables_table, check=False)
