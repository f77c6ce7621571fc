"""The store's IAM policies (deploy/iam/) hold: the backup job cannot write verification records.

A moto server of its own, with IAM enforcement on (INITIAL_NO_AUTH_ACTION_COUNT: the
first N requests are unauthenticated, every later one is checked against the caller's
policies). moto evaluates Allow and Deny statements with `*` wildcards in Action and
Resource, an explicit Deny winning; it does not evaluate Condition keys (a statement
with a Condition it cannot satisfy counts as a Deny), so the policies tested here carry
none. The bucket names of the policies are replaced by this test's bucket. One moto quirk:
it checks HEAD on a bucket as the action `s3:HeadBucket` (AWS checks `s3:ListBucket`, which
the policies grant), so each user also gets that one pseudo-action, outside deploy/iam/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from harness.aws import AwsAccess
from harness.backup import open_store, take_backup, verify_backup
from harness.backup.layout import verify_key
from harness.errors import AuthFailed
from harness.polling import poll
from harness.redis_process import free_port
from harness.sandbox.processes import port_listening

pytestmark = pytest.mark.integration

IAM_DIR = Path(__file__).resolve().parents[2] / "deploy" / "iam"
#: requests moto serves before it starts checking: create the admin user, its policy and its key
UNCHECKED_REQUESTS = 3
REGION = "us-east-1"


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


@pytest.fixture(scope="module")
def store_bucket(enforcing_moto: str, admin: dict[str, str]) -> str:
    name = f"backups-{uuid.uuid4().hex[:8]}"
    _client("s3", enforcing_moto, admin).create_bucket(Bucket=name)
    return name


def _user_with(policy_file: str, *, endpoint: str, admin: dict[str, str], bucket: str) -> dict[str, str]:
    """An IAM user holding deploy/iam/<policy_file> with the bucket names replaced by `bucket`."""
    document = (IAM_DIR / policy_file).read_text().replace("sentinel-backups", bucket)
    iam = _client("iam", endpoint, admin)
    user = f"{policy_file.removesuffix('.json')}-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName=policy_file, PolicyDocument=document)
    iam.put_user_policy(UserName=user, PolicyName="moto-head-bucket", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:HeadBucket", "Resource": f"arn:aws:s3:::{bucket}"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}


def _denied(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    return str(info.value.response["Error"]["Code"])


def test_the_writer_puts_backups_but_not_verification_records(enforcing_moto, admin, store_bucket):  # type: ignore[no-untyped-def]
    writer = _client("s3", enforcing_moto, _user_with("backup-writer.json", endpoint=enforcing_moto, admin=admin,
                                                      bucket=store_bucket))
    writer.put_object(Bucket=store_bucket, Key="redis/2026/11/26/20261126T061500Z-1a2b3c.rdb", Body=b"REDIS")
    writer.put_object(Bucket=store_bucket, Key="config/2026/11/26/export.json", Body=b"{}")
    assert _denied(writer.put_object, Bucket=store_bucket, Body=b'{"passed": true}',
                   Key="verifications/redis/2026/11/26/20261126T061500Z-1a2b3c.verify.json") == "AccessDenied"
    assert _denied(writer.put_object, Bucket=store_bucket, Key="evidence/run/summary.md", Body=b"x") == "AccessDenied"


def test_the_verifier_puts_verification_records_but_not_backups(enforcing_moto, admin, store_bucket):  # type: ignore[no-untyped-def]
    verifier = _client("s3", enforcing_moto, _user_with("backup-verifier.json", endpoint=enforcing_moto, admin=admin,
                                                        bucket=store_bucket))
    verifier.put_object(Bucket=store_bucket, Body=b"{}",
                        Key="verifications/redis/2026/11/26/20261126T061500Z-1a2b3c.verify.json")
    assert _denied(verifier.put_object, Bucket=store_bucket, Key="redis/2026/11/26/20261126T061500Z-1a2b3c.rdb",
                   Body=b"planted") == "AccessDenied"
    assert _denied(verifier.put_object, Bucket=store_bucket, Key="config/x.json", Body=b"{}") == "AccessDenied"


def test_a_verify_run_with_the_writers_credentials_cannot_record_and_says_why(
        enforcing_moto, admin, store_bucket, source, data):  # type: ignore[no-untyped-def]
    data.seed(source.client(), n=120)
    keys = _user_with("backup-writer.json", endpoint=enforcing_moto, admin=admin, bucket=store_bucket)
    as_writer = AwsAccess(endpoint_url=enforcing_moto, region=REGION, access_key_id=keys["AccessKeyId"],
                          secret_access_key=keys["SecretAccessKey"])
    store = open_store(f"s3://{store_bucket}/", aws=as_writer)
    backup = take_backup(source.url, store, password=data.source_password)  # the backup job may do this

    with pytest.raises(AuthFailed) as info:
        verify_backup(store, backup.id, min_keys=100)
    line = info.value.one_line()
    assert "\n" not in line and "Traceback" not in line
    assert f"s3://{store_bucket}/{verify_key(backup.id)}" in line and "under verifications/" in line
    assert "deploy/iam/backup-verifier.json" in line and "backup-writer.json" in line

    verifier_keys = _user_with("backup-verifier.json", endpoint=enforcing_moto, admin=admin, bucket=store_bucket)
    as_verifier = AwsAccess(endpoint_url=enforcing_moto, region=REGION, access_key_id=verifier_keys["AccessKeyId"],
                            secret_access_key=verifier_keys["SecretAccessKey"])
    assert verify_backup(open_store(f"s3://{store_bucket}/", aws=as_verifier), backup.id, min_keys=100).passed
