"""A drill on a real target touches only what it owns: refusals come before any write, and a DR environment it did
not claim is never torn down (the staging config on the sandbox's control plane; tests/integration/drills/staging.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from harness.measure.canary import CANARY_PREFIX
from harness.ownership import CLAIM_CONFIGMAP, RUN_LABEL
from harness.platform.client import ObjectNotFound
from harness.sandbox import SandboxInfo
from tests.integration.drills.staging import (
    DR_NAMESPACE,
    Staging,
    dump_results,
    production_state,
    start_staging,
)
from tests.integration.drills.test_staging_on_sandbox import run_staging

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]


@pytest.fixture(scope="module")
def staging(drill_sandbox: SandboxInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Staging]:
    yield from start_staging(drill_sandbox, tmp_path_factory.mktemp("ownership-dr"))


def _config(staging: Staging, tmp_path: Path, **changes: Any) -> Path:
    """The staging config with `changes` applied (a value None removes the key)."""
    config = yaml.safe_load(staging.config_file.read_text())
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    path = tmp_path / "staging-changed.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _store_keys(staging: Staging) -> set[str]:
    from harness.backup.store import open_store
    from harness.sandbox.aws import sandbox_aws

    store = open_store(staging.sandbox.store_url, aws=sandbox_aws(staging.sandbox.s3_endpoint))
    return {o.key for o in store.list("")}


def _canaries(staging: Staging) -> int:
    client = redis.Redis.from_url(staging.sandbox.redis_url, password=staging.sandbox.redis_password())
    return sum(1 for _ in client.scan_iter(match=f"{CANARY_PREFIX}*", count=1000))


@pytest.mark.parametrize(("selection", "changes", "named"), [
    ("scenario-2", {"allowed_targets": []}, "allowed_targets"),
    ("scenario-3", {"pinned_api_server": None, "pinned_kube_system_uid": None}, "target pin"),
    ("scenario-4", {"allowed_targets": ["another"]}, "allowed_targets"),
], ids=["not-allowed", "unpinned", "not-allowed-scenario-4"])
def test_a_refused_target_is_refused_before_the_first_write(staging: Staging, tmp_path: Path, selection: str,
                                                            changes: dict[str, Any], named: str) -> None:
    before, canaries, objects = production_state(staging), _canaries(staging), _store_keys(staging)
    run = run_staging(staging, selection, tmp_path, DRILL_CONFIG=str(_config(staging, tmp_path, **changes)))
    assert run.code == 2, run.output[-3000:]
    assert named in run.output and "refusing" in run.output
    assert not (tmp_path / "drill-results.json").exists(), "pytest ran: the Given steps had their chance to write"
    assert (_canaries(staging), _store_keys(staging)) == (canaries, objects), "something was written before the refusal"
    assert before.differences(production_state(staging)) == []


def test_a_dr_environment_holding_someone_elses_objects_and_keys_is_left_as_it_is(
        staging: Staging, tmp_path: Path) -> None:
    """INVALID (not empty), and the teardown removes nothing it did not create: not the ConfigMap that shares the
    stack's name, not the key in the DR Redis."""
    cluster = staging.cluster()
    foreign = {"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "sentinel-config", "namespace": DR_NAMESPACE}, "data": {"owner": "another team"}}
    cluster.request("POST", f"/api/v1/namespaces/{DR_NAMESPACE}/configmaps", body=foreign)
    staging.dr_redis.client().set("another-team:key", "must stay")
    try:
        run = run_staging(staging, "scenario-3", tmp_path)
        verdicts = run.verdicts()
        assert run.code == 1 and set(verdicts.values()) == {"INVALID"}, dump_results(run.results)
        reason = run.scenario("scenario-3")["reason"]
        assert "the DR Redis holds 1 keys" in reason
        kept = cluster.get(f"/api/v1/namespaces/{DR_NAMESPACE}/configmaps/sentinel-config")
        assert kept["data"] == {"owner": "another team"}
        assert staging.dr_redis.client().get("another-team:key") == b"must stay"
        with pytest.raises(ObjectNotFound):  # nothing was claimed
            cluster.get(f"/api/v1/namespaces/{DR_NAMESPACE}/configmaps/{CLAIM_CONFIGMAP}")
    finally:
        cluster.request("DELETE", f"/api/v1/namespaces/{DR_NAMESPACE}/configmaps/sentinel-config")
        staging.dr_redis.client().delete("another-team:key")


def test_after_a_drill_the_dr_environment_holds_nothing_of_the_run(staging: Staging, tmp_path: Path) -> None:
    run = run_staging(staging, "scenario-3", tmp_path)
    assert run.code == 0, f"{dump_results(run.results)}\n{run.output[-3000:]}"
    run_id = run.results["meta"]["run_id"]
    claim = run.scenario("scenario-3")["details"]["loss"]
    assert json.dumps(claim)  # the loss record names the DR environment it proved distinct
    cluster = staging.cluster()
    left = []
    for plural in ("configmaps", "secrets", "services"):
        items = cluster.list_items(f"/api/v1/namespaces/{DR_NAMESPACE}/{plural}", labelSelector=RUN_LABEL)
        left += [f"{plural}/{i['metadata']['name']}" for i in items]
    for plural in ("deployments", "statefulsets"):
        items = cluster.list_items(f"/apis/apps/v1/namespaces/{DR_NAMESPACE}/{plural}", labelSelector=RUN_LABEL)
        left += [f"{plural}/{i['metadata']['name']}" for i in items]
    assert left == [], f"run {run_id} left {left}"
    assert int(staging.dr_redis.client().dbsize()) == 0
