"""The store's IAM policies (deploy/iam/) let each identity do what the harness does with them, and no more.

A moto server of its own, with IAM enforcement on (INITIAL_NO_AUTH_ACTION_COUNT: the
first N requests are unauthenticated, every later one is checked against the caller's
policies). Each shipped policy is loaded as it is, its names replaced by this test's
bucket, log bucket and hosted zone, and the harness's own functions run with that
identity's credentials: the pipeline's backup and log archive (backup-writer.json), the
verify job's record (backup-verifier.json), and every store and Route 53 call the drill
scenarios make (drill.json), scenario 4's quarantine and the evidence upload included.
A policy that misses an action the code needs fails here with AccessDenied.

moto evaluates Allow and Deny statements with `*` wildcards in Action and Resource, an
explicit Deny winning. Its quirks, each handled in one place (`_moto_document`):
- it checks HEAD on a bucket as the action `s3:HeadBucket` (AWS checks `s3:ListBucket`,
  which the policies grant), so each user also gets that one pseudo-action;
- it passes `*` as the resource of every Route 53 call, so the policies' Route 53 ARNs
  become `*` here: the actions are tested, the zone scoping is not;
- it ignores condition operators it does not know (`ForAllValues:StringEquals`), so the
  condition keeping the drill to its own DNS record is checked by reading the policy;
- its signature check fails every Route 53 GET (GetHostedZone, ListResourceRecordSets)
  whoever signs, so the record the drill changed is read back through moto's own API.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from harness.aws import AwsAccess
from harness.backup import open_store, take_backup, verify_backup
from harness.backup.layout import rdb_key, stray_verify_key, verify_key
from harness.backup.log_archive import archive_logs
from harness.coverage.rows import logs_row
from harness.dns import point_record
from harness.drills import cluster_loss, configuration, pipeline, ransomware, recovery
from harness.drills.restore_point import pipeline_restore_point
from harness.drills.scenario import DrillScenario
from harness.errors import AuthFailed, StoreError
from harness.evidence.bundle import build_bundle
from harness.evidence.record import ScenarioRecord
from harness.evidence.upload import upload_bundle
from harness.ledger import read_store_records
from harness.platform.client import APPLY_PATCH
from harness.polling import poll
from harness.redis_process import free_port
from harness.restore import restore_backup
from harness.safety import CONFIRM_ENV
from harness.sandbox.processes import port_listening
from harness.undo import ledger_for
from tests.fakes.cluster import FakeCluster
from tests.fakes.target import BRAIN, TARGET_NAME, FakeTarget, fake_settings

pytestmark = pytest.mark.integration

IAM_DIR = Path(__file__).resolve().parents[2] / "deploy" / "iam"
#: requests moto serves before it starts checking: create the admin user, its policy and its key
UNCHECKED_REQUESTS = 3
REGION = "us-east-1"
ZONE = "sentinel.example.com"
#: the drill's own record in drill.json (the policies' example names are this test's zone)
DRILL_RECORD = "dr-drill.sentinel.example.com"
PRODUCTION_RECORD = "sentinel.sentinel.example.com"
#: the store prefixes drill.json lets the drill write, each for a call the test below makes (deploy/iam/README.md)
DRILL_WRITES = ("redis/", "verifications/redis/", "drill-quarantine/", "config/", "snapshots/redis/", "drill-ledger/",
                "evidence/")
#: what the drill may never do to the store, whatever else it holds (moto checks neither bypassing governance
#: retention nor a retention change against the lock, so these stay a reading of the policy)
DRILL_NEVER = {"s3:BypassGovernanceRetention", "s3:DeleteObject", "s3:DeleteObjectVersion",
               "s3:PutBucketObjectLockConfiguration", "s3:PutLifecycleConfiguration", "s3:PutBucketPolicy",
               "s3:PutBucketVersioning"}


def _client(service: str, endpoint: str, key: dict[str, str] | None = None) -> Any:
    creds = key or {"AccessKeyId": "bootstrap", "SecretAccessKey": "bootstrap"}
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                        config=botocore.config.Config(retries={"max_attempts": 1},
                                                      s3={"addressing_style": "path"}))


@pytest.fixture(scope="module")
def enforcing_moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("moto-iam") / "moto.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(UNCHECKED_REQUESTS)
    with log.open("w") as out:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        assert poll(lambda: True if port_listening(port) else None, timeout=30, interval=0.05), log.read_text()
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def admin(enforcing_moto: str) -> dict[str, str]:
    """The only identity made while moto does not check yet; it makes everything else."""
    iam = _client("iam", enforcing_moto)
    iam.create_user(UserName="admin")
    iam.put_user_policy(UserName="admin", PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="admin")["AccessKey"]
    with pytest.raises(ClientError):  # enforcement is on: unknown credentials are refused
        _client("s3", enforcing_moto).list_buckets()
    return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}


@dataclass(frozen=True)
class Place:
    """This module's stand-ins for the names in the policies: the buckets and the hosted zone."""

    endpoint: str
    admin: dict[str, str] = field(repr=False)  # moto's keys, still kept out of failure output
    store: str  # sentinel-backups: versioned, object lock on
    logs: str  # sentinel-logs
    zone_id: str

    def document(self, policy_file: str) -> str:
        """deploy/iam/<policy_file> with its names replaced by this place's."""
        return ((IAM_DIR / policy_file).read_text().replace("sentinel-backups", self.store)
                .replace("sentinel-logs", self.logs).replace("hostedzone/Z123", f"hostedzone/{self.zone_id}"))

    def user(self, policy_file: str) -> dict[str, str]:
        """An IAM user holding deploy/iam/<policy_file> (as moto can evaluate it); its access key."""
        iam = _client("iam", self.endpoint, self.admin)
        user = f"{policy_file.removesuffix('.json')}-{uuid.uuid4().hex[:6]}"
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName=policy_file,
                            PolicyDocument=_moto_document(self.document(policy_file)))
        iam.put_user_policy(UserName=user, PolicyName="moto-head-bucket", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:HeadBucket", "Resource": [
                f"arn:aws:s3:::{self.store}", f"arn:aws:s3:::{self.logs}"]}]}))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}

    def access(self, key: dict[str, str]) -> AwsAccess:
        return AwsAccess(endpoint_url=self.endpoint, region=REGION, access_key_id=key["AccessKeyId"],
                         secret_access_key=key["SecretAccessKey"])

    def record_value(self, name: str) -> str | None:
        """The CNAME `name` points at, read through moto's own API (its Route 53 GETs fail under enforcement)."""
        with urllib.request.urlopen(f"{self.endpoint}/moto-api/data.json", timeout=10) as answer:
            sets = json.loads(answer.read())["route53"]["RecordSet"]
        values = [s["records"][0] for s in sets if s["name"].rstrip(".") == name and s["type"] == "CNAME"]
        return values[-1] if values else None


