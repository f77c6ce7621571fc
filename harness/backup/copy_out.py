"""The runbook's other way to get an RDB: BGSAVE, wait for LASTSAVE, copy dump.rdb out of the container or pod.

The harness fetches backups over the replication protocol (harness.backup.fetch).
Hardened servers refuse that: an ACL user without `sync`/`psync`, or SYNC renamed
away. Where the server's data file can be reached — a local container
(`docker://CONTAINER`, through the Docker Engine API as `docker cp` does) or a
Kubernetes pod (a `k8s://` URL, through the exec API as `kubectl cp` does: `tar`
in the pod, unpacked here) — the backup falls back to the runbook's manual steps:
BGSAVE (waiting out a save already running, so ours starts after the ask), wait
until INFO persistence counts our save and says it ended ok, read where the file
is (`CONFIG GET dir`/`dbfilename`, the image's /data/dump.rdb where CONFIG is
denied too), copy it out. The archive's one member becomes a file here only
through `harness.safe_paths`; the copy is hashed. The point in time is the
LASTSAVE of our save: a later save replacing the file before the copy makes the
data newer than recorded, never older.
"""

from __future__ import annotations

import hashlib
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import redis

from harness.backup.errors import BackupFailed
from harness.errors import ConfigError, ConnectionFailed, DrillError
from harness.polling import wait_until
from harness.resp import reply_text
from harness.safe_paths import member_path_under

DOCKER_SCHEME = "docker"
#: where the project's Redis image (deploy/images/redis) and the stack keep the file when CONFIG is refused
DEFAULT_DIR, DEFAULT_DBFILENAME = "/data", "dump.rdb"
_CHUNK = 1 << 20


class RdbFileSource(Protocol):
    """Where a Redis's data file can be copied from (its container or pod)."""

    def describe(self) -> str:
        """E.g. "docker container redis" or "pod sentinel/redis-0", for the manifest and messages."""
        ...

    def copy_tar(self, path: str, out: Path, timeout: float) -> None:
        """Write a tar archive holding the file at absolute `path` to `out`."""
        ...


@dataclass(frozen=True)
class CopiedRdb:
    """The file a BGSAVE + copy produced: size, sha256, our save's LASTSAVE, and how long each part took."""

    size: int
    sha256: str
    point_in_time: datetime
    path_in_source: str
    save_seconds: float
    transfer_seconds: float


def _persistence(client: redis.Redis) -> dict[str, Any]:
    return dict(client.info("persistence"))


def _saves(info: dict[str, Any]) -> tuple[int, int]:
    """(rdb_saves, rdb_last_save_time): the counter moves with every save, LASTSAVE only once a second."""
    return int(info.get("rdb_saves", -1)), int(info.get("rdb_last_save_time", 0))


def _ask_for_save(client: redis.Redis, where: str, timeout: float) -> dict[str, Any]:
    """BGSAVE, after any save already running has ended (that one started before we asked); the state before it."""
    deadline = time.monotonic() + timeout
    while True:
        before = _persistence(client)
        if int(before.get("rdb_bgsave_in_progress", 0)):
            wait_until(lambda: None if int(_persistence(client).get("rdb_bgsave_in_progress", 0)) else True,
                       timeout=max(1.0, deadline - time.monotonic()), interval=0.1,
                       what=f"the save already running on {where} to end", describe=lambda: "still saving")
            continue
        try:
            client.bgsave()
        except redis.ResponseError as exc:
            if "in progress" in str(exc) and time.monotonic() < deadline:
                continue  # another client's save started in between: wait for it, then ask again
            raise BackupFailed(f"Redis at {where} refused BGSAVE: {exc}",
                               fix="the fallback needs BGSAVE for this user (ACL +bgsave)") from None
        return before


