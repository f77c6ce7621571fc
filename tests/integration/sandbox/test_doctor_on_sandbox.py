"""`doctor` against the kwok sandbox: every row passes; deploy/rbac/'s ServiceAccount passes and, minus one
verb, is named with the scenarios it blocks; a wrong Redis password, a missing bucket and a stale newest
backup are each named (exit 1); and no check changed anything on the target."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.config import Settings
from harness.doctor import DoctorReport, run_doctor
from harness.platform.client import Cluster, namespaced
from harness.platform.manifests import apply_objects, delete_objects, load_manifests
from harness.polling import wait_until
from harness.sandbox import SandboxInfo
from harness.target.sandbox import SandboxTarget
from tests.kubeconfigs import token_kubeconfig

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]
RBAC = Path(__file__).resolve().parents[3] / "deploy" / "rbac"
DR_NAMESPACE = "sentinel-dr"  # the namespace deploy/rbac/dr-role.yaml is written for
SNAPSHOT_KINDS = (("v1", "pods"), ("v1", "services"), ("v1", "configmaps"), ("v1", "secrets"),
                  ("v1", "persistentvolumeclaims"), ("apps/v1", "deployments"), ("apps/v1", "statefulsets"),
                  ("networking.k8s.io/v1", "networkpolicies"), ("policy/v1", "poddisruptionbudgets"))


def _doctor(sandbox: SandboxInfo, settings: Settings | None = None, **info: Any) -> DoctorReport:
    return run_doctor(SandboxTarget(settings or Settings(), replace(sandbox, **info)))


def _failed(report: DoctorReport) -> list[str]:
    return [f"{r.setting}: {r.checked}: {r.result}" for r in report.rows if not r.ok]


def _target_state(cluster: Cluster, sandbox: SandboxInfo) -> dict[str, Any]:
    """What a read-only check must leave as it was: every object's resourceVersion, Redis, the bucket."""
    objects = {f"{plural}/{o['metadata']['name']}": o["metadata"]["resourceVersion"]
               for version, plural in SNAPSHOT_KINDS
               for o in cluster.list_items(namespaced(version, plural, sandbox.namespace))}
    target = SandboxTarget(Settings(), sandbox)
    redis = target.redis()
    key = min(redis.scan(0, count=100)[1])
    store = target.store()
    return {"objects": objects, "dbsize": redis.dbsize(), "key": (key, redis.dump(key)),
            "bucket": sorted((o.key, o.size) for o in store.list(""))}


def test_doctor_passes_every_row_on_the_sandbox(sandbox: SandboxInfo, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "drill.yaml"
    config.write_text(f"sandbox_dir: {sandbox.state_dir}\n")
    assert main(["doctor", "--config", str(config), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert [r for r in answer["rows"] if not r["ok"]] == []
    assert {r["setting"] for r in answer["rows"]} >= {"kubeconfig / context", "redis_url / REDIS_PASSWORD",
                                                      "store_url", "rpo_seconds", "health_url",
                                                      "hosted_zone_id / dns_record_name"}
    assert any(r["checked"] == "create pods/eviction cluster-wide" for r in answer["rows"])
    assert [(s["scenario"], s["can_run"]) for s in answer["scenarios"]] == [
        ("scenario-1", True), ("scenario-2", True), ("scenario-3", True), ("scenario-4", True)]


def test_a_config_error_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "drill.yaml"
    config.write_text("rpo_seconds: -1\n")
    assert main(["doctor", "--config", str(config)]) == 2


@pytest.fixture
def restricted_kubeconfig(cluster: Cluster, sandbox: SandboxInfo, tmp_path: Path) -> Iterator[Path]:
    """deploy/rbac/ applied to the sandbox (it brings the DR namespace it names); removed afterwards."""
    objects = load_manifests(RBAC)
    try:
        apply_objects(cluster, objects)
        yield token_kubeconfig(cluster, sandbox, namespace="sentinel-drill", account="sentinel-drill",
                              path=tmp_path / "drill-sa.kubeconfig", context="drill-sa")
    finally:
        delete_objects(cluster, objects)


def _without_pod_delete(role: dict[str, Any]) -> dict[str, Any]:
    rules = [{**rule, "verbs": [v for v in rule["verbs"] if v != "delete"]} if rule["resources"] == ["pods"]
             else rule for rule in role["rules"]]
    return {**role, "rules": rules}


def test_the_restricted_service_account_passes_and_minus_one_verb_is_named(
        cluster: Cluster, sandbox: SandboxInfo, restricted_kubeconfig: Path) -> None:
    settings = Settings(dr_namespace=DR_NAMESPACE)
    as_drill = {"kubeconfig": restricted_kubeconfig, "context": "drill-sa"}
    full = _doctor(sandbox, settings, **as_drill)
    assert _failed(full) == [] and full.exit_code == 0
    assert any("DR namespace sentinel-dr" in r.setting for r in full.rows)

    [role] = [o for o in load_manifests(RBAC / "production-role.yaml") if o["kind"] == "Role"]
    apply_objects(cluster, [_without_pod_delete(role)])

    def denied() -> DoctorReport | None:  # the RBAC authorizer's cache follows the change within moments
        report = _doctor(sandbox, settings, **as_drill)
        return report if report.exit_code else None

    report = wait_until(denied, timeout=20, interval=0.5, what="the removed verb to be denied",
                        describe=lambda: "still allowed")
    assert _failed(report) == ["RBAC namespace sentinel: delete pods in namespace sentinel: DENIED"]
    assert [r.blocks for r in report.rows if not r.ok] == [("scenario-1",)]
    verdicts = {v.scenario: v.describe() for v in report.verdicts()}
    assert verdicts["scenario-1"] == "blocked by delete pods in namespace sentinel: DENIED"
    assert [s for s, v in verdicts.items() if v == "can run"] == ["scenario-2", "scenario-3", "scenario-4"]


def test_wrong_password_missing_bucket_and_stale_backup_are_each_named_and_nothing_changes(
        cluster: Cluster, sandbox: SandboxInfo, tmp_path: Path) -> None:
    before = _target_state(cluster, sandbox)
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not-the-password")

    wrong_password = _doctor(sandbox, redis_password_file=wrong)
    assert wrong_password.exit_code == 1
    [redis_row] = [r for r in wrong_password.rows if not r.ok]
    assert redis_row.setting == "redis_url / REDIS_PASSWORD" and redis_row.result.startswith("wrong password")
    assert all(not v.can_run for v in wrong_password.verdicts())

    missing_bucket = _doctor(sandbox, bucket="no-such-drill-bucket")
    assert missing_bucket.exit_code == 1
    assert any(r.setting == "store_url" and "bucket no-such-drill-bucket does not exist" in r.result
               for r in missing_bucket.rows if not r.ok)
    assert {v.scenario for v in missing_bucket.verdicts() if not v.can_run} == {"scenario-3", "scenario-4"}

    stale = _doctor(sandbox, Settings(rpo_seconds=1))
    assert [(r.setting, "stale, older than the RPO 1s" in r.result) for r in stale.rows if not r.ok] == [
        ("rpo_seconds", True)]
    assert stale.exit_code == 1

    assert _target_state(cluster, sandbox) == before
