"""Where and as whom the harness talks to AWS (S3, Route 53): passed explicitly, never set in os.environ.

Every field left None falls back to boto3's own chain (AWS_ENDPOINT_URL,
AWS_PROFILE, instance roles, ...), so a production target needs nothing here;
the sandbox hands its moto endpoint and placeholder credentials to the
clients it opens instead of exporting them into the process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AwsAccess:
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = field(default=None, repr=False)
    secret_access_key: str | None = field(default=None, repr=False)

    @property
    def custom_endpoint(self) -> bool:
        """True when the endpoint is not AWS's own (moto, MinIO): S3 then needs path-style addressing."""
        return bool(self.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"))

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `session.client(...)`: only what is set, the rest from boto3's chain."""
        given = {"endpoint_url": self.endpoint_url, "region_name": self.region,
                 "aws_access_key_id": self.access_key_id, "aws_secret_access_key": self.secret_access_key}
        return {k: v for k, v in given.items() if v}


#: boto3's defaults for everything
DEFAULT_ACCESS = AwsAccess()


def s3_client(env: Mapping[str, str] | None = None) -> Any:
    """A boto3 S3 client from the environment alone (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL honoured):
    for the evidence store, which an auditor reaches without any drill settings."""
    import boto3

    env = os.environ if env is None else env
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
    return boto3.client("s3", endpoint_url=endpoint)
