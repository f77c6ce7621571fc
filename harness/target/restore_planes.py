"""The restore planes a target hands the restore gate, built from the target's own coordinates.

One place for what the cluster targets share: the Kubernetes volume plane (the
runbook's file restore, its scale to 0 and helper pod written into the run's undo
ledger first) and the network plane (DUMP/RESTORE into a Redis whose volume is
out of reach). Snapshots of a non-empty Redis go to the target's store.
"""

from __future__ import annotations

from harness.backup.store import BackupStore
from harness.platform.client import Cluster
from harness.restore.network_plane import NetworkPlane
from harness.restore.volume_plane import KubernetesVolumePlane, RedisVolumeOps
from harness.target.base import Target
from harness.undo import LedgerNotes, ledger_for


def volume_plane(target: Target, cluster: Cluster, ops: RedisVolumeOps) -> KubernetesVolumePlane:
    """The StatefulSet `redis` of the target's namespace, reached for counts and snapshots through its Redis URL."""
    return KubernetesVolumePlane(ops, target.namespace, client=target.redis, url=lambda: target.redis_url,
                                 password=target.redis_password(), snapshot_store=_store(target),
                                 undo=LedgerNotes(ledger_for(target), cluster), run_id=target.settings.run_id)


def network_plane(target: Target) -> NetworkPlane:
    """The target's Redis as a network peer (`redis_restore_method: network`)."""
    return NetworkPlane(target.redis_url, target.redis_password(), snapshot_store=_store(target))


def _store(target: Target) -> BackupStore | None:
    """Where a snapshot of a non-empty Redis goes; None without a store (a restore over data is then refused)."""
    return target.store() if target.settings.store_url else None
