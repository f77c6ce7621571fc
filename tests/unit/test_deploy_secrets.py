"""The verifier's key and S3 credentials reach the verify CronJob only (deploy/ parsed as YAML).

Whoever holds the backup job's credentials must not be able to sign or write a
verification record: the Secrets that allow it are referenced by one CronJob alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
VERIFIER_KEY_SECRET = "sentinel-backup-verifier-key"
VERIFIER_S3_SECRET = "sentinel-backup-verifier-s3"
VERIFY_CRONJOB = "backup-verify"


def _cronjobs() -> list[dict[str, Any]]:
    # every manifest under deploy/, except the Helm chart's templates (Go templates, not YAML until rendered)
    files = [f for f in sorted(DEPLOY.rglob("*.yaml")) if "templates" not in f.relative_to(DEPLOY).parts]
    docs = (d for f in files for d in yaml.safe_load_all(f.read_text()) if d)
    return [d for d in docs if d.get("kind") == "CronJob"]


def _secret_refs(node: Any) -> Iterator[tuple[str, str | None, bool]]:
    """(secret name, key, optional) for every secretKeyRef, secretRef (envFrom) and secret volume under `node`."""
    if isinstance(node, dict):
        for field, value in node.items():
            if field == "secretKeyRef":
                yield value["name"], value.get("key"), bool(value.get("optional", False))
            elif field == "secretRef":
                yield value["name"], None, bool(value.get("optional", False))
            elif field == "secret" and isinstance(value, dict) and "secretName" in value:
                yield value["secretName"], None, bool(value.get("optional", False))
            else:
                yield from _secret_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _secret_refs(item)


def _env(cronjob: dict[str, Any]) -> dict[str, dict[str, Any]]:
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return {e["name"]: e for c in pod["containers"] for e in c.get("env", [])}


def test_the_verify_cronjob_gets_the_verifier_key_and_its_own_s3_credentials() -> None:
    (verify,) = [c for c in _cronjobs() if c["metadata"]["name"] == VERIFY_CRONJOB]
    key = _env(verify)["DRILL_VERIFIER_KEY"]["valueFrom"]["secretKeyRef"]
    assert (key["name"], key["key"], key.get("optional", False)) == (VERIFIER_KEY_SECRET, "ed25519.key", False)
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert _env(verify)[var]["valueFrom"]["secretKeyRef"]["name"] == VERIFIER_S3_SECRET
    assert {name for name, _, _ in _secret_refs(verify)} == {VERIFIER_KEY_SECRET, VERIFIER_S3_SECRET}


def test_no_other_cronjob_references_the_verifier_secrets() -> None:
    others = [c for c in _cronjobs() if c["metadata"]["name"] != VERIFY_CRONJOB]
    assert {"redis-backup", "config-backup"} <= {c["metadata"]["name"] for c in others}
    for cronjob in others:
        names = {name for name, _, _ in _secret_refs(cronjob)}
        assert not names & {VERIFIER_KEY_SECRET, VERIFIER_S3_SECRET}, cronjob["metadata"]["name"]
        assert "DRILL_VERIFIER_KEY" not in _env(cronjob), cronjob["metadata"]["name"]


def test_the_sandbox_fills_the_verifier_secrets_for_the_verify_cronjob_only() -> None:
    import base64

    from harness.sandbox.pipeline_jobs import pipeline_objects
    from harness.signing import generate_keypair, load_private_key

    pair = generate_keypair()
    objects = pipeline_objects("sandbox-ns", endpoint="http://10.0.0.1:5000", region="us-east-1",
                               verifier_key_pem=pair.private_pem)
    secrets = {o["metadata"]["name"]: o["data"] for o in objects if o["kind"] == "Secret"}
    assert set(secrets) == {"sentinel-backup-s3", VERIFIER_KEY_SECRET, VERIFIER_S3_SECRET}
    pem = base64.b64decode(secrets[VERIFIER_KEY_SECRET]["ed25519.key"]).decode()
    assert load_private_key(pem).public_key() is not None and pem == pair.private_pem
    assert secrets[VERIFIER_S3_SECRET]["secret-access-key"] != secrets["sentinel-backup-s3"]["secret-access-key"]
    jobs = {o["metadata"]["name"]: o for o in objects if o["kind"] == "CronJob"}
    backup_refs = {n for n, _, _ in _secret_refs(jobs["redis-backup"])}
    assert "sentinel-backup-s3" in backup_refs and not backup_refs & {VERIFIER_KEY_SECRET, VERIFIER_S3_SECRET}
    assert {n for n, _, _ in _secret_refs(jobs[VERIFY_CRONJOB])} == {VERIFIER_KEY_SECRET, VERIFIER_S3_SECRET}
    # a clean namespace's pipeline backs up that namespace's Redis, never production's by its old name
    args = jobs["redis-backup"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "redis://redis.sandbox-ns.svc:6379/0" in args