def _wait_saved(client: redis.Redis, before: dict[str, Any], where: str, timeout: float) -> int:
    """Until INFO counts a save after `before` and none is running; its LASTSAVE. BackupFailed if it failed."""
    count0, last0 = _saves(before)

    def ended() -> dict[str, Any] | None:
        info = _persistence(client)
        count, last = _saves(info)
        moved = count > count0 if count0 >= 0 else last > last0
        return info if moved and not int(info.get("rdb_bgsave_in_progress", 0)) else None

    info = wait_until(ended, timeout=timeout, interval=0.1, what=f"the BGSAVE on {where} to finish",
                      timed_out=lambda last: BackupFailed(
                          f"the BGSAVE on {where} did not finish within {timeout:g}s ({last})",
                          fix="check the server's load and log; raise the save timeout for large datasets"),
                      describe=lambda: f"rdb_bgsave_in_progress={_persistence(client).get('rdb_bgsave_in_progress')}")
    if str(info.get("rdb_last_bgsave_status", "ok")) != "ok":
        raise BackupFailed(f"BGSAVE on {where} failed (rdb_last_bgsave_status:{info.get('rdb_last_bgsave_status')})",
                           fix="check the server's log: disk full, data dir not writable, or fork refused")
    return int(info["rdb_last_save_time"])


def data_file(client: redis.Redis) -> str:
    """Where the server writes its RDB (`CONFIG GET dir` + `dbfilename`); the image's default where CONFIG is denied."""
    try:
        found = {reply_text(k): reply_text(v) for k, v in client.config_get("dir").items()}
        found.update({reply_text(k): reply_text(v) for k, v in client.config_get("dbfilename").items()})
    except redis.ResponseError:
        return f"{DEFAULT_DIR}/{DEFAULT_DBFILENAME}"
    directory = found.get("dir") or DEFAULT_DIR
    return f"{directory.rstrip('/')}/{found.get('dbfilename') or DEFAULT_DBFILENAME}"


def _unpack_one(archive: Path, dest: Path, *, expected: str, what: str) -> tuple[int, str]:
    """The archive's single regular member written to `dest` (via safe_paths), hashed; BackupFailed otherwise."""
    with tempfile.TemporaryDirectory(prefix="drill-copy-out-", dir=dest.parent) as tmp, \
            tarfile.open(archive, "r:") as tar:
        members = [m for m in tar.getmembers() if not m.isdir()]
        if len(members) != 1:
            raise BackupFailed(f"copying {expected} out of {what} gave {len(members)} files, expected one",
                               fix="check the path the server reports (CONFIG GET dir / dbfilename)")
        member = members[0]
        unpacked = member_path_under(Path(tmp), member)  # a link, device or climbing name is refused
        unpacked.parent.mkdir(parents=True, exist_ok=True)
        source = tar.extractfile(member)
        assert source is not None  # a regular file, checked above
        digest = hashlib.sha256()
        size = 0
        with source, unpacked.open("wb") as out:
            while chunk := source.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        unpacked.replace(dest)
    return size, digest.hexdigest()


def save_and_copy(client: redis.Redis, source: RdbFileSource, dest: Path, *, where: str,
                  save_timeout: float = 600.0) -> CopiedRdb:
    """BGSAVE, wait until it ended ok, copy the data file out of `source` to `dest`; BackupFailed naming the step."""
    asked = time.monotonic()
    before = _ask_for_save(client, where, save_timeout)
    lastsave = _wait_saved(client, before, where, save_timeout)
    path = data_file(client)
    saved = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="drill-copy-out-", dir=dest.parent) as tmp:
        archive = Path(tmp) / "rdb.tar"
        source.copy_tar(path, archive, save_timeout)
        size, sha256 = _unpack_one(archive, dest, expected=path, what=source.describe())
    return CopiedRdb(size, sha256, datetime.fromtimestamp(lastsave, UTC), path, saved - asked,
                     time.monotonic() - saved)


# ----------------------------------------------------------------------------- Docker


@dataclass(frozen=True)
class DockerAddress:
    """`docker://[USER@]CONTAINER[:PORT][/DB]`: a Redis in a local container (port 6379 unless given)."""

    container: str
    port: int = 6379
    db: int = 0
    username: str | None = None


def parse_docker_url(url: str) -> DockerAddress:
    parts = urlsplit(url)
    form = "docker://[USER@]CONTAINER[:PORT][/DB] (the container's name or id)"
    if parts.scheme != DOCKER_SCHEME or not parts.hostname:
        raise ConfigError(f"{url.split('@')[-1]!r} is not a docker:// source", fix=f"use {form}")
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ConfigError(f"docker://{parts.hostname}/{path}: the path must be a database number", fix=f"use {form}")
    try:
        port = parts.port or 6379
    except ValueError:
        raise ConfigError(f"docker://{parts.hostname}: the port is not a number", fix=f"use {form}") from None
    return DockerAddress(parts.hostname, port, int(path or 0), parts.username or None)


