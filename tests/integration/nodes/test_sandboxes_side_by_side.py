"""A kwok sandbox started and stopped beside the real-node one leaves the real nodes running.

The node cgroups (`/sentinel-drill/<zone>`), nftables tables and host routes are the host's; only the
sandbox holding the host's real-node pool may tear them down.
"""

from __future__ import annotations

from pathlib import Path

from harness.platform.client import Cluster
from harness.sandbox import SandboxInfo, processes, sandbox_down, sandbox_up
from harness.sandbox.node_pool import pool_nodes
from harness.sandbox.state import SandboxPaths


def _ready_nodes(cluster: Cluster) -> set[str]:
    return {n["metadata"]["name"] for n in cluster.list_items("/api/v1/nodes")
            if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions") or [])}


def test_a_kwok_sandbox_going_down_does_not_take_the_real_nodes_with_it(real_sandbox: SandboxInfo,
                                                                       real_cluster: Cluster, tmp_path: Path) -> None:
    paths = SandboxPaths(real_sandbox.state_dir)
    nodes = pool_nodes(paths)
    # each node's long-lived processes (its containers come and go on their own)
    daemons = {name: processes.read_pidfile(paths.pidfile(name))
               for node in nodes for name in (f"kubelet-{node.zone}", f"containerd-{node.zone}")}
    assert all(p is not None and processes.is_running(p) for p in daemons.values()), daemons
    assert _ready_nodes(real_cluster) >= {node.name for node in nodes}
    try:
        sandbox_up(tmp_path / "beside", cluster_name="beside", nodes="kwok", keys=100, timeout=180)
    finally:
        sandbox_down(tmp_path / "beside")  # also after a failed up: nothing is left beside the shared sandbox
    killed = [name for name, proc in daemons.items() if proc is None or not processes.is_running(proc)]
    assert killed == [], f"the kwok sandbox's down killed {killed}"
    assert _ready_nodes(real_cluster) >= {node.name for node in nodes}
