"""The sandbox's AWS: moto's server on loopback with the backup bucket and the DNS zone.

The bucket is created with Object Lock enabled (which also turns versioning
on), as the backup design requires. The DNS record is a CNAME to a name that
encodes the serving cluster (`lb-<cluster>.<zone>`), standing in for the load
balancer alias in the runbook's scenario 3: moving traffic to a new cluster
is then a visible change of the record's value.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions

from harness.aws import AwsAccess
from harness.dns import point_record
from harness.polling import poll
from harness.sandbox import processes
from harness.sandbox.state import AWS_PLACEHOLDER_CREDENTIALS, REGION, SandboxError, SandboxPaths


@dataclass(frozen=True)
class DnsRecord:
    hosted_zone_id: str
    zone_name: str
    record_name: str
    target: str


def moto_server_binary() -> Path:
    """moto_server from the same environment as this Python."""
    path = Path(sys.executable).parent / "moto_server"
    if not path.exists():
        raise SandboxError("moto_server is not installed next to this Python",
                           fix="install the dev extras: pip install -e '.[dev]' (moto[server])")
    return path


def start_moto(paths: SandboxPaths, port: int, *, timeout: float = 30.0) -> processes.TrackedProcess:
    """Run `moto_server -H 127.0.0.1 -p PORT` detached; wait until it answers HTTP."""
    proc = processes.spawn("moto", [str(moto_server_binary()), "-H", "127.0.0.1", "-p", str(port)],
                           log=paths.log("moto"), pidfile=paths.pidfile("moto"))
    def listening() -> bool | None:
        if not processes.is_running(proc):
            raise SandboxError(f"moto server exited while starting on port {port}", fix=f"see {paths.log('moto')}")
        return True if processes.port_listening(port) else None

    if poll(listening, timeout=timeout, interval=0.05):
        return proc
    raise SandboxError(f"moto server did not listen on 127.0.0.1:{port} within {timeout:.0f}s",
                       fix=f"see {paths.log('moto')}")


def sandbox_aws(endpoint: str) -> AwsAccess:
    """How the harness reaches the sandbox's moto server: its endpoint and placeholder credentials."""
    return AwsAccess(endpoint_url=endpoint, region=REGION,
                     access_key_id=AWS_PLACEHOLDER_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                     secret_access_key=AWS_PLACEHOLDER_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])


def aws_client(service: str, endpoint: str, *, read_timeout: float = 10) -> object:
    """A boto3 client for the sandbox's moto (placeholder credentials, no retries).

    moto completes a multipart upload in memory: ≈ 10 s for 2 GB, so big transfers need a longer `read_timeout`.
    """
    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id=AWS_PLACEHOLDER_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_PLACEHOLDER_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=read_timeout),
    )


def create_bucket(endpoint: str, bucket: str) -> None:
    """The backup bucket with Object Lock (and therefore versioning) enabled at creation."""
    s3 = aws_client("s3", endpoint)
    try:
        s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)  # type: ignore[attr-defined]
        s3.put_bucket_versioning(  # type: ignore[attr-defined]
            Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    except botocore.exceptions.BotoCoreError as exc:
        raise SandboxError(f"creating bucket {bucket} on {endpoint} failed: {exc}", fix="see the moto log") from None


def create_plain_bucket(endpoint: str, bucket: str) -> None:
    """A bucket without Object Lock (the log archive's: its lifecycle expires objects)."""
    s3 = aws_client("s3", endpoint)
    try:
        s3.create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    except botocore.exceptions.BotoCoreError as exc:
        raise SandboxError(f"creating bucket {bucket} on {endpoint} failed: {exc}", fix="see the moto log") from None


def create_dns(endpoint: str, *, zone_name: str, cluster: str) -> DnsRecord:
    """A hosted zone and the `sentinel.<zone>` CNAME → `lb-<cluster>.<zone>`."""
    zone_name = zone_name.rstrip(".") + "."
    r53 = aws_client("route53", endpoint)
    zone = r53.create_hosted_zone(  # type: ignore[attr-defined]
        Name=zone_name, CallerReference=f"sentinel-drill-{uuid.uuid4()}",
        HostedZoneConfig={"Comment": "sentinel-drill sandbox", "PrivateZone": False},
    )
    zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
    record = DnsRecord(zone_id, zone_name, f"sentinel.{zone_name}", f"lb-{cluster}.{zone_name}")
    point_record(record.hosted_zone_id, record.record_name, record.target, client=r53)
    return record
