"""Reach a Redis inside the cluster from outside it: `k8s://` URLs through a port-forward.

`redis_url: k8s://NAMESPACE/NAME:PORT` (a Service if one is called NAME, else a
pod), `k8s://NAMESPACE/svc/NAME:PORT` or `k8s://NAMESPACE/pod/NAME:PORT`, with an
optional `/DB` after the port. `forwarded_redis` turns it into an ordinary
`redis://127.0.0.1:<ephemeral>/DB` for as long as the `with` block runs: a small
listener on 127.0.0.1 relays every accepted connection over its own portforward
stream (the `kubernetes` package's `kubernetes.stream.portforward`, i.e. what
`kubectl port-forward` does). The pod is resolved again for each connection, so a
Redis pod replaced during a file restore is followed like kubectl's Service
forward is not. Any other URL passes through untouched.

The streams use the kubernetes client built from the target's own kubeconfig and
context (`Cluster.api.configuration`); our `Cluster.request` transport speaks
plain HTTP only, and the websocket upgrade needs the client's ws_client.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from kubernetes import client as k8s
from kubernetes.stream import portforward

from harness.errors import AuthFailed, ConfigError, ConnectionFailed
from harness.platform.client import Cluster, Obj, ObjectNotFound, namespaced
from harness.platform.endpoints import SERVICE_NAME_LABEL

log = logging.getLogger(__name__)

SCHEME = "k8s"
FORM = "k8s://NAMESPACE/NAME:PORT (or .../svc/NAME:PORT, .../pod/NAME:PORT), optionally /DB after the port"
RBAC_FIX = ("grant the drill's identity `create` on `pods/portforward` in namespace {ns} "
            "(deploy/rbac/ has it), or use a redis:// URL the harness can reach directly")
_PATH = re.compile(r"^/(?:(?P<kind>svc|service|pod)/)?(?P<name>[a-z0-9]([-a-z0-9.]*[a-z0-9])?):(?P<port>\d+)"
                   r"(?:/(?P<db>\d+))?/?$")
Kind = Literal["service", "pod", "either"]


@dataclass(frozen=True)
class K8sRedisAddress:
    """Where a `k8s://` URL points: a Service or pod port in a namespace (and the Redis db, user)."""

    namespace: str
    kind: Kind
    name: str
    port: int
    db: int = 0
    username: str | None = None

    def describe(self) -> str:
        what = {"service": "service ", "pod": "pod ", "either": ""}[self.kind]
        return f"{what}{self.namespace}/{self.name}:{self.port}"


def is_k8s_url(url: str | None) -> bool:
    return bool(url) and urlsplit(url or "").scheme == SCHEME


def parse_k8s_url(url: str) -> K8sRedisAddress:
    """Parse a `k8s://` Redis URL; ConfigError naming the expected form. The password is ignored here."""
    parts = urlsplit(url)
    if parts.scheme != SCHEME:
        raise ConfigError(f"{parts.scheme}:// is not a k8s:// URL", fix=f"use {FORM}")
    namespace = parts.hostname or ""
    match = _PATH.match(parts.path)
    if not namespace or match is None or parts.port is not None:
        raise ConfigError(f"Redis URL k8s://{namespace}{parts.path} is not of the form {FORM}",
                          fix="e.g. k8s://sentinel/redis:6379 or k8s://sentinel/pod/redis-0:6379/0")
    port = int(match["port"])
    if not 0 < port < 65536:
        raise ConfigError(f"port {port} in Redis URL k8s://{namespace}{parts.path} is out of range",
                          fix="use the Service's (or container's) port, e.g. 6379")
    kind: Kind = "either" if not match["kind"] else ("pod" if match["kind"] == "pod" else "service")
    username = parts.username if parts.username and parts.username != "default" else None
    return K8sRedisAddress(namespace, kind, match["name"], port, int(match["db"] or 0), username)


def _is_ready(pod: Obj) -> bool:
    conditions = {c.get("type"): c.get("status") for c in (pod.get("status") or {}).get("conditions") or []}
    return (pod.get("status") or {}).get("phase") == "Running" and conditions.get("Ready") == "True" \
        and not (pod.get("metadata") or {}).get("deletionTimestamp")


def pod_port(cluster: Cluster, address: K8sRedisAddress) -> tuple[str, int]:
    """(pod name, container port) to forward to now; DrillError when none is running and ready."""
    kind = address.kind
    if kind == "either":
        try:
            service = cluster.get(namespaced("v1", "services", address.namespace, address.name),
                                  what=f"service {address.namespace}/{address.name}")
            return _service_pod(cluster, address, service)
        except ObjectNotFound:
            kind = "pod"
    if kind == "service":
        try:
            service = cluster.get(namespaced("v1", "services", address.namespace, address.name),
                                  what=f"service {address.namespace}/{address.name}")
        except ObjectNotFound:
            raise ObjectNotFound(f"service {address.namespace}/{address.name} (from the k8s:// Redis URL) not found "
                                 f"on {cluster.server}",
                                 fix="check the namespace and Service name in redis_url (kubectl get svc -n "
                                 f"{address.namespace})") from None
        return _service_pod(cluster, address, service)
    try:
        pod = cluster.get(namespaced("v1", "pods", address.namespace, address.name),
                          what=f"pod {address.namespace}/{address.name}")
    except ObjectNotFound:
        raise ObjectNotFound(f"no service or pod {address.namespace}/{address.name} (from the k8s:// Redis URL) "
                             f"on {cluster.server}" if address.kind == "either" else
                             f"pod {address.namespace}/{address.name} (from the k8s:// Redis URL) not found on "
                             f"{cluster.server}",
                             fix=f"check the namespace and name in redis_url (kubectl get svc,pods -n "
                             f"{address.namespace})") from None
    if not _is_ready(pod):
        phase = (pod.get("status") or {}).get("phase") or "unknown"
        raise ConnectionFailed(f"pod {address.namespace}/{address.name} is not running and ready (phase {phase}); "
                               "nothing to port-forward to",
                               fix="wait for the pod to be Ready, or point redis_url at its Service "
                               "(k8s://NAMESPACE/svc/NAME:PORT)")
    return address.name, address.port


def _service_pod(cluster: Cluster, address: K8sRedisAddress, service: Obj) -> tuple[str, int]:
    """A ready pod behind `service` (from its EndpointSlices) and the target port of the Service's `port`."""
    ports = (service.get("spec") or {}).get("ports") or []
    svc_port = next((p for p in ports if int(p.get("port", 0)) == address.port), None)
    if svc_port is None:
        offered = ", ".join(str(p.get("port")) for p in ports) or "none"
        raise ConfigError(f"service {address.namespace}/{address.name} has no port {address.port} (ports: {offered})",
                          fix="use one of the Service's ports in redis_url")
    slices = cluster.list_items(namespaced("discovery.k8s.io/v1", "endpointslices", address.namespace),
                                labelSelector=f"{SERVICE_NAME_LABEL}={address.name}")
    for sl in slices:
        number = next((int(p["port"]) for p in sl.get("ports") or []
                       if (p.get("name") or "") == (svc_port.get("name") or "") and p.get("port")), None)
        for ep in sl.get("endpoints") or []:
            ref = ep.get("targetRef") or {}
            conditions = ep.get("conditions") or {}
            if ref.get("kind") == "Pod" and conditions.get("ready", True) and not conditions.get("terminating"):
                target = svc_port.get("targetPort", address.port)
                return str(ref["name"]), number or (int(target) if str(target).isdigit() else address.port)
    raise ConnectionFailed(f"no ready pod behind service {address.namespace}/{address.name}; nothing to port-forward to",
                           fix=f"check the Redis pods (kubectl get pods -n {address.namespace}) and wait until one is "
                           "Ready")


