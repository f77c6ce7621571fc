"""Run a command in a pod and copy a file into it, like `kubectl exec` / `kubectl cp`, via the exec API.

`kubectl cp` pipes a tar stream into `tar x` and relies on closing stdin,
which the v4 exec protocol cannot signal; we send the exact byte count and
let `head -c` end the stream instead, then check the sha256 the pod reports.
"""

from __future__ import annotations

import io
import shlex
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import yaml
from kubernetes import client as k8s
from kubernetes.stream import stream
from kubernetes.stream.ws_client import ERROR_CHANNEL
from websocket import WebSocketException

from harness.errors import DrillError
from harness.platform.client import Cluster

CHUNK = 1 << 20


class PodCommandFailed(DrillError):
    """A command run in a pod exited non-zero (exit 1: the step it served did not happen)."""

    exit_code = 1


@dataclass(frozen=True)
class ExecResult:
    returncode: int
    stdout: bytes
    stderr: bytes


def exec_in_pod(
    cluster: Cluster,
    *,
    namespace: str,
    pod: str,
    command: list[str],
    container: str | None = None,
    stdin: bytes | BinaryIO | io.RawIOBase | None = None,
    timeout: float = 300.0,
) -> ExecResult:
    """Run `command` in the pod, feeding `stdin` (bytes, or a stream sent in 1 MiB chunks); collect the output.

    Raises PodCommandFailed when the exec cannot start or outlives `timeout`.
    """
    core = k8s.CoreV1Api(cluster.api)
    kwargs = {"container": container} if container else {}
    try:
        ws = stream(
            core.connect_get_namespaced_pod_exec, pod, namespace, command=command,
            stdin=stdin is not None, stdout=True, stderr=True, tty=False,
            _preload_content=False, binary=True, **kwargs,
        )
    except k8s.ApiException as exc:
        raise PodCommandFailed(
            f"cannot exec in pod {namespace}/{pod}: {exc.reason}",
            fix="check that the pod is Running and its container has a shell (kubectl exec works)",
        ) from None
    out, err = io.BytesIO(), io.BytesIO()
    deadline = time.monotonic() + timeout
    try:
        if stdin is not None:
            source = io.BytesIO(stdin) if isinstance(stdin, bytes) else stdin
            while chunk := source.read(CHUNK):
                try:
                    ws.write_stdin(chunk)
                    ws.update(timeout=0)
                except WebSocketException:
                    break  # the far end closed: the command ended (or never started); its status says which
                out.write(ws.read_stdout(timeout=0) or b"")
                err.write(ws.read_stderr(timeout=0) or b"")
        while ws.is_open():
            if time.monotonic() > deadline:
                raise PodCommandFailed(f"command in pod {namespace}/{pod} did not finish within {timeout:.0f}s",
                                       fix="check the pod's load or raise the timeout")
            try:
                ws.update(timeout=1)
            except WebSocketException:
                break
            out.write(ws.read_stdout(timeout=0) or b"")
            err.write(ws.read_stderr(timeout=0) or b"")
        code = _exit_code(ws.read_channel(ERROR_CHANNEL), namespace=namespace, pod=pod)
    finally:
        ws.close()
    return ExecResult(code, out.getvalue(), err.getvalue())


def _exit_code(status_text: bytes | str, *, namespace: str, pod: str) -> int:
    """The command's exit code from the exec error channel's Status; PodCommandFailed if it never ran."""
    try:
        status = yaml.safe_load(status_text) or {}
    except yaml.YAMLError:
        status = {}
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            return int(cause.get("message", 1))
    raise PodCommandFailed(
        f"exec in pod {namespace}/{pod} failed: {status.get('message') or 'no status from the kubelet'}",
        fix="check that the pod's container is running (kubectl describe pod); a simulated (kwok) node runs none",
    )


def _tar_header_and_size(name: str, size: int, mode: int = 0o640) -> tuple[bytes, int]:
    """The tar bytes that precede the file content, and the archive's total length."""
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, mode, int(time.time())
    header = info.tobuf(format=tarfile.USTAR_FORMAT)
    padded = size + (-size % tarfile.BLOCKSIZE)
    total = len(header) + padded + 2 * tarfile.BLOCKSIZE
    total += -total % tarfile.RECORDSIZE
    return header, total


