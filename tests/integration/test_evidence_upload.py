"""Uploading a bundle to the backup store: moto's S3 server on loopback, with and without object lock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from harness.aws import s3_client
from harness.cli import main
from harness.errors import CheckFailed, StoreError
from harness.evidence.bundle import build_bundle
from harness.evidence.record import ScenarioRecord
from harness.evidence.upload import upload_bundle
from harness.evidence.verify import verify_bundle

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, s3_endpoint: str) -> dict[str, str]:
    env = {"AWS_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DRILL_EVIDENCE_SIGNING_KEY", raising=False)
    monkeypatch.delenv("DRILL_EVIDENCE_PUBLIC_KEYS", raising=False)
    return env


def _bucket(name: str, *, locked: bool) -> Any:
    client = s3_client()
    client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=locked)
    if locked:
        client.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}})
    return client


def _bundle(tmp_path: Path, run_id: str = "run-1", target: str = "sandbox") -> Path:
    record = ScenarioRecord(name="Backup verification", feature="Monthly DR drill", tags=("monthly",),
                            measurements=[{"name": "RTO", "target_s": 900, "measured_s": 10.0}])
    return build_bundle([record], out_root=tmp_path / "evidence", meta={"run_id": run_id, "target": target},
                        env={})


def test_upload_to_a_locked_bucket_sets_retention_on_every_object(tmp_path: Path, aws_env: dict[str, str]) -> None:
    client = _bucket("evidence-locked", locked=True)
    bundle = _bundle(tmp_path)
    result = upload_bundle(bundle, "s3://evidence-locked/drills", retain_days=30)
    files = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())
    assert result.locked and result.lock_mode == "COMPLIANCE" and result.objects == len(files)
    listed = client.list_objects_v2(Bucket="evidence-locked", Prefix="drills/evidence/run-1/")
    assert sorted(o["Key"].split("/run-1/", 1)[1] for o in listed["Contents"]) == files
    head = client.head_object(Bucket="evidence-locked", Key="drills/evidence/run-1/run.json")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    days = (head["ObjectLockRetainUntilDate"] - datetime.now(UTC)).days
    assert 28 <= days <= 30
    assert json.loads(client.get_object(Bucket="evidence-locked", Key="drills/evidence/run-1/run.json")["Body"]
                      .read())["run_id"] == "run-1"


def test_a_second_upload_of_the_same_bundle_is_a_no_op_and_a_different_one_is_refused(
    tmp_path: Path, aws_env: dict[str, str]
) -> None:
    _bucket("evidence-plain", locked=False)
    bundle = _bundle(tmp_path)
    first = upload_bundle(bundle, "s3://evidence-plain")
    assert not first.locked and first.location == "s3://evidence-plain/evidence/run-1/"
    assert upload_bundle(bundle, "s3://evidence-plain").already_present
    other = _bundle(tmp_path / "other", target="staging")
    with pytest.raises(StoreError, match="already holds a different bundle"):
        upload_bundle(other, "s3://evidence-plain")


def test_a_tampered_bundle_is_not_uploaded(tmp_path: Path, aws_env: dict[str, str]) -> None:
    _bucket("evidence-tamper", locked=False)
    bundle = _bundle(tmp_path)
    (bundle / "summary.md").write_text("edited")
    with pytest.raises(CheckFailed, match="altered: summary.md"):
        upload_bundle(bundle, "s3://evidence-tamper")


def test_a_missing_bucket_is_a_store_error_exit_2(tmp_path: Path, aws_env: dict[str, str]) -> None:
    assert main(["evidence", "upload", str(_bundle(tmp_path)), "--store", "s3://no-such-bucket-here"]) == 2


def test_a_file_store_gets_a_copy_that_still_verifies(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    result = upload_bundle(bundle, (tmp_path / "store").as_uri())
    copy = tmp_path / "store" / "evidence" / "run-1"
    assert result.objects == len([p for p in bundle.rglob("*") if p.is_file()])
    assert verify_bundle(copy, env={}).ok


def test_cli_bundle_with_upload(tmp_path: Path, aws_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    _bucket("evidence-cli", locked=True)
    from harness.evidence.record import write_records

    results = tmp_path / "drill-results.json"
    write_records(results, [ScenarioRecord(name="Pods die", feature="Scenario 1", tags=("scenario-1",))],
                  {"target": "sandbox"})
    code = main(["evidence", "bundle", "--results", str(results), "--out", str(tmp_path / "ev"), "--run-id",
                 "cli-1", "--upload", "--store", "s3://evidence-cli", "--lock-mode", "GOVERNANCE"])
    assert code == 0, capsys.readouterr().err
    assert "object lock GOVERNANCE" in capsys.readouterr().out
    head = boto3.client("s3").head_object(Bucket="evidence-cli", Key="evidence/cli-1/SHA256SUMS")
    assert head["ObjectLockMode"] == "GOVERNANCE"


def _signed_chain(root: Path, key_pem: str, runs: int) -> list[Path]:
    from harness.signing import load_private_key

    key = load_private_key(key_pem)
    record = ScenarioRecord(name="Backup verification", feature="Monthly DR drill", tags=("monthly",),
                            measurements=[{"name": "RTO", "target_s": 900, "measured_s": 10.0, "met": True}])
    return [build_bundle([record], out_root=root, meta={"run_id": f"run-{n}", "target": "staging"}, env={},
                         signing_key=key, now=datetime(2026, 6, n, tzinfo=UTC)) for n in range(1, runs + 1)]


def test_the_stored_chain_verifies_against_its_locked_heads_and_names_what_changed_in_the_store(
    tmp_path: Path, aws_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from botocore.exceptions import ClientError

    from harness.signing import generate_keypair, load_private_key

    client = _bucket("evidence-chain", locked=True)
    pair = generate_keypair()
    for bundle in _signed_chain(tmp_path / "evidence", pair.private_pem, 3):
        result = upload_bundle(bundle, "s3://evidence-chain/drills", retain_days=1, trusted_keys=[pair.public],
                               signing_key=load_private_key(pair.private_pem))
        assert result.head == f"s3://evidence-chain/drills/evidence/_heads/0000000{bundle.name[-1]}-{bundle.name}.json"
        assert result.fork_warning is None
    head_key = "drills/evidence/_heads/00000003-run-3.json"
    head = client.head_object(Bucket="evidence-chain", Key=head_key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    version = head["VersionId"]
    with pytest.raises(ClientError):  # the locked head cannot be removed
        client.delete_object(Bucket="evidence-chain", Key=head_key, VersionId=version)

    chain = ["evidence", "verify", "--chain", "s3://evidence-chain/drills", "--public-key", pair.public]
    assert main(chain) == 0
    out = capsys.readouterr().out
    assert "chain head: newest locked head #3 is run-3, locked until" in out and "ok: chain" in out

    client.put_object(Bucket="evidence-chain", Key="drills/evidence/run-1/summary.md", Body=b"# all green\n")
    for item in client.list_objects_v2(Bucket="evidence-chain", Prefix="drills/evidence/run-3/")["Contents"]:
        client.delete_object(Bucket="evidence-chain", Key=item["Key"])  # a delete marker over each
    assert main(chain) == 1
    err = capsys.readouterr().err
    assert ("problem: edited: s3://evidence-chain/drills/evidence/run-1/summary.md has 2 versions in the store: "
            "it was replaced after upload") in err
    assert "problem: run-1: altered: summary.md does not match its sha256 in SHA256SUMS" in err
    assert ("problem: deleted: s3://evidence-chain/drills/evidence/run-3/ — 7 object(s) hidden by delete markers "
            "(earlier versions still exist)") in err
    assert ("problem: deleted: bundle run-3 (#3) is recorded by the chain head 00000003-run-3.json but is "
            "not in the chain") in err


def test_an_upload_that_forks_the_stored_chain_is_stored_and_warned_about(tmp_path: Path,
                                                                          aws_env: dict[str, str]) -> None:
    _bucket("evidence-fork", locked=False)
    for bundle in (_bundle(tmp_path / "a", run_id="run-1"), _bundle(tmp_path / "b", run_id="run-2")):
        result = upload_bundle(bundle, "s3://evidence-fork")
    assert result.fork_warning is not None and result.fork_warning.startswith(
        "run-2 follows nothing (a first bundle), but the store's newest chain head is run-1")