def open_stream(api: k8s.ApiClient, *, namespace: str, pod: str, port: int) -> Any:
    """One portforward stream to `pod`:`port` (a kubernetes.stream.ws_client.PortForward); errors from our tree."""
    try:
        return portforward(k8s.CoreV1Api(api).connect_get_namespaced_pod_portforward, pod, namespace,
                           ports=str(port))
    except k8s.ApiException as exc:
        reason = str(exc.reason or exc)
        if "403" in reason or "Forbidden" in reason:
            raise AuthFailed(f"the Kubernetes API forbids port-forwarding to pod {namespace}/{pod} (403)",
                             fix=RBAC_FIX.format(ns=namespace)) from None
        if "401" in reason:
            raise AuthFailed(f"the Kubernetes API rejected our credentials for a port-forward to {namespace}/{pod}",
                             fix="refresh the credentials of the target's kubeconfig context") from None
        raise ConnectionFailed(f"cannot port-forward to pod {namespace}/{pod}:{port}: {reason.splitlines()[0][:200]}",
                               fix="check that the pod runs on a node whose kubelet answers "
                               "(`kubectl port-forward` shows the same)") from None


class PortForwardListener:
    """127.0.0.1:<ephemeral> whose every connection is relayed over a new portforward stream."""

    def __init__(self, cluster: Cluster, address: K8sRedisAddress) -> None:
        self.cluster = cluster
        self.address = address
        # its own ApiClient (same kubeconfig/context): kubernetes.stream swaps the client's call_api while it
        # connects, which must not race the drill's own requests on Cluster.api
        self.api = k8s.ApiClient(configuration=cluster.api.configuration)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        self.closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name=f"port-forward {address.describe()}", daemon=True)

    def check(self, timeout: float = 10.0) -> None:
        """Resolve the pod and send one PING through one stream now, so a wrong URL, missing RBAC or a port
        nothing listens on fails here, in one line (any reply will do: -NOAUTH proves the path too)."""
        ns = self.address.namespace
        pod, port = pod_port(self.cluster, self.address)
        forward = open_stream(self.api, namespace=ns, pod=pod, port=port)
        try:
            sock = forward.socket(port)
            sock.settimeout(timeout)
            try:
                sock.sendall(b"PING\r\n")
                reply = sock.recv(64)
            except OSError:
                reply = b""
            if not reply:
                error = str(forward.error(port) or "the stream closed without a reply").splitlines()[0][:200]
                raise ConnectionFailed(f"port-forward to pod {ns}/{pod}:{port} carries no data: {error}",
                                       fix=f"check that the pod's container runs and listens on {port} "
                                       f"(`kubectl port-forward -n {ns} pod/{pod} {port}` shows the same)")
        finally:
            forward.close()

    def start(self) -> PortForwardListener:
        self._thread.start()
        return self

    def close(self) -> None:
        self.closed.set()
        try:  # wakes the thread blocked in accept(); close() alone leaves Linux accepting on the port
            self.server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.server.close()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(conn,), daemon=True,
                             name=f"port-forward connection {self.address.describe()}").start()

    def _relay(self, conn: socket.socket) -> None:
        try:
            pod, port = pod_port(self.cluster, self.address)
            forward = open_stream(self.api, namespace=self.address.namespace, pod=pod, port=port)
        except Exception as exc:  # noqa: BLE001 — the client sees its connection closed; the reason is logged
            problem = exc.one_line() if hasattr(exc, "one_line") else repr(exc)
            log.warning("port-forward to %s: %s", self.address.describe(), problem)
            conn.close()
            return
        remote = forward.socket(port)
        try:
            _pump_both(conn, remote)
        finally:
            conn.close()
            forward.close()


