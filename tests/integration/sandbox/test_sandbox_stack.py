"""The reference stack on the sandbox behaves like the runbook says: replaced pods, zone drains, health."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from harness.measure.clock import FAULT_CONFIRMED, FAULT_INJECTED, VERIFIED, RecoveryClock
from harness.platform.client import Cluster
from harness.platform.manifests import apply_manifests, load_manifests
from harness.platform.nodes import drain_zone, uncordon_zone, unschedulable_nodes
from harness.platform.pods import (
    delete_pods,
    list_pods,
    pods_by_zone,
    serving_count,
    wait_for_pods_gone,
    wait_for_replacements,
)
from harness.platform.workloads import scale, wait_for_rollout
from harness.sandbox import SandboxInfo, repoint_health
from harness.sandbox.state import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]

BRAIN = "app=sentinel-brain"
NS = "sentinel"


def get_health(url: str, timeout: float = 5.0) -> tuple[int, dict, float]:
    """(status, JSON body, seconds) of one GET."""
    start = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            code, body = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        code, body = exc.code, exc.read()
    return code, json.loads(body), time.monotonic() - start


def wait_for_health(url: str, code: int, timeout: float = 60.0) -> tuple[int, dict, float]:
    deadline = time.monotonic() + timeout
    while True:
        result = get_health(url)
        if result[0] == code or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def test_every_deploy_manifest_applies_with_server_side_dry_run(cluster: Cluster) -> None:
    objects = load_manifests(REPO_ROOT / "deploy")
    applied = apply_manifests(cluster, REPO_ROOT / "deploy", dry_run=True)
    assert [(a.kind, a.name) for a in applied] == [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert all(a.dry_run for a in applied)
    listed = set(yaml.safe_load((REPO_ROOT / "deploy" / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in Path(REPO_ROOT / "deploy").glob("*.yaml")} - {"kustomization.yaml"}


def test_a_deleted_brain_pod_is_replaced_by_a_new_ready_pod_in_measurable_time(
    baseline: Cluster, sandbox: SandboxInfo
) -> None:
    cluster = baseline
    victim = list_pods(cluster, namespace=NS, selector=BRAIN)[0]
    clock = RecoveryClock(resolution_s=0.05)
    deleted = delete_pods(cluster, namespace=NS, selector=BRAIN, names=[victim.name])
    clock.mark(FAULT_INJECTED)
    wait_for_pods_gone(cluster, namespace=NS, selector=BRAIN, uids=deleted.uids, timeout=30)
    clock.mark(FAULT_CONFIRMED)
    replacements = wait_for_replacements(cluster, namespace=NS, selector=BRAIN, deleted=deleted, timeout=60)
    clock.mark(VERIFIED)
    recovery = clock.rto(target_s=60)
    assert deleted.uids == {victim.uid}
    assert replacements.uids.isdisjoint(deleted.before_uids) and len(replacements.pods) == 1
    assert all(p.ready for p in replacements.pods)
    # readiness is delayed 1-2 s by the kwok stage annotation, so recovery is measurable but quick
    assert 0.5 < recovery.measured_s < 30, recovery.describe()


def test_draining_a_zone_moves_brain_to_the_other_zones_within_its_budget(
    baseline: Cluster, sandbox: SandboxInfo
) -> None:
    cluster = baseline
    scale(cluster, "Deployment", "sentinel-brain", 6, namespace=NS)  # two per zone: the budget must hold one back
    wait_for_rollout(cluster, "Deployment", "sentinel-brain", namespace=NS, timeout=60)
    assert len(pods_by_zone(cluster, namespace=NS, selector=BRAIN).get("zone-a", [])) == 2

    lowest: list[int] = [6]
    done = threading.Event()

    def observe() -> None:
        while not done.is_set():
            lowest[0] = min(lowest[0], serving_count(cluster, namespace=NS, selector=BRAIN))
            time.sleep(0.05)

    watcher = threading.Thread(target=observe, daemon=True)
    watcher.start()  # watch before you break
    try:
        result = drain_zone(cluster, "zone-a", timeout=120)
        wait_for_rollout(cluster, "Deployment", "sentinel-brain", namespace=NS, timeout=60)
    finally:
        done.set()
        watcher.join()

    assert set(unschedulable_nodes(cluster, "zone-a")) == set(result.nodes)
    assert sum(1 for e in result.evicted if "/sentinel-brain-" in e) == 2
    assert result.budget_refusals >= 1, "the second eviction should have waited for the PDB"
    assert lowest[0] >= 5, f"ready Brain pods fell to {lowest[0]} during the drain (maxUnavailable 1 of 6)"
    by_zone = pods_by_zone(cluster, namespace=NS, selector=BRAIN)
    assert "zone-a" not in by_zone and sum(len(v) for v in by_zone.values()) == 6

    # the runbook's response: scale to 10 in the healthy zones — spread must not leave pods Pending
    scale(cluster, "Deployment", "sentinel-brain", 10, namespace=NS)
    wait_for_rollout(cluster, "Deployment", "sentinel-brain", namespace=NS, timeout=60)
    by_zone = pods_by_zone(cluster, namespace=NS, selector=BRAIN)
    assert set(by_zone) == {"zone-b", "zone-c"} and sum(len(v) for v in by_zone.values()) == 10

    uncordon_zone(cluster, "zone-a")
    assert unschedulable_nodes(cluster, "zone-a") == ()
    scale(cluster, "Deployment", "sentinel-brain", 11, namespace=NS)
    wait_for_rollout(cluster, "Deployment", "sentinel-brain", namespace=NS, timeout=60)
    assert len(pods_by_zone(cluster, namespace=NS, selector=BRAIN).get("zone-a", [])) == 1


def test_health_is_503_within_a_second_without_brain_and_200_after_scaling_back(
    baseline: Cluster, sandbox: SandboxInfo
) -> None:
    cluster = baseline
    code, body, _ = get_health(sandbox.health_url)
    assert code == 200 and body["status"] == "ok"

    scale(cluster, "Deployment", "sentinel-brain", 0, namespace=NS)
    code, body, seconds = wait_for_health(sandbox.health_url, 503, timeout=30)
    assert code == 503, body
    assert seconds < 1.0
    assert any("sentinel-brain" in r for r in body["reasons"]) and body["checks"]["sentinel-gateway"]["ok"]

    scale(cluster, "Deployment", "sentinel-brain", 3, namespace=NS)
    wait_for_rollout(cluster, "Deployment", "sentinel-brain", namespace=NS, timeout=60)
    code, body, _ = wait_for_health(sandbox.health_url, 200, timeout=30)
    assert code == 200, body


def test_health_answers_within_a_second_when_the_api_is_gone_and_follows_a_repoint(
    sandbox: SandboxInfo, tmp_path: Path
) -> None:
    import socket

    config = yaml.safe_load(sandbox.kubeconfig.read_text())
    silent = socket.socket()  # accepts connections, never answers: the worst case for timeouts
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        for server in (f"https://127.0.0.1:{silent.getsockname()[1]}", "https://127.0.0.1:1"):
            config["clusters"][0]["cluster"]["server"] = server
            dead = tmp_path / f"dead-{server.rsplit(':', 1)[1]}.kubeconfig"
            dead.write_text(yaml.safe_dump(config))
            repoint_health(sandbox.state_dir, kubeconfig=dead, context=sandbox.context)
            code, body, seconds = get_health(sandbox.health_url)
            assert code == 503 and seconds < 1.0, (server, seconds, body)
            assert all("unreachable" in r for r in body["reasons"]), body
    finally:
        silent.close()
        repoint_health(sandbox.state_dir, kubeconfig=sandbox.kubeconfig, context=sandbox.context)
    assert wait_for_health(sandbox.health_url, 200, timeout=10)[0] == 200


def test_health_checks_redis_with_the_password_currently_in_the_file(sandbox: SandboxInfo) -> None:
    current = sandbox.redis_password()
    sandbox.redis_password_file.write_text("not-the-password\n")
    try:
        code, body, _ = get_health(sandbox.health_url)
        assert code == 503 and body["checks"]["redis"] == {"ok": False, "reason": "redis rejected the password"}
        assert current not in json.dumps(body)
    finally:
        sandbox.redis_password_file.write_text(current + "\n")
    assert get_health(sandbox.health_url)[0] == 200
