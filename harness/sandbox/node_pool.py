"""Start and stop the sandbox's real nodes as one pool: host network, runtimes, kubelets, proxy, DNS, policy.

One pool per host: the node addresses, bridges and iptables chains are the
host's, so a second sandbox on the same machine stays kwok-only (it says so).
The claim is the host lock (which state dir holds the pool) plus the host's
record of its changes (host_record.py), created together. A claim whose state
dir is gone, or holds no record any more, is stale and taken over; what such a
sandbox changed is repaired by the next `down` or `up` (stop_pool), because its
record lives on the host, not in the state dir. Everything the pool runs lives
under the cgroup `/sentinel-drill` (nodes per zone, the rest in `pool`), so it
is stopped even when its pid files went with the state dir.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness.platform.client import Cluster
from harness.redaction import child_environment
from harness.redis_process import free_port
from harness.sandbox import host_record, hostnet, netplan, nodes, processes
from harness.sandbox.cluster import ZONES
from harness.sandbox.host_record import HostRecord
from harness.sandbox.netplan import SandboxNetwork
from harness.sandbox.state import REPO_ROOT, SandboxError, SandboxPaths

HOST_LOCK = Path("/run/sentinel-drill/real-nodes.json")
# kept in the holder's state dir so that sandboxes of earlier versions on this host (which looked for their
# record there) see the pool as held; the record itself is the host's
HELD_MARKER = "hostnet.json"
POOL_PROCESSES = ("kube-proxy", "cluster-dns")
POOL_CGROUP = f"/{nodes.CGROUP_PARENT}/pool"


@dataclass(frozen=True)
class PoolInfo:
    nodes: tuple[str, ...]
    zones: tuple[str, ...]
    addresses: tuple[str, ...]
    images_imported: int


def pool_nodes(paths: SandboxPaths, zones: tuple[str, ...] = ZONES) -> list[nodes.RealNode]:
    network = netplan.network_for(paths)
    return [nodes.RealNode(i, zone, paths.root / "nodes" / zone, network) for i, zone in enumerate(zones)]


def pool_node_names(paths: SandboxPaths) -> tuple[str, ...]:
    return tuple(n.name for n in pool_nodes(paths))


def redis_node(paths: SandboxPaths) -> str:
    """The node whose disk holds Redis's volume: the last zone's, so that the zone scenario 2 fails by default
    (the first) tests Brain's recovery rather than a single-zone Redis, which no Brain scaling brings back.
    Drilling the Redis zone is still possible: scenario 2 then fails before its fault and says why."""
    return pool_node_names(paths)[-1]


def zone_cgroups(paths: SandboxPaths, zone: str) -> list[str]:
    """The cgroups holding everything a zone's machines run: runtime, kubelet and every container."""
    found = [n.cgroup for n in pool_nodes(paths) if n.zone == zone]
    if not found:
        raise SandboxError(f"no real node in zone {zone!r}", fix=f"use one of {', '.join(ZONES)}")
    return found


def stop_zone(paths: SandboxPaths, zone: str) -> list[str]:
    """A hard zone failure: freeze every process of the zone's nodes at once (as if the machines stopped).

    Heartbeats stop, so the control plane marks the nodes NotReady after its grace
    period and evicts their pods by taint; nothing is cordoned or drained.
    Returns the nodes stopped.
    """
    for cgroup in zone_cgroups(paths, zone):
        nodes.freeze(cgroup, True)
    return [n.name for n in pool_nodes(paths) if n.zone == zone]


def restart_zone(paths: SandboxPaths, zone: str) -> list[str]:
    """Give the zone's machines back (the rollback of `stop_zone`); returns the nodes that had been stopped."""
    restarted = []
    for node in (n for n in pool_nodes(paths) if n.zone == zone):
        if nodes.is_frozen(node.cgroup):
            nodes.freeze(node.cgroup, False)
            restarted.append(node.name)
    return restarted


def _holder() -> str | None:
    try:
        return str(json.loads(HOST_LOCK.read_text())["state_dir"])
    except (OSError, ValueError, KeyError):
        return None


