"""Point SENTINEL's DNS record at a new load balancer: the runbook's Route 53 UPSERT, through boto3.

Uses the target's `AwsAccess` (boto3's normal chain unless the target names an
endpoint), so the same code talks to Route 53 in production and to moto's
server in the sandbox. Record
names are compared as normalised FQDNs: `Sentinel.Example.com` and
`sentinel.example.com.` are one record, so no guard is fooled by case, a
trailing dot or stray whitespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from harness.aws import DEFAULT_ACCESS, AwsAccess
from harness.errors import ConfigError, ConnectionFailed, StoreError


@dataclass(frozen=True)
class DnsChange:
    zone_id: str
    name: str
    target: str
    change_id: str
    status: str


def _route53(aws: AwsAccess) -> Any:
    config = botocore.config.Config(retries={"max_attempts": 2}, connect_timeout=5)
    return boto3.client("route53", config=config, **aws.client_kwargs())


def fqdn(name: str) -> str:
    """The normalised absolute name: stripped, lower-case, one trailing dot (DNS names are case-insensitive)."""
    name = name.strip().lower().rstrip(".")
    return name + "."


def same_record(a: str, b: str) -> bool:
    """True when `a` and `b` name the same DNS record."""
    return fqdn(a) == fqdn(b)


def point_record(
    zone_id: str | None, name: str | None, target: str, *, ttl: int = 60, client: Any = None,
    aws: AwsAccess = DEFAULT_ACCESS,
) -> DnsChange:
    """UPSERT `name` as a CNAME to `target`; raise a one-line error naming the zone on failure.

    `client` is a Route 53 client to use instead of the default credential chain's.
    """
    if not zone_id or not name:
        raise ConfigError("no DNS zone/record configured", fix="set DRILL_HOSTED_ZONE_ID and DRILL_DNS_RECORD_NAME")
    try:
        answer = (client or _route53(aws)).change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={"Comment": "sentinel-drill recovery", "Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
                "Name": fqdn(name), "Type": "CNAME", "TTL": ttl, "ResourceRecords": [{"Value": target}]}}]},
        )
    except botocore.exceptions.EndpointConnectionError as exc:
        raise ConnectionFailed(f"cannot reach Route 53: {exc}", fix="check AWS_ENDPOINT_URL / network") from None
    except (botocore.exceptions.ClientError, botocore.exceptions.NoCredentialsError) as exc:
        raise StoreError(f"Route 53 refused the UPSERT of {name} in zone {zone_id}: {exc}",
                         fix="check the hosted zone id and the credentials' route53 permissions") from None
    info = answer["ChangeInfo"]
    return DnsChange(zone_id, fqdn(name), target, info["Id"], info["Status"])


def resolve_record(zone_id: str, name: str, *, aws: AwsAccess = DEFAULT_ACCESS) -> str | None:
    """What the zone says `name` points at now (the CNAME value), or None."""
    sets = _route53(aws).list_resource_record_sets(
        HostedZoneId=zone_id, StartRecordName=fqdn(name), StartRecordType="CNAME", MaxItems="1")
    for rrset in sets.get("ResourceRecordSets", []):
        if same_record(rrset["Name"], name) and rrset.get("ResourceRecords"):
            return str(rrset["ResourceRecords"][0]["Value"])
    return None


def read_record(zone_id: str | None, name: str | None, *, aws: AwsAccess = DEFAULT_ACCESS) -> str:
    """Read the zone and `name`'s record without changing them: "zone Z (example.com.): name → value" (`doctor`)."""
    if not zone_id or not name:
        raise ConfigError("no DNS zone/record configured", fix="set DRILL_HOSTED_ZONE_ID and DRILL_DNS_RECORD_NAME")
    client = _route53(aws)
    try:
        zone = client.get_hosted_zone(Id=zone_id)["HostedZone"]["Name"]
        value = resolve_record(zone_id, name, aws=aws)
    except botocore.exceptions.EndpointConnectionError as exc:
        raise ConnectionFailed(f"cannot reach Route 53: {exc}", fix="check AWS_ENDPOINT_URL / network") from None
    except (botocore.exceptions.ClientError, botocore.exceptions.NoCredentialsError) as exc:
        raise StoreError(f"Route 53 refused reading zone {zone_id} / record {name}: {exc}",
                         fix="check the hosted zone id and the credentials' route53:GetHostedZone and "
                         "route53:ListResourceRecordSets permissions") from None
    return f"zone {zone_id} ({zone}) readable; {fqdn(name)} → {value or '(no CNAME yet: the recovery creates it)'}"
