"""The chain as the evidence store holds it: locked chain heads, and fetching the chain to verify it.

Each upload also writes a small *chain head* — the run id, sequence number and
SHA256SUMS hash of the bundle just stored — under `evidence/_heads/`, with
object lock when the bucket has it (retention from the upload's settings). A
head cannot be replaced or deleted while locked, so whoever later rewrites the
bundles (and regenerates every hash after the edit) still contradicts a head.

`fetch_chain` downloads `evidence/` for `verify --chain s3://…` and reports what
only the store can show: an evidence object with more than one version (it was
replaced after upload) or hidden behind a delete marker. Every key becomes a
local path only through `harness.safe_paths`: a key that would lead outside the
download directory (`evidence//home/x/.bashrc`, `../x`) is a problem of the
chain and is never written.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.aws import s3_client
from harness.backup.s3 import s3_error
from harness.errors import ConfigError, StoreError, UsageError
from harness.evidence.chain import ChainHead, ChainReport, verify_chain
from harness.evidence.clock_check import DEFAULT_CLOCK_TOLERANCE_S
from harness.evidence.links import HEADS_DIR, BundleLink
from harness.safe_paths import UnsafeName, path_under, shown, write_under
from harness.signing import record_trust, sign_record


def head_name(link: BundleLink) -> str:
    """`<sequence, 8 digits>-<run id>.json`: heads list in chain order."""
    return f"{link.sequence or 0:08d}-{link.run_id}.json"


def head_body(link: BundleLink, *, uploaded_at: datetime, signing_key: Ed25519PrivateKey | None) -> bytes:
    record: dict[str, Any] = {"run_id": link.run_id, "sequence": link.sequence or 0,
                              "sums_sha256": link.sums_sha256, "created_at": link.created_at,
                              "uploaded_at": uploaded_at.isoformat()}
    if signing_key is not None:
        record = sign_record(record, signing_key)
    return (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()


def parse_head(name: str, body: bytes, *, trusted: tuple[str, ...], locked_until: str | None) -> ChainHead:
    """A ChainHead from a stored head; an unreadable one is a head with a trust problem, never skipped."""
    try:
        record = json.loads(body)
        head = ChainHead(str(record["run_id"]), int(record["sequence"]), str(record["sums_sha256"]), name,
                         locked_until)
    except (ValueError, KeyError, TypeError):
        return ChainHead("?", 0, "", name, locked_until, trust_problem="unreadable (not a chain head record)")
    if trusted:
        ok, why = record_trust(record, trusted)
        if not ok:
            return ChainHead(head.run_id, head.sequence, head.sums_sha256, name, locked_until,
                             trust_problem=f"not trusted ({why})")
    return head


def read_local_heads(root: Path, *, trusted: tuple[str, ...]) -> list[ChainHead] | None:
    """Heads under `root/_heads` (a file:// store's copy); None when there is no such directory.

    A head that is a symbolic link (or a `_heads` that is one) is a head with a trust problem, never followed.
    """
    try:
        directory = path_under(root, HEADS_DIR, what="chain heads directory")
    except UnsafeName as exc:
        return [ChainHead("?", 0, "", HEADS_DIR, None, trust_problem=f"refused: {exc.why}")]
    if not directory.is_dir():
        return None
    heads: list[ChainHead] = []
    for found in sorted(directory.glob("*.json")):
        try:
            path = path_under(directory, found.name, what="chain head")
        except UnsafeName as exc:
            heads.append(ChainHead("?", 0, "", found.name, None, trust_problem=f"refused: {exc.why}"))
            continue
        heads.append(parse_head(found.name, path.read_bytes(), trusted=trusted, locked_until=None))
    return heads


@dataclass
class FetchedChain:
    """A store's `evidence/` downloaded to `root`, its heads, and what the store itself showed."""

    root: Path
    heads: list[ChainHead]
    problems: list[str] = field(default_factory=list)
    objects: int = 0


def _paginate(client: Any, operation: str, **kwargs: Any) -> list[dict[str, Any]]:
    pages = client.get_paginator(operation).paginate(**kwargs)
    return [page for page in pages]


def _locked_until(client: Any, bucket: str, key: str) -> str | None:
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except Exception:  # noqa: BLE001 - unreadable lock details read as "not locked": a note, never a pass
        return None
    if not head.get("ObjectLockMode"):
        return None
    until = head.get("ObjectLockRetainUntilDate")
    return until.isoformat() if hasattr(until, "isoformat") else (str(until) if until else None)


def fetch_chain(client: Any, bucket: str, prefix: str, dest: Path, *, trusted: tuple[str, ...]) -> FetchedChain:
    """Download every bundle under `<prefix>evidence/` into `dest`; read the heads and the objects' versions."""
    root_key = f"{prefix}evidence/"
    fetched = FetchedChain(dest, [])
    try:
        versions = _paginate(client, "list_object_versions", Bucket=bucket, Prefix=root_key)
        listing = _paginate(client, "list_objects_v2", Bucket=bucket, Prefix=root_key)
    except Exception as exc:  # noqa: BLE001 - mapped to the error tree
        raise s3_error(exc, what=f"list s3://{bucket}/{root_key}", bucket=bucket,
                       endpoint=getattr(client.meta, "endpoint_url", None) or "(boto3 default)") from None
    counts: dict[str, int] = {}
    hidden: dict[str, list[str]] = {}  # per bundle directory: the keys behind a current delete marker
    for page in versions:
        for version in page.get("Versions", []):
            counts[version["Key"]] = counts.get(version["Key"], 0) + 1
        for marker in page.get("DeleteMarkers", []):
            if marker.get("IsLatest"):
                directory = marker["Key"][len(root_key):].split("/", 1)[0]
                hidden.setdefault(directory, []).append(marker["Key"])
    for directory, keys in sorted(hidden.items()):
        where = shown(f"s3://{bucket}/{root_key}{directory}/")
        fetched.problems.append(f"deleted: {where} — {len(keys)} object(s) hidden by delete markers (earlier "
                                "versions still exist)")
    for key, count in sorted(counts.items()):
        if count > 1:
            fetched.problems.append(f"edited: {shown(f's3://{bucket}/{key}')} has {count} versions in the store: "
                                    "it was replaced after upload")
    for page in listing:
        for item in page.get("Contents", []):
            key = item["Key"]
            _fetch_object(client, bucket, key, key[len(root_key):], fetched, trusted=trusted,
                          folder_marker=key.endswith("/") and not item.get("Size"))
    return fetched


def _fetch_object(client: Any, bucket: str, key: str, rel: str, fetched: FetchedChain, *, trusted: tuple[str, ...],
                  folder_marker: bool) -> None:
    """One listed object: a chain head is read, a bundle file written below `fetched.root`; a name that
    would lead outside it (harness/safe_paths.py) is a problem and is never written."""
    if folder_marker:
        return  # an empty `dir/` object some consoles create: nothing to write
    try:
        path_under(fetched.root, rel, what="evidence object")
    except UnsafeName as exc:
        fetched.problems.append(f"refused: {shown(f's3://{bucket}/{key}')}: {exc.why}; not downloaded")
        return
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    fetched.objects += 1
    first, _, rest = rel.partition("/")
    if first == HEADS_DIR:
        fetched.heads.append(parse_head(rest, body, trusted=trusted, locked_until=_locked_until(client, bucket, key)))
        return
    try:
        write_under(fetched.root, rel, body, what="evidence object")
    except UnsafeName as exc:  # e.g. a file where an earlier key made a directory
        fetched.problems.append(f"refused: {shown(f's3://{bucket}/{key}')}: {exc.why}; not written")
    except OSError as exc:  # a directory where this key would be a file
        fetched.problems.append(f"refused: {shown(f's3://{bucket}/{key}')}: cannot be written beside the other keys "
                                f"({exc.__class__.__name__}); not written")


def copy_head(dest_root: Path, link: BundleLink, body: bytes) -> None:
    """A file:// store's head: written once, never replaced."""
    path = path_under(dest_root, f"{HEADS_DIR}/{head_name(link)}", what="chain head")
    if path.exists():
        if path.read_bytes() != body:
            raise StoreError(f"{path} already holds another chain head", fix="chain heads are never rewritten")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(body)
    shutil.move(tmp, path)


def verify_chain_at(location: str, *, trusted: tuple[str, ...], client: Any = None,
                    recompute: bool = False, clock_tolerance_s: float = DEFAULT_CLOCK_TOLERANCE_S) -> ChainReport:
    """`evidence verify --chain`: a local directory of bundles, a file:// store, or s3://bucket/prefix."""
    parts = urlsplit(location)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ConfigError(f"{location!r} names no bucket", fix="use s3://bucket/prefix")
        prefix = f"{parts.path.strip('/')}/" if parts.path.strip("/") else ""
        client = client or s3_client()
        with tempfile.TemporaryDirectory(prefix="sentinel-drill-chain-") as tmp:
            fetched = fetch_chain(client, parts.netloc, prefix, Path(tmp), trusted=trusted)
            return verify_chain(fetched.root, trusted_keys=trusted, heads=fetched.heads,
                                location=f"s3://{parts.netloc}/{prefix}evidence/", store_problems=fetched.problems,
                                recompute=recompute, clock_tolerance_s=clock_tolerance_s)
    if parts.scheme not in ("", "file"):
        raise ConfigError(f"{location!r} is not a directory, file:///dir or s3://bucket/prefix", fix="fix --chain")
    root = Path(parts.path if parts.scheme == "file" else location)
    if parts.scheme == "file" or (root / "evidence").is_dir() and not (root / HEADS_DIR).is_dir():
        root = root / "evidence" if (root / "evidence").is_dir() else root
    if not root.is_dir():
        raise UsageError(f"{root} is not a directory", fix="pass the directory holding the bundles (reports/evidence)")
    return verify_chain(root, trusted_keys=trusted, heads=read_local_heads(root, trusted=trusted), location=str(root),
                        recompute=recompute, clock_tolerance_s=clock_tolerance_s)
