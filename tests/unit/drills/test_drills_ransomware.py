"""Scenario 4 through the real compromise experiment against the FakeTarget, and its scan and rotation
on a real FileStore and a real redis-server."""

from __future__ import annotations

import time

from harness.backup.catalog import list_backups
from harness.backup.manifest import PIPELINE
from harness.backup.take import take_backup
from harness.backup.verify import verify_backup
from harness.drills import assessment, configuration, ransomware, recovery
from harness.evidence.record import Verdict
from harness.platform.client import APPLY_PATCH
from tests.fakes.target import BRAIN, verdict_of

POLICY_PATH = f"/apis/networking.k8s.io/v1/namespaces/sentinel/networkpolicies/{ransomware.POLICY}"


def test_the_isolation_is_proven_held_past_the_experiment_and_lifted_when_the_scenario_ends(
        target, primary, new_drill):
    drill = new_drill(target)

    proof = ransomware.isolate_namespace(drill, target)
    ransomware.confirm_isolated(drill, proof)

    policy = primary.get(POLICY_PATH)  # still there: held until the recovery is verified
    assert policy["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []}
    assert proof["policy_types"] == ["Egress", "Ingress"] and proof["rolled_back"] == ["succeeded"]
    assert drill.clock.has("fault_confirmed")
    assert ("DELETE", POLICY_PATH) not in primary.requests

    drill.finish()

    assert ("networkpolicies", "sentinel", ransomware.POLICY) not in primary.objects
    assert drill.record.details["isolation_lifted"]["was_present"] is True


def test_the_tampered_copy_is_rejected_by_the_scan_and_the_store_layout_is_untouched(redis_target, new_drill, data):
    data.seed(redis_target.redis(), n=5)
    drill = new_drill(redis_target)
    own = recovery.take_verified_backup(drill, redis_target)
    before = [e.id for e in list_backups(redis_target.store())]

    quarantine = ransomware.plant_tampered_backup(drill, redis_target, own.backup.id)
    scan = ransomware.scan_backups(drill, quarantine)
    chosen = ransomware.require_tampered_rejected(scan, quarantine)

    assert chosen.backup_id == own.backup.id
    assert [r.backup_id for r in scan.rejected] == [quarantine.tampered_id]
    assert [e.id for e in list_backups(redis_target.store())] == before  # nothing planted in the normal layout


def test_rotation_gives_every_secret_a_new_value_and_only_the_new_redis_password_works(
        redis_target, redis_server, primary, new_drill):
    primary.request("PATCH", "/api/v1/namespaces/sentinel/secrets/sentinel-redis", content_type=APPLY_PATCH,
                    body={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sentinel-redis"},
                          "stringData": {"password": redis_server.password, "api-token": "t0ken"}})
    drill = new_drill(redis_target)

    old_namespace = ransomware.deploy_clean(drill, redis_target)
    passwords = ransomware.rotate_every_secret(drill, redis_target, old_namespace=old_namespace)
    ransomware.require_password_rotated(drill, redis_target, passwords)

    assert old_namespace == "sentinel" and redis_target.namespace.startswith("sentinel-clean-")
    assert redis_target.calls == [f"deploy_clean_namespace:{redis_target.namespace}", "provision_cluster",
                                  "rotate_redis_password"]
    assert primary.deployment_available(BRAIN, namespace=redis_target.namespace)
    assert drill.record.details["password_proof"] == {"old_password_reply": "-WRONGPASS", "new_password_reply": "+OK"}
    assert passwords.old == redis_server.password and passwords.new not in repr(passwords)


def test_where_the_cluster_enforces_policy_a_probe_pod_proves_the_isolation(make_target, primary, new_drill):
    target = make_target(isolation_probe_image="busybox:1.36")
    drill = new_drill(target)
    proof = ransomware.isolate_namespace(drill, target)
    ransomware.confirm_isolated(drill, proof)
    assert proof["connection_attempt"]["connected"] is False and proof["enforcement"].startswith("proven")
    assert not [k for k in primary.objects if k[0] == "pods" and k[2].startswith("drill-isolation-probe")]


def test_a_probe_pod_that_still_connects_leaves_the_isolation_unproven(make_target, primary, new_drill):
    target = make_target(isolation_probe_image="busybox:1.36")
    primary.enforces_policies = False
    drill = new_drill(target)
    proof = ransomware.isolate_namespace(drill, target)
    verdict, reason = verdict_of(lambda: ransomware.confirm_isolated(drill, proof))
    assert verdict is Verdict.INVALID and "does not enforce it" in reason



BRAIN_IMAGE = "ghcr.io/sentinel-platform/sentinel-brain:2.4.1"
CLEAN_IMAGES = (BRAIN_IMAGE, "ghcr.io/sentinel-platform/sentinel-gateway:2.4.1", "redis:7.0.15-alpine")


def test_the_assessment_names_a_changed_image_tag_and_a_digest_not_known_good_stops_the_clean_deploy(
        make_target, redis_server, primary, new_drill, data):
    target = make_target(redis_server, config_secrets=("sentinel-redis",), config_maps=(),
                         known_good_images={image: "sha256:good" for image in CLEAN_IMAGES})
    data.seed(target.redis(), n=5)
    # hashtable-encoded: the same members serialise in another order once loaded from the RDB
    target.redis().sadd("tenant:big", *[f"member-{i}" for i in range(300)])
    primary.request("PATCH", "/api/v1/namespaces/sentinel/secrets/sentinel-redis", content_type=APPLY_PATCH,
                    body={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sentinel-redis"},
                          "data": {"password": "c2VjcmV0"}})
    backup = take_backup(target.redis_url, target.store(), password=target.redis_password(), origin=PIPELINE)
    assert verify_backup(target.store(), backup.id, min_keys=10).passed
    time.sleep(1.1)  # the Secret was written a second before the export: not a change since
    assert configuration.take_config_backup(target).written
    time.sleep(1.1)  # object timestamps have 1 s resolution
    # the attacker: a new tag for Brain, a session planted, a user removed
    primary.request("PATCH", "/apis/apps/v1/namespaces/sentinel/deployments/sentinel-brain", body={
        "spec": {"template": {"spec": {"containers": [{"name": "brain", "image": f"{BRAIN_IMAGE}-x"}]}}}})
    target.redis().set("session:planted", "planted-value-7f3a")
    target.redis().delete("user:0")
    drill = new_drill(target)

    found = assessment.assess_compromise(drill, target)

    assert found.changed_images == (
        f"Deployment/sentinel-brain brain: runs {BRAIN_IMAGE}-x, the clean deploy {BRAIN_IMAGE}",)
    assert [c.split(": ")[0] for c in found.changed_objects] == ["Deployment/sentinel-brain"]
    assert found.compared_backup == backup.id
    keys = {d.prefix: d for d in found.key_differences}
    assert (keys["session:"].added, keys["session:"].sample_added) == (1, ("session:planted",))
    assert (keys["user:"].removed, keys["user:"].sample_removed) == (1, ("user:0",))
    assert set(keys) == {"session:", "user:"}  # nothing else changed: equal values are equal however encoded
    assert "planted-value" not in str(drill.record.details["assessment"])  # names, never values

    target.image_digests = {image: "sha256:good" for image in CLEAN_IMAGES} | {BRAIN_IMAGE: "sha256:pushed"}
    verdict, reason = verdict_of(lambda: ransomware.deploy_clean(drill, target))

    assert verdict is Verdict.FAIL
    assert f"the clean deploy stopped: {BRAIN_IMAGE} resolves to sha256:pushed, known-good is sha256:good" in reason
    assert not [c for c in target.calls if c.startswith("deploy_clean_namespace")]


def test_the_clean_deploy_runs_when_every_image_resolves_to_its_known_good_digest(make_target, new_drill):
    target = make_target(known_good_images={image: "sha256:good" for image in CLEAN_IMAGES})
    target.image_digests = {image: "sha256:good" for image in CLEAN_IMAGES}
    drill = new_drill(target)

    ransomware.deploy_clean(drill, target)

    assert drill.record.details["image_check"]["refused"] == []
    assert [c for c in target.calls if c.startswith("deploy_clean_namespace")]