@dataclass
class DockerContainerFile:
    """A local container's files, copied out through the Docker Engine API (`docker cp`)."""

    container: Any = field(repr=False)  # docker.models.containers.Container
    name: str

    def describe(self) -> str:
        return f"docker container {self.name}"

    def copy_tar(self, path: str, out: Path, timeout: float) -> None:
        import docker.errors

        try:
            chunks, _ = self.container.get_archive(path)
            with out.open("wb") as fh:
                for chunk in chunks:
                    fh.write(chunk)
        except docker.errors.NotFound:
            raise BackupFailed(f"{path} does not exist in {self.describe()}",
                               fix="check the server's dir/dbfilename (CONFIG GET dir)") from None
        except docker.errors.APIError as exc:
            raise BackupFailed(f"copying {path} out of {self.describe()} failed: {exc.explanation or exc}",
                               fix="check the Docker engine and the container") from None


def _docker_client() -> Any:
    import docker
    import docker.errors

    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except (docker.errors.DockerException, OSError) as exc:
        raise ConnectionFailed(f"no Docker engine answers ({exc.__class__.__name__})",
                               fix="start Docker, or set DOCKER_HOST to the engine the container runs on") from None
    return client


def _container_address(attrs: dict[str, Any], port: int) -> str:
    """Where this machine reaches the container's port: a published loopback/any binding, else its own IP."""
    settings = attrs.get("NetworkSettings") or {}
    for binding in (settings.get("Ports") or {}).get(f"{port}/tcp") or []:
        host_ip = binding.get("HostIp") or "0.0.0.0"
        if ":" in host_ip:
            continue  # an IPv6 binding: the IPv4 one beside it is used
        return f"{'127.0.0.1' if host_ip in ('0.0.0.0', '') else host_ip}:{binding['HostPort']}"
    ips = [settings.get("IPAddress")] + [n.get("IPAddress") for n in (settings.get("Networks") or {}).values()]
    ip = next((i for i in ips if i), None)
    if ip is None:
        raise ConnectionFailed(f"container {attrs.get('Name', '?').lstrip('/')} publishes no port {port} and has no "
                               "IP address this machine can reach", fix="publish the port (-p 127.0.0.1::6379)")
    return f"{ip}:{port}"


def docker_source(url: str) -> tuple[str, DockerContainerFile]:
    """(redis:// URL this machine reaches the container's Redis at, the container as a copy source)."""
    import docker.errors

    address = parse_docker_url(url)
    client = _docker_client()
    try:
        container = client.containers.get(address.container)
    except docker.errors.NotFound:
        raise ConfigError(f"no container {address.container!r} on the Docker engine",
                          fix="check the name with `docker ps`") from None
    if (container.attrs.get("State") or {}).get("Status") != "running":
        raise ConnectionFailed(f"container {address.container} is not running", fix="start it first")
    user = f"{address.username}@" if address.username else ""
    netloc = f"{user}{_container_address(container.attrs, address.port)}"
    name = str(container.attrs.get("Name") or address.container).lstrip("/")
    return urlunsplit(("redis", netloc, f"/{address.db}", "", "")), DockerContainerFile(container, name)


# ----------------------------------------------------------------------------- Kubernetes


@dataclass
class PodFile:
    """A pod's files, copied out through the exec API with `tar` (what `kubectl cp` does)."""

    cluster: Any = field(repr=False)  # harness.platform.client.Cluster
    namespace: str
    pod: str
    container: str | None = None

    def describe(self) -> str:
        return f"pod {self.namespace}/{self.pod}"

    def copy_tar(self, path: str, out: Path, timeout: float) -> None:
        from harness.platform.pod_exec import download_tar

        try:
            download_tar(self.cluster, namespace=self.namespace, pod=self.pod, container=self.container, path=path,
                         out=out, timeout=timeout)
        except DrillError as exc:
            raise BackupFailed(f"copying {path} out of {self.describe()} failed: {exc.message}",
                               fix=exc.fix or "check the pod (kubectl exec works, tar is installed)") from None
