"""Plain `chaos run` is guarded like the drill: a non-sandbox target needs confirmation AND its pinned cluster.

The "staging" target here is the session sandbox's own API server reached
through a non-sandbox config: exactly the case where a name alone proves
nothing. Every refusal must leave the cluster as it was: no node cordoned,
no pod evicted or deleted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.platform import nodes
from harness.platform.client import Cluster, namespaced
from harness.sandbox import SandboxInfo

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
ZONE = "zone-a"


@pytest.fixture
def staging_config(sandbox: SandboxInfo, tmp_path: Path) -> Path:
    """A non-sandbox config for the sandbox's cluster, allow-listed and pinned with `sentinel-drill target pin`."""
    path = tmp_path / "staging.yaml"
    path.write_text(yaml.safe_dump({
        "target": "staging", "allowed_targets": ["staging"], "kubeconfig": str(sandbox.kubeconfig),
        "context": sandbox.context, "namespace": sandbox.namespace, "health_url": sandbox.health_url,
    }))
    pin = subprocess.run([sys.executable, "-m", "harness.cli", "target", "pin", "--config", str(path)],
                         env=_env(sandbox, path), capture_output=True, text=True, timeout=60, check=False)
    assert pin.returncode == 0, pin.stderr
    return path


def _env(sandbox: SandboxInfo, config: Path, **extra: str) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("DRILL_")}
    return {**inherited, **sandbox.env(include_secrets=True), "DRILL_TARGET": "staging",
            "DRILL_CONFIG": str(config), **extra}


def _chaos_run(name: str, env: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    journal = tmp_path / f"{name}.journal.json"
    chaos = Path(sys.executable).with_name("chaos")
    subprocess.run(
        [str(chaos), "--no-version-check", "--no-log-file", "run", "--rollback-strategy", "always",
         "--journal-path", str(journal), str(EXPERIMENTS / f"{name}.json")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )
    return dict(json.loads(journal.read_text()))


def _entry(journal: dict[str, Any], activity: str, part: str = "run") -> dict[str, Any]:
    entries = [e for e in journal[part] if e["activity"]["name"] == activity]
    assert entries, f"{activity} never ran ({part}): {[e['activity']['name'] for e in journal[part]]}"
    return dict(entries[0])


def _pod_uids(cluster: Cluster, namespace: str) -> set[str]:
    return {p["metadata"]["uid"] for p in cluster.list_items(namespaced("v1", "pods", namespace))}


def _wrong_pin(config: Path) -> None:
    data = yaml.safe_load(config.read_text())
    data["pinned_kube_system_uid"] = "00000000-0000-4000-8000-0000000000ff"  # some other cluster's
    config.write_text(yaml.safe_dump(data))


def test_target_pin_records_the_live_clusters_identity(staging_config: Path, cluster: Cluster):
    pinned = yaml.safe_load(staging_config.read_text())
    kube_system = cluster.get("/api/v1/namespaces/kube-system")
    assert pinned["pinned_kube_system_uid"] == kube_system["metadata"]["uid"]
    assert pinned["pinned_api_server"] == cluster.server.rstrip("/")


def test_zone_drain_without_confirmation_is_refused_and_cordons_nothing(
        sandbox: SandboxInfo, staging_config: Path, cluster: Cluster, tmp_path: Path):
    pods_before = _pod_uids(cluster, sandbox.namespace)
    journal = _chaos_run("zone-drain", _env(sandbox, staging_config), tmp_path)
    drain = _entry(journal, "drain-zone")
    assert drain["status"] == "failed" and "without confirmation" in json.dumps(drain), drain
    assert "without confirmation" in json.dumps(_entry(journal, "scale-brain-up"))
    assert nodes.unschedulable_nodes(cluster, ZONE) == ()
    assert _pod_uids(cluster, sandbox.namespace) == pods_before  # nothing evicted
    # the undo needs no confirmation: the pinned cluster's rollbacks ran
    assert _entry(journal, "uncordon-zone", "rollbacks")["status"] == "succeeded"


def test_zone_drain_on_another_cluster_than_the_pinned_one_is_refused(
        sandbox: SandboxInfo, staging_config: Path, cluster: Cluster, tmp_path: Path):
    _wrong_pin(staging_config)
    pods_before = _pod_uids(cluster, sandbox.namespace)
    journal = _chaos_run("zone-drain", _env(sandbox, staging_config, DRILL_CONFIRM_DESTRUCTIVE="staging"), tmp_path)
    drain = _entry(journal, "drain-zone")
    assert drain["status"] == "failed" and "not the pinned" in json.dumps(drain), drain
    assert nodes.unschedulable_nodes(cluster, ZONE) == ()
    assert _pod_uids(cluster, sandbox.namespace) == pods_before
    assert _entry(journal, "uncordon-zone", "rollbacks")["status"] == "failed"  # not even an undo elsewhere


@pytest.mark.parametrize(("confirm", "wrong_pin", "reason"), [
    ("", False, "without confirmation"),
    ("staging", True, "not the pinned"),
], ids=["unconfirmed", "another-cluster"])
def test_pod_kill_refused_deletes_no_pod(
        sandbox: SandboxInfo, staging_config: Path, cluster: Cluster, tmp_path: Path,
        confirm: str, wrong_pin: bool, reason: str):
    if wrong_pin:
        _wrong_pin(staging_config)
    pods_before = _pod_uids(cluster, sandbox.namespace)
    journal = _chaos_run("pod-kill", _env(sandbox, staging_config, DRILL_CONFIRM_DESTRUCTIVE=confirm), tmp_path)
    kill = _entry(journal, "terminate-brain-pods")
    assert kill["status"] == "failed" and reason in json.dumps(kill), kill
    assert _pod_uids(cluster, sandbox.namespace) == pods_before


def test_pod_kill_confirmed_on_the_pinned_cluster_runs(
        sandbox: SandboxInfo, staging_config: Path, cluster: Cluster, tmp_path: Path):
    """The control: with everything in order the same experiment does kill a pod and recovers."""
    pods_before = _pod_uids(cluster, sandbox.namespace)
    journal = _chaos_run("pod-kill", _env(sandbox, staging_config, DRILL_CONFIRM_DESTRUCTIVE="staging"), tmp_path)
    kill = _entry(journal, "terminate-brain-pods")
    assert kill["status"] == "succeeded", kill
    assert len(kill["output"]) == 1, kill
    assert (journal["status"], journal["deviated"]) == ("completed", False)
    assert _pod_uids(cluster, sandbox.namespace) != pods_before

