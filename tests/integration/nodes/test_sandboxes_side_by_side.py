"""A kwok sandbox started and stopped beside the real-node one leaves the real nodes running.

The node cgroups (`/sentinel-drill/<zone>`), nftables tables and host routes are the host's; only the
sandbox holding the host's real-node pool may tear them down.
"""

from __future__ import annotations

from pathlib import Path

from harness.platform.client import Cluster
from harness.sandbox import SandboxInfo, sandbox_down, sandbox_up
from harness.sandbox.node_pool import pool_nodes
from harness.sandbox.nodes import cgroup_pids
from harness.sandbox.state import SandboxPaths


def _ready_nodes(cluster: Cluster) -> set[str]:
    return {n["metadata"]["name"] for n in cluster.list_items("/api/v1/nodes")
            if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions") or [])}


def test_a_kwok_sandbox_going_down_does_not_take_the_real_nodes_with_it(real_sandbox: SandboxInfo,
                                                                       real_cluster: Cluster, tmp_path: Path) -> None:
    nodes = pool_nodes(SandboxPaths(real_sandbox.state_dir))
    before = {node.zone: cgroup_pids(node.cgroup) for node in nodes}
    assert all(before.values()) and _ready_nodes(real_cluster) >= {node.name for node in nodes}
    sandbox_up(tmp_path / "beside", cluster_name="beside", nodes="kwok", keys=100, timeout=180)
    sandbox_down(tmp_path / "beside")
    after = {node.zone: cgroup_pids(node.cgroup) for node in nodes}
    assert all(before[zone] <= after[zone] for zone in before), "a node's processes were killed"
    assert _ready_nodes(real_cluster) >= {node.name for node in nodes}
