"""The sandbox deploys deploy/ as committed, plus fresh secret values and the readiness delay — nothing else."""

from __future__ import annotations

import base64

from harness.platform.manifests import load_manifests
from harness.platform.stack import DEPLOY_DIR
from harness.sandbox.stack import JITTER_ANNOTATION, READY_ANNOTATION, stack_objects


def test_secrets_get_fresh_values_and_pods_the_configured_readiness_delay() -> None:
    first = stack_objects(redis_password="pw-1", ready_delay="250ms", ready_jitter="500ms")
    second = stack_objects(redis_password="pw-1")
    secret = {o["metadata"]["name"]: o for o in first if o["kind"] == "Secret"}
    assert base64.b64decode(secret["sentinel-redis"]["data"]["password"]) == b"pw-1"
    assert set(secret["sentinel-auth"]["data"]) == {"api-keys", "jwt-secret"}
    other = {o["metadata"]["name"]: o for o in second if o["kind"] == "Secret"}
    assert other["sentinel-auth"]["data"]["jwt-secret"] != secret["sentinel-auth"]["data"]["jwt-secret"]
    for o in first:
        if o["kind"] in ("Deployment", "StatefulSet"):
            annotations = o["spec"]["template"]["metadata"]["annotations"]
            assert (annotations[READY_ANNOTATION], annotations[JITTER_ANNOTATION]) == ("250ms", "500ms")


def test_the_stack_can_be_moved_to_another_namespace_without_touching_the_files() -> None:
    moved = stack_objects(redis_password="x", namespace="sentinel-clean")
    assert moved[0]["kind"] == "Namespace" and moved[0]["metadata"]["name"] == "sentinel-clean"
    assert {o["metadata"].get("namespace") for o in moved[1:]} == {"sentinel-clean"}
    committed = load_manifests(DEPLOY_DIR)
    assert all(o["metadata"].get("namespace", "sentinel") == "sentinel" for o in committed)
    assert not any("data" in o for o in committed if o["kind"] == "Secret")


def test_a_moved_stack_reaches_only_its_own_namespace() -> None:
    """Scenario 4's clean namespace must not call the compromised one: no object names another namespace's
    Service (on real nodes the clean Gateways pointed at the isolated `sentinel` and crash-looped)."""
    import json

    moved = json.dumps(stack_objects(redis_password="x", namespace="sentinel-clean"))
    assert ".sentinel.svc" not in moved
    assert ".sentinel:" not in moved