def _held_elsewhere(paths: SandboxPaths) -> str | None:
    """The other sandbox whose real nodes hold this host now (a stale claim, its state gone, holds nothing)."""
    holder = _holder()
    if not holder or holder == str(paths.root) or not Path(holder).is_dir():
        return None
    record = host_record.load()
    if (record is not None and record.owner == holder) or (Path(holder) / HELD_MARKER).exists():
        return holder
    return None


def why_no_real_nodes() -> str | None:
    """None when this machine can run real nodes now (root, cgroups, binaries, engine, images), else why not."""
    from harness.sandbox.images import image_ids, why_no_engine

    why = nodes.why_not_real_nodes() or why_no_engine()
    if why is None:
        try:
            image_ids()
        except SandboxError as exc:
            why = exc.one_line()
    return why


def check_host(network: SandboxNetwork) -> None:
    """Refuse (SandboxError), before anything starts, a host whose routes or rules the pool would take over."""
    hostnet.check_host(network, host_record.load())


def claim_host(paths: SandboxPaths) -> str | None:
    """Take the host's one real-node pool for `paths`; None on success, else why not (one line)."""
    HOST_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(HOST_LOCK.with_suffix(".lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        holder = _held_elsewhere(paths)
        if holder:
            return f"this host's real nodes belong to the sandbox in {holder}"
        record = host_record.load()
        if record is not None and not record.owned_by(paths.root):
            return (f"this host still carries changes of the sandbox in {record.owner} that could not be undone "
                    f"(run `sentinel-drill sandbox down --state-dir {record.owner}` to see what)")
        HOST_LOCK.write_text(json.dumps({"state_dir": str(paths.root)}))
        paths.root.mkdir(parents=True, exist_ok=True)
        (paths.root / HELD_MARKER).write_text(json.dumps({"record": str(host_record.record_file())}) + "\n")
        if record is None:
            HostRecord(owner=str(paths.root)).save()
    return None


def release_host(paths: SandboxPaths) -> None:
    holder = _holder()
    if holder == str(paths.root) or (holder and not Path(holder).is_dir()):
        HOST_LOCK.unlink(missing_ok=True)
    (paths.root / HELD_MARKER).unlink(missing_ok=True)


def _claimed_record(paths: SandboxPaths) -> HostRecord:
    record = host_record.load()
    if record is None or not record.owned_by(paths.root):
        raise SandboxError(f"the sandbox in {paths.root} has not claimed this host's real nodes",
                           fix="start real nodes through `sentinel-drill sandbox up --nodes real`")
    return record


def _holds_legacy_record(paths: SandboxPaths) -> bool:
    """The state dir holds a record an earlier version wrote there (not our marker of the same name)."""
    try:
        return "record" not in json.loads((paths.root / HELD_MARKER).read_text())
    except (OSError, ValueError, TypeError):
        return False


def _record_to_repair(paths: SandboxPaths) -> HostRecord | None:
    """The host's record when `paths` may undo it: its own, or one whose owner's state dir is gone."""
    record = host_record.load()
    if record is None and _holds_legacy_record(paths):
        record = host_record.adopt_legacy(paths.root, hostnet.SET_BY_SANDBOX)
    if record is not None and (record.owned_by(paths.root) or record.orphaned()):
        return record
    return None


def kube_proxy_config(paths: SandboxPaths) -> dict[str, object]:
    network = netplan.network_for(paths)
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "iptables",
        "clusterCIDR": str(network.pod_range),
        "clientConnection": {"kubeconfig": str(paths.kubeconfig)},
        "hostnameOverride": "node-zone-a",
        "bindAddress": "127.0.0.1",
        "healthzBindAddress": f"127.0.0.1:{free_port()}",
        "metricsBindAddress": f"127.0.0.1:{free_port()}",
        "nodePortAddresses": [str(network.node_range)],
        # leave the host's conntrack limits and timeouts alone (0: kube-proxy does not set them)
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        "iptables": {"localhostNodePorts": False, "syncPeriod": "5s", "minSyncPeriod": "0s"},
    }


def start_pool(cluster: Cluster, paths: SandboxPaths, *, cluster_name: str, images: dict[str, str],
               timeout: float) -> PoolInfo:
    """Host network, then per zone containerd (+ images) and kubelet, then proxy and DNS; waits for Ready."""
    bins = nodes.node_bin_dir()
    members = pool_nodes(paths)
    hostnet.prepare_host(_claimed_record(paths), netplan.network_for(paths), nodes=len(members))
    nodes.make_cgroup(POOL_CGROUP)
    for node in members:
        node.state.mkdir(parents=True, exist_ok=True)
        nodes.start_containerd(node, bins, paths)
    imported = nodes.import_images(members, images, work_dir=paths.root / "nodes" / "images")
    pki = paths.kwok_cluster_dir(cluster_name) / "pki"
    _start_dns(paths, context=f"kwok-{cluster_name}")
    for node in members:
        nodes.start_kubelet(node, bins, paths, ca_file=pki / "ca.crt", healthz_port=free_port())
    proxy_config = paths.root / "nodes" / "kube-proxy.yaml"
    proxy_config.write_text(yaml.safe_dump(kube_proxy_config(paths)))
    proxy = processes.spawn("kube-proxy", [str(bins / "kube-proxy"), "--config", str(proxy_config), "--v", "1"],
                            log=paths.log("kube-proxy"), pidfile=paths.pidfile("kube-proxy"), env=child_environment())
    nodes.enter_cgroup(proxy.pid, POOL_CGROUP)
    for node in members:
        enforcer = nodes.start_network_policy(node, bins, paths, metrics_port=free_port())
        nodes.enter_cgroup(enforcer.pid, POOL_CGROUP)
    nodes.wait_nodes_ready(cluster, members, timeout=timeout, paths=paths)
    return PoolInfo(tuple(n.name for n in members), tuple(n.zone for n in members),
                    tuple(n.address for n in members), imported)


def _start_dns(paths: SandboxPaths, *, context: str) -> None:
    address = netplan.network_for(paths).dns_address
    proc = processes.spawn("cluster-dns", [sys.executable, "-m", "harness.sandbox.cluster_dns", "--kubeconfig",
                                           str(paths.kubeconfig), "--context", context, "--address", address],
                           log=paths.log("cluster-dns"), pidfile=paths.pidfile("cluster-dns"), cwd=REPO_ROOT)
    nodes.make_cgroup(POOL_CGROUP)
    nodes.enter_cgroup(proc.pid, POOL_CGROUP)


def restart_dns(paths: SandboxPaths, *, context: str) -> None:
    """Point the cluster DNS at another cluster (scenario 3's new control plane)."""
    proc = processes.read_pidfile(paths.pidfile("cluster-dns"))
    if proc is not None:
        processes.terminate(proc, timeout=5.0)
    _start_dns(paths, context=context)


def stop_pool(paths: SandboxPaths) -> list[str]:
    """Kill every node's processes (containers included), unmount, undo the host changes; returns what is left.

    Also repairs a host whose record's state dir is gone (a crashed or deleted
    sandbox); leaves alone a pool another live sandbox holds.
    """
    left: list[str] = []
    names = [*POOL_PROCESSES, *(f"network-policy-{n.zone}" for n in pool_nodes(paths))]
    procs = [p for p in (processes.read_pidfile(paths.pidfile(name)) for name in names) if p is not None]
    processes.terminate_all(procs, timeout=8.0)  # the policy enforcers remove their nftables tables on SIGTERM
    record = _record_to_repair(paths)
    if _held_elsewhere(paths) or (record is None and host_record.load() is not None):
        # the node cgroups, nftables tables and host routes are the host's, and another sandbox holds them:
        # a kwok sandbox going down beside a real-node one must not take that one's nodes with it
        return left
    for node in pool_nodes(paths):
        nodes.delete_nftables_table(node)
        pids = nodes.kill_cgroup(node.cgroup)
        if pids:
            left.append(f"{node.name}: processes {pids} outlived SIGKILL")
    pids = nodes.kill_cgroup(POOL_CGROUP)  # kube-proxy, DNS and the enforcers, pid files or not
    if pids:
        left.append(f"the pool's processes {pids} outlived SIGKILL")
    nodes.unmount_under(paths.root / "nodes")
    if record is not None:
        if not record.owned_by(paths.root):
            nodes.unmount_under(Path(record.owner) / "nodes")
        left += hostnet.restore_host(record)
    left += nodes.remove_cgroup_tree(f"/{nodes.CGROUP_PARENT}")  # every hierarchy, the unified one included
    shutil.rmtree(paths.root / "nodes", ignore_errors=True)
    if not left:
        release_host(paths)
    return left