def _pump_both(a: socket.socket, b: Any) -> None:
    """Copy bytes both ways until either side closes."""
    def pump(src: Any, dst: Any) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    back = threading.Thread(target=pump, args=(b, a), daemon=True)
    back.start()
    pump(a, b)
    back.join()


def local_url(url: str, port: int) -> str:
    """The redis:// URL of the local end of a forward for the k8s:// `url` (user and db kept, password never)."""
    address = parse_k8s_url(url)
    user = f"{address.username}@" if address.username else ""
    return urlunsplit(("redis", f"{user}127.0.0.1:{port}", f"/{address.db}", "", ""))


@contextmanager
def forwarded_redis(url: str, cluster: Callable[[], Cluster]) -> Iterator[str]:
    """Yield a URL a Redis client can connect to: `url` itself, or for k8s:// a forward's local redis:// URL.

    `cluster` is called only for a k8s:// URL (the target's own kubeconfig/context). Raises
    ConfigError (bad form), ObjectNotFound (no such pod or Service), ConnectionFailed (no ready pod)
    or AuthFailed (RBAC forbids pods/portforward) before yielding.
    """
    if not is_k8s_url(url):
        yield url
        return
    listener = PortForwardListener(cluster(), parse_k8s_url(url))
    try:
        listener.check()
        listener.start()
        yield local_url(url, listener.port)
    finally:
        listener.close()
