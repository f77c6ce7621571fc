"""The manifest: what a backup file holds, written beside it and checked by verify.

Everything in it describes the fetched file (loaded into a scratch server), not
the live source, which keeps moving. `schema_version` guards readers against
manifests written by a future, incompatible harness. `origin` tells the backup
pipeline's backups (the hourly CronJob, `sentinel-drill backup`) from those a
drill takes for itself: freshness and RPO are judged on the pipeline's only.
Manifests written before `origin` existed came from the pipeline.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import StoreError

SCHEMA_VERSION = 1

#: who wrote a backup: the backup pipeline (CronJob, CLI) or a drill for its own use
Origin = Literal["pipeline", "drill"]
PIPELINE: Origin = "pipeline"
DRILL: Origin = "drill"

#: how the file was fetched: the replication protocol (disk-based or diskless), or BGSAVE + a copy of the data file
#: out of the server's container or pod (where SYNC is refused: harness.backup.copy_out)
FetchMethod = Literal["sync", "sync-diskless", "bgsave-copy"]


class SourceInfo(BaseModel):
    """Which server the backup came from (never its password)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str
    port: int
    role: str
    run_id: str


class KeySample(BaseModel):
    """One sampled key: a type-aware digest of its value, and its absolute expiry if any.

    `key` is the key as UTF-8, or `b64:` + base64 for binary keys.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    db: int = 0
    type: str
    digest: str
    expires_at_ms: int | None = None


class Manifest(BaseModel):
    """Facts about one backup; `key_count` counts every key in the file, expired or not."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int = SCHEMA_VERSION
    id: str
    point_in_time: datetime = Field(description="LASTSAVE of the save that produced the file (UTC)")
    rdb_ctime: datetime | None = Field(None, description="when the saving fork started (RDB aux ctime)")
    source: SourceInfo
    redis_version: str
    rdb_version: int
    size: int
    sha256: str
    key_count: int
    keys_expired_at_backup: int = 0
    keyspace: dict[int, int] = Field(default_factory=dict, description="live keys per db at backup time")
    types: dict[str, int]
    samples: tuple[KeySample, ...] = ()
    canary_high_water: int | None = None
    created_at: datetime
    tool_version: str
    origin: Origin = Field(PIPELINE, description="pipeline (CronJob/CLI) or drill (taken by a drill for itself)")
    fetch_method: FetchMethod | None = Field(None, description="sync, sync-diskless or bgsave-copy (None: older)")
    copied_from: str | None = Field(None, description="bgsave-copy: the container or pod the file came out of")

    def to_json(self) -> bytes:
        return self.model_dump_json(indent=2).encode() + b"\n"

    @classmethod
    def from_json(cls, raw: bytes | str, *, where: str = "manifest") -> Manifest:
        """Parse a manifest; StoreError naming the first bad field or a newer schema."""
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise StoreError(f"{where} is not valid JSON: {exc}", fix="re-take the backup") from None
        if not isinstance(data, dict):
            raise StoreError(f"{where} is not a JSON object", fix="re-take the backup")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{where} has schema_version {version!r}, this harness reads {SCHEMA_VERSION}",
                fix="use the sentinel-drill version that wrote it, or re-take the backup",
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise StoreError(f"{where}: field {field}: {first['msg']}", fix="re-take the backup") from None