def _moto_document(document: str) -> str:
    """The one rewrite moto needs: it checks every Route 53 call against the resource `*`."""
    policy = json.loads(document)
    for statement in policy["Statement"]:
        resources = statement.get("Resource")
        if any(str(r).startswith("arn:aws:route53:") for r in ([resources] if isinstance(resources, str)
                                                               else resources or [])):
            statement["Resource"] = "*"
    return json.dumps(policy)


@pytest.fixture(scope="module")
def place(enforcing_moto: str, admin: dict[str, str]) -> Place:
    s3 = _client("s3", enforcing_moto, admin)
    store, logs = f"backups-{uuid.uuid4().hex[:8]}", f"logs-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=store, ObjectLockEnabledForBucket=True)
    s3.create_bucket(Bucket=logs)
    zone = _client("route53", enforcing_moto, admin).create_hosted_zone(Name=ZONE, CallerReference=uuid.uuid4().hex)
    return Place(enforcing_moto, admin, store, logs, zone["HostedZone"]["Id"].rsplit("/", 1)[-1])


@pytest.fixture(scope="module")
def store_bucket(place: Place) -> str:
    return place.store


def _denied(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return str(info.value.response["Error"]["Code"])


# --- each identity's part of the scenarios ------------------------------------------------------------------


class DrillTarget(FakeTarget):
    """The FakeTarget (a pinned, confirmed staging target on fake clusters) reaching S3 and Route 53 as the drill."""

    def __init__(self, settings: Any, *, access: AwsAccess, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.access = access

    def aws(self) -> AwsAccess:
        return self.access


def _audit_logs(root: Path, day: date) -> Path:
    source = root / "audit"
    source.mkdir()
    (source / f"audit-{day:%Y-%m-%d}.log").write_text('{"event": "login"}\n')
    return source


def _evidence_bundle(root: Path) -> Path:
    record = ScenarioRecord(name="Backup verification", feature="Monthly DR drill", tags=("monthly",),
                            measurements=[{"name": "RTO", "target_s": 900, "measured_s": 10.0}])
    return build_bundle([record], out_root=root / "evidence", meta={"run_id": f"run-{uuid.uuid4().hex[:6]}",
                                                                    "target": TARGET_NAME}, env={})


@pytest.fixture
def drill_target(place: Place, source: Any, clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[DrillTarget]:
    """The drill's target: production's Redis is the session's source, its store and logs are `place`'s."""
    clean_env.setenv(CONFIRM_ENV, TARGET_NAME)
    primary, dr = FakeCluster(name="primary"), FakeCluster(name="dr")
    primary.add_deployment(BRAIN, namespace="sentinel", replicas=2)
    primary.request("PATCH", "/api/v1/namespaces/sentinel/secrets/sentinel-redis", content_type=APPLY_PATCH,
                    body={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sentinel-redis"},
                          "data": {"password": "c2VjcmV0"}})
    settings = fake_settings(
        primary, dr, health_url="http://127.0.0.1:9/health", store_url=f"s3://{place.store}/",
        redis_url=source.url, redis_password=source.password, log_store_url=f"s3://{place.logs}/",
        aws_endpoint_url=place.endpoint, store_retention_days=1, hosted_zone_id=place.zone_id,
        dns_record_name=PRODUCTION_RECORD, dr_dns_record_name=DRILL_RECORD, config_secrets=("sentinel-redis",),
        config_maps=(), state_dir=str(tmp_path / "state"), request_pipeline_backup=False)
    yield DrillTarget(settings, access=place.access(place.user("drill.json")), primary=primary, dr=dr,
                      brain_replicas=2)


@pytest.fixture
def drill(drill_target: DrillTarget, tmp_path: Path) -> Iterator[DrillScenario]:
    scenario = DrillScenario(drill_target.settings, ScenarioRecord("iam", "iam.feature"), tmp_path / "journals")
    yield scenario
    scenario.finish()


def _pipeline_history(place: Place, source: Any, data: Any, tmp_path: Path) -> list[str]:
    """Two pipeline backups and a day of audit logs as the backup jobs write them, verified as the verify job does."""
    writer = place.access(place.user("backup-writer.json"))
    verifier = place.access(place.user("backup-verifier.json"))
    data.seed(source.client(), n=120)
    as_writer = open_store(f"s3://{place.store}/", retention_days=1, aws=writer)
    backups = [take_backup(source.url, as_writer, password=data.source_password).id for _ in range(2)]
    day = (datetime.now(UTC) - timedelta(days=1)).date()
    archive_logs(_audit_logs(tmp_path, day), "audit", day, open_store(f"s3://{place.logs}/", aws=writer))
    as_verifier = open_store(f"s3://{place.store}/", aws=verifier)
    assert all(verify_backup(as_verifier, backup_id, min_keys=100).passed for backup_id in backups)
    return backups


def test_every_scenarios_store_calls_pass_under_the_shipped_policies(  # type: ignore[no-untyped-def]
        place, source, data, drill_target, drill, tmp_path):
    pipeline_backups = _pipeline_history(place, source, data, tmp_path)
    target = drill_target

    # every scenario, before any fault: the pipeline's newest backup is fresh, verified and locked
    found = pipeline.require_pipeline_backup(drill, target)
    assert found.id == pipeline_backups[-1] and found.lock.startswith("COMPLIANCE until")
    # scenarios 3 and 4: the pipeline's backup to restore (its newest as it is: the pipeline's Job writes with the
    # backup writer's identity, not the drill's), verified by the drill
    point = pipeline_restore_point(drill, target)
    assert point.backup_id == pipeline_backups[-1]
    # scenario 4: the quarantine copy with the tampered backup, its scan, and the restore from it
    quarantine = ransomware.plant_tampered_backup(drill, target, point.backup_id)
    scan = ransomware.scan_backups(drill, quarantine)
    chosen = ransomware.require_tampered_rejected(scan, quarantine)
    target.redis().flushall()  # the clean namespace's Redis starts empty
    recovery.restore_redis(drill, target, chosen.backup_id, store=quarantine.store)
    # every destructive step: its undo written to the ledger's copy in the store before it acts
    entry = ledger_for(target).before("delete_network_policy", action="isolate namespace sentinel",
                                      cluster={"api_server": "https://fake"}, namespace="sentinel", name="p",
                                      run_id=target.settings.run_id)
    ledger_for(target).done(entry)
    assert len(read_store_records(target.store(), run_id=target.settings.run_id)) == 2
    # scenario 4: the rotated configuration exported; scenario 3: the pipeline's export read back
    export = configuration.back_up_rotated_configuration(drill, target)
    assert configuration.require_pipeline_export(drill, target).export_id == export.export_id
    # scenario 3: the audit logs restored from the log archive; coverage: the log bucket's lifecycle and days
    assert cluster_loss.fetch_audit_logs(drill, target).passed
    assert logs_row(target, now=datetime.now(UTC)).summary.startswith("lifecycle differs")  # rules read: none
    # scenario 3: the drill's DNS record moved to the DR load balancer (recovery.update_dns reads it back with a
    # Route 53 GET, which moto cannot check: the change is the call under test, the read-back goes through moto)
    point_record(place.zone_id, DRILL_RECORD, "lb-dr.example.net", aws=target.aws())
    assert place.record_value(DRILL_RECORD) == "lb-dr.example.net"
    # the operator's `restore --replace` under the same identity: the target saved under snapshots/ first
    restored = restore_backup(target.store(), point.backup_id, target_url=source.url,
                              target_password=data.source_password, replace=True)
    assert restored.snapshot is not None
    # the evidence bundle and its chain head, object-locked
    uploaded = upload_bundle(_evidence_bundle(tmp_path), f"s3://{place.store}",
                             client=_client("s3", place.endpoint, _keys(target.aws())))
    assert uploaded.locked and uploaded.head is not None


def _keys(access: AwsAccess) -> dict[str, str]:
    return {"AccessKeyId": str(access.access_key_id), "SecretAccessKey": str(access.secret_access_key)}


# --- what each identity may not do --------------------------------------------------------------------------


def test_the_drill_cannot_delete_unlock_or_write_beyond_its_prefixes(  # type: ignore[no-untyped-def]
        place, source, data, drill_target, tmp_path):
    backup_id = _pipeline_history(place, source, data, tmp_path)[-1]
    as_drill = _client("s3", place.endpoint, _keys(drill_target.aws()))
    version = as_drill.head_object(Bucket=place.store, Key=rdb_key(backup_id))["VersionId"]
    for key in (rdb_key(backup_id), verify_key(backup_id)):
        assert _denied(as_drill.delete_object, Bucket=place.store, Key=key) == "AccessDenied", key
    assert _denied(as_drill.delete_object, Bucket=place.store, Key=rdb_key(backup_id),
                   VersionId=version) == "AccessDenied"
    assert _denied(as_drill.put_object_lock_configuration, Bucket=place.store, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled"}) == "AccessDenied"
    assert _denied(as_drill.put_bucket_lifecycle_configuration, Bucket=place.logs,
                   LifecycleConfiguration={"Rules": []}) == "AccessDenied"
    for bucket, key in ((place.store, "elsewhere/x"), (place.store, "x"), (place.store, "drill-quarantine-x/y"),
                        (place.store, stray_verify_key(backup_id)), (place.store, "verifications/x.verify.json"),
                        (place.store, "snapshots/x"), (place.logs, "logs/audit/2026/11/26/audit-20261126.tar.gz")):
        assert _denied(as_drill.put_object, Bucket=bucket, Key=key, Body=b"x") == "AccessDenied", key
    assert as_drill.get_object(Bucket=place.store, Key=rdb_key(backup_id), VersionId=version)["Body"].read()


def test_the_writer_puts_backups_but_not_verification_records(place):  # type: ignore[no-untyped-def]
    writer = _client("s3", place.endpoint, place.user("backup-writer.json"))
    writer.put_object(Bucket=place.store, Key="redis/2026/11/26/20261126T061500Z-1a2b3c.rdb", Body=b"REDIS")
    writer.put_object(Bucket=place.store, Key="config/2026/11/26/export.json", Body=b"{}")
    for key in ("verifications/redis/2026/11/26/20261126T061500Z-1a2b3c.verify.json", "evidence/run/summary.md",
                "drill-quarantine/20261126T061500/redis/x.rdb", "snapshots/redis/x.rdb"):
        assert _denied(writer.put_object, Bucket=place.store, Key=key, Body=b"{}") == "AccessDenied", key


def test_the_verifier_puts_verification_records_but_not_backups(place):  # type: ignore[no-untyped-def]
    verifier = _client("s3", place.endpoint, place.user("backup-verifier.json"))
    verifier.put_object(Bucket=place.store, Body=b"{}",
                        Key="verifications/redis/2026/11/26/20261126T061500Z-1a2b3c.verify.json")
    for key in ("redis/2026/11/26/20261126T061500Z-1a2b3c.rdb", "config/x.json", "drill-quarantine/x/redis/x.rdb",
                "evidence/run/summary.md"):
        assert _denied(verifier.put_object, Bucket=place.store, Key=key, Body=b"planted") == "AccessDenied", key


@pytest.mark.parametrize("policy_file", ["backup-writer.json", "backup-verifier.json"])
def test_only_the_drill_moves_a_dns_record(place: Place, policy_file: str) -> None:
    with pytest.raises(StoreError, match="Route 53 refused the UPSERT"):
        point_record(place.zone_id, DRILL_RECORD, "lb-elsewhere.example.net", aws=place.access(place.user(policy_file)))


def test_the_drills_dns_permission_names_only_its_own_record() -> None:
    """Read from drill.json, as moto does not evaluate this condition: ChangeResourceRecordSets only when every
    record of the change is the drill's."""
    (statement,) = [s for s in json.loads((IAM_DIR / "drill.json").read_text())["Statement"]
                    if "route53:ChangeResourceRecordSets" in s["Action"]]
    assert statement["Condition"] == {"ForAllValues:StringEquals": {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": [DRILL_RECORD]}}


def _resources(statement: dict[str, Any]) -> list[str]:
    return [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]


def test_the_drill_writes_only_under_the_prefixes_its_scenarios_use() -> None:
    statements = json.loads((IAM_DIR / "drill.json").read_text())["Statement"]
    written = {resource.split(":::sentinel-backups/", 1)[1].removesuffix("*") for s in statements
               if s["Effect"] == "Allow" and "s3:PutObject" in s["Action"] for resource in _resources(s)}
    assert written == set(DRILL_WRITES)
    (never,) = [s for s in statements if s["Effect"] == "Deny" and "s3:DeleteObject" in s["Action"]]
    assert set(never["Action"]) == DRILL_NEVER
    assert set(_resources(never)) == {"arn:aws:s3:::sentinel-backups", "arn:aws:s3:::sentinel-backups/*"}


def test_a_verify_run_with_the_writers_credentials_cannot_record_and_says_why(  # type: ignore[no-untyped-def]
        place, source, data):
    data.seed(source.client(), n=120)
    store = open_store(f"s3://{place.store}/", aws=place.access(place.user("backup-writer.json")))
    backup = take_backup(source.url, store, password=data.source_password)  # the backup job may do this

    with pytest.raises(AuthFailed) as info:
        verify_backup(store, backup.id, min_keys=100)
    line = info.value.one_line()
    assert "\n" not in line and "Traceback" not in line
    assert f"s3://{place.store}/{verify_key(backup.id)}" in line and "under verifications/" in line
    assert "deploy/iam/backup-verifier.json" in line and "backup-writer.json" in line

    as_verifier = open_store(f"s3://{place.store}/", aws=place.access(place.user("backup-verifier.json")))
    assert verify_backup(as_verifier, backup.id, min_keys=100).passed