class _TarStream(io.RawIOBase):
    """A one-file tar archive streamed from disk without building it in memory."""

    def __init__(self, src: Path, name: str) -> None:
        size = src.stat().st_size
        header, self.total = _tar_header_and_size(name, size)
        content = open(src, "rb")  # noqa: SIM115 - closed by close(), like the archive it is part of
        self.parts: list[io.BufferedIOBase] = [io.BytesIO(header), content,
                                               io.BytesIO(b"\0" * (self.total - len(header) - size))]

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray) -> int:  # type: ignore[override]
        while self.parts:
            n = self.parts[0].readinto(buf)
            if n:
                return int(n)
            self.parts.pop(0).close()
        return 0

    def close(self) -> None:
        for part in self.parts:
            part.close()
        super().close()


def upload_file(
    cluster: Cluster,
    *,
    namespace: str,
    pod: str,
    src: Path,
    dest: str,
    container: str | None = None,
    timeout: float = 600.0,
) -> str:
    """Copy `src` to the absolute path `dest` in the pod (atomic rename), return the sha256 the pod computes.

    The file lands as a hidden temporary next to `dest` and is renamed over it
    only after tar succeeded, so a failed copy never leaves a half-written file.
    """
    dest_dir, name = dest.rsplit("/", 1)
    tmp_name = f".{name}.sentinel-drill-upload"
    tar = _TarStream(src, tmp_name)
    script = (
        f"set -e; head -c {tar.total} | tar xf - -C {shlex.quote(dest_dir or '/')}; "
        f"mv -f {shlex.quote(dest_dir + '/' + tmp_name)} {shlex.quote(dest)}; "
        f"sha256sum {shlex.quote(dest)}"
    )
    with tar:
        result = exec_in_pod(cluster, namespace=namespace, pod=pod, container=container,
                             command=["sh", "-c", script], stdin=tar, timeout=timeout)
    if result.returncode != 0:
        raise PodCommandFailed(
            f"copying {src.name} into {namespace}/{pod}:{dest} failed (exit {result.returncode}): "
            f"{result.stderr.decode(errors='replace').strip()[-300:]}",
            fix="check the volume is mounted writable and has room (kubectl exec ... df -h)",
        )
    return result.stdout.decode().split()[0] if result.stdout.strip() else ""


def download_tar(
    cluster: Cluster,
    *,
    namespace: str,
    pod: str,
    path: str,
    out: Path,
    container: str | None = None,
    timeout: float = 600.0,
) -> None:
    """Write a tar archive of the file at absolute `path` in the pod to `out`, streamed (`kubectl cp` from a pod).

    The pod runs `tar cf - -C DIR NAME`; its stdout goes to `out` as it arrives (never held in memory).
    The caller unpacks the archive (through harness.safe_paths). PodCommandFailed when tar fails.
    """
    directory, name = path.rsplit("/", 1)
    core = k8s.CoreV1Api(cluster.api)
    kwargs = {"container": container} if container else {}
    try:
        ws = stream(core.connect_get_namespaced_pod_exec, pod, namespace,
                    command=["tar", "cf", "-", "-C", directory or "/", name],
                    stdin=False, stdout=True, stderr=True, tty=False, _preload_content=False, binary=True, **kwargs)
    except k8s.ApiException as exc:
        raise PodCommandFailed(f"cannot exec in pod {namespace}/{pod}: {exc.reason}",
                               fix="check that the pod is Running and its container has tar") from None
    err = io.BytesIO()
    deadline = time.monotonic() + timeout
    try:
        with out.open("wb") as fh:
            while ws.is_open():
                if time.monotonic() > deadline:
                    raise PodCommandFailed(f"copying {path} out of pod {namespace}/{pod} did not finish within "
                                           f"{timeout:.0f}s", fix="check the pod's load or raise the timeout")
                try:
                    ws.update(timeout=1)
                except WebSocketException:
                    break
                fh.write(ws.read_stdout(timeout=0) or b"")
                err.write(ws.read_stderr(timeout=0) or b"")
            fh.write(ws.read_stdout(timeout=0) or b"")
        code = _exit_code(ws.read_channel(ERROR_CHANNEL), namespace=namespace, pod=pod)
    finally:
        ws.close()
    if code != 0:
        raise PodCommandFailed(f"tar of {path} in pod {namespace}/{pod} exited {code}: "
                               f"{err.getvalue().decode(errors='replace').strip()[-300:]}",
                               fix="check the path exists in the pod (the server's dir/dbfilename)")
