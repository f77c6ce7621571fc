"""One way to talk to a cluster: an explicit kubeconfig, JSON in and out, errors from our tree.

Every platform operation goes through `Cluster.request`, built on the kubernetes
client's ApiClient (its auth, TLS and proxy handling) but returning plain dicts:
the generic operations here (apply, export, evict) work on arbitrary objects,
and one transport means one place that maps failures to harness.errors.
The default ~/.kube/config is never read implicitly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from harness.config import Settings
from harness.errors import AuthFailed, ConfigError, ConnectionFailed, DrillError
from harness.platform.api_requests import REQUESTS, RequestCounter
from harness.polling import SYSTEM_CLOCK, Clock

FIELD_MANAGER = "sentinel-drill"
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, application/json"

T = TypeVar("T")
Obj = dict[str, Any]

#: page size of list_items: the API server answers a page of this many objects, then a continue token
LIST_PAGE = 500
#: how often a request answered 429 (API Priority and Fairness: overloaded) is retried after its Retry-After
THROTTLED_RETRIES = 3


class ObjectNotFound(DrillError):
    """A named Kubernetes object does not exist (exit 2: the target is not what the config says)."""

    exit_code = 2


class ApiRejected(DrillError):
    """The API server refused a request for a reason other than auth or absence (exit 2)."""

    exit_code = 2

    def __init__(
        self, message: str, *, status: int, fix: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, fix=fix)
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class Cluster:
    """A connected API client plus where it came from (for messages)."""

    api: k8s.ApiClient = field(repr=False)
    server: str
    kubeconfig: str
    context: str | None
    timeout: float = 10.0
    requests: RequestCounter = field(default=REQUESTS, repr=False, compare=False)  # what the bench reads
    clock: Clock = field(default=SYSTEM_CLOCK, repr=False, compare=False)

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = JSON,
        timeout: float | tuple[float, float] | None = None,
        what: str | None = None,
        retry_throttled: bool | None = None,
    ) -> Obj:
        """Send one request; return the decoded JSON body or raise from harness.errors.

        `what` names the object for messages ("deployment sentinel/sentinel-brain"); `retry_throttled`
        see `_exchange`.
        """
        return self.send(method, path, query=query, body=body, content_type=content_type,
                         timeout=timeout, what=what, retry_throttled=retry_throttled)[1]

    def send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = JSON,
        timeout: float | tuple[float, float] | None = None,
        what: str | None = None,
        retry_throttled: bool | None = None,
    ) -> tuple[int, Obj]:
        """Like `request`, also returning the HTTP status (201 tells created from updated)."""
        status, raw = self._exchange(method, path, query=query, body=body, content_type=content_type,
                                     timeout=timeout, what=what, accept=JSON, retry_throttled=retry_throttled)
        return status, (json.loads(raw) if raw else {})

    def get_text(self, path: str, *, what: str | None = None, **query: Any) -> str:
        """GET a plain-text endpoint (a pod's log)."""
        return self._exchange("GET", path, query=query, what=what, accept="*/*")[1].decode("utf-8", "replace")

    def _exchange(self, method: str, path: str, *, query: Mapping[str, Any] | None = None, body: Any = None,
                  content_type: str = JSON, timeout: float | tuple[float, float] | None = None,
                  what: str | None = None, accept: str = JSON,
                  retry_throttled: bool | None = None) -> tuple[int, bytes]:
        """One request; one the API server throttled (429 + Retry-After) is sent again after that wait.

        By default only reads are: an eviction's 429 means a PodDisruptionBudget said no,
        and the drain decides when to ask again (platform/nodes.py). A write that may be
        repeated (a DELETE with a UID precondition) passes `retry_throttled=True`.
        """
        retry = method.upper() == "GET" if retry_throttled is None else retry_throttled
        for attempt in range(THROTTLED_RETRIES + 1):
            try:
                return self._exchange_once(method, path, query=query, body=body, content_type=content_type,
                                           timeout=timeout, what=what, accept=accept)
            except ApiRejected as exc:
                if not retry or exc.status != 429 or attempt == THROTTLED_RETRIES:
                    raise
                self.clock.sleep(exc.retry_after if exc.retry_after is not None else 1.0)
        raise AssertionError("unreachable")  # pragma: no cover

    def _exchange_once(self, method: str, path: str, *, query: Mapping[str, Any] | None, body: Any,
                       content_type: str, timeout: float | tuple[float, float] | None,
                       what: str | None, accept: str) -> tuple[int, bytes]:
        params = [(k, _query_value(v)) for k, v in (query or {}).items() if v is not None]
        headers = {"Accept": accept, "Content-Type": content_type}
        method_, url, hdrs, body_, post = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=params,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        self.requests.record(method, path, query)
        try:
            resp = self.api.call_api(
                method_, url, header_params=hdrs, body=body_, post_params=post,
                _request_timeout=timeout if timeout is not None else self.timeout,
            )
            raw = resp.read()
        except k8s.ApiException as exc:  # raised by the REST layer for some statuses
            raise self._api_error(int(exc.status or 0), exc.body or "", what or path,
                                  headers=exc.headers) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise self.unreachable(exc) from None
        if not 200 <= resp.status <= 299:
            text = raw.decode("utf-8", "replace") if raw else ""
            raise self._api_error(resp.status, text, what or path, headers=resp.headers)
        return resp.status, raw or b""

    def get(self, path: str, *, what: str | None = None, **query: Any) -> Obj:
        return self.request("GET", path, query=query, what=what)

    def list_items(self, path: str, *, limit: int = LIST_PAGE, **query: Any) -> list[Obj]:
        """GET a list endpoint page by page (`limit` objects each, following `continue`); return every item.

        Paging keeps each answer (and the API server's work per request) bounded
        at 300 nodes and thousands of pods; the pages come from one consistent
        snapshot (the first page's resourceVersion).
        """
        return self._paged(path, limit=limit, accept=JSON, query=query)

    def list_metadata(self, path: str, *, limit: int = LIST_PAGE, **query: Any) -> list[Obj]:
        """Like `list_items`, but only each object's metadata (a PartialObjectMetadataList): a wait that needs
        names and UIDs of thousands of pods reads a fraction of the bytes."""
        return self._paged(path, limit=limit, accept=METADATA_LIST, query=query)

    def _paged(self, path: str, *, limit: int, accept: str, query: Mapping[str, Any]) -> list[Obj]:
        items: list[Obj] = []
        token: str | None = None
        while True:
            page_query = {**query, "limit": limit, **({"continue": token} if token else {})}
            raw = self._exchange("GET", path, query=page_query, accept=accept)[1]
            page = json.loads(raw) if raw else {}
            items += page.get("items") or []
            token = (page.get("metadata") or {}).get("continue") or None
            if not token:
                return items

    def unreachable(self, exc: BaseException) -> ConnectionFailed:
        reason = getattr(exc, "reason", None) or exc
        return ConnectionFailed(
            f"cannot reach the Kubernetes API at {self.server} ({reason.__class__.__name__})",
            fix=f"check that the cluster is running and that kubeconfig {self.kubeconfig} "
            f"(context {self.context or 'current'}) points at it; for the sandbox: sentinel-drill sandbox status",
        )

    def _api_error(
        self, status: int, body: str, what: str, *, headers: Mapping[str, str] | None = None
    ) -> DrillError:
        message = _status_message(body)
        if status == 401:
            return AuthFailed(
                f"the Kubernetes API at {self.server} rejected our credentials (401) for {what}",
                fix=f"refresh the credentials of context {self.context or 'current'} in {self.kubeconfig}",
            )
        if status == 403:
            return AuthFailed(
                f"the Kubernetes API at {self.server} forbids this request (403) on {what}: {message}",
                fix="grant the drill's identity the RBAC permissions listed in docs/sandbox.md",
            )
        if status == 404:
            return ObjectNotFound(
                f"{what} not found on {self.server}",
                fix="check the namespace/name in the target configuration (DRILL_NAMESPACE) and that the stack "
                "is deployed",
            )
        return ApiRejected(
            f"the Kubernetes API refused {what} ({status}): {message}",
            status=status,
            retry_after=_retry_after(headers),
        )


def _query_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    try:
        return float((headers or {}).get("Retry-After", ""))
    except ValueError:
        return None


def _status_message(body: str) -> str:
    try:
        return str(json.loads(body).get("message") or body[:200])
    except (ValueError, AttributeError):
        return body[:200]


def connect(
    kubeconfig: str | Path | None,
    context: str | None = None,
    *,
    timeout: float = 10.0,
    retries: int = 1,
) -> Cluster:
    """Load `kubeconfig` (or $KUBECONFIG, never ~/.kube/config implicitly) into a Cluster.

    Raises ConfigError when no kubeconfig is configured, the file is missing, or
    the context does not exist. Nothing is sent to the server.
    """
    path = str(kubeconfig) if kubeconfig else os.environ.get("KUBECONFIG", "")
    if not path and os.environ.get("KUBERNETES_SERVICE_HOST") and Path(IN_CLUSTER_TOKEN).is_file():
        return _in_cluster(timeout=timeout, retries=retries)  # a CronJob's pod: its ServiceAccount
    if not path:
        raise ConfigError(
            "no kubeconfig configured for the target",
            fix="set DRILL_KUBECONFIG (or KUBECONFIG), or `eval \"$(sentinel-drill sandbox env)\"` for the sandbox",
        )
    missing = [p for p in path.split(os.pathsep) if p and not Path(p).is_file()]
    if missing:
        raise ConfigError(f"kubeconfig {missing[0]} does not exist", fix="point DRILL_KUBECONFIG at an existing file")
    configuration = k8s.Configuration()
    try:
        # what new_client_from_config does, split so `retries` is set before the connection pool is built
        k8s_config.load_kube_config(
            config_file=path, context=context, persist_config=False, client_configuration=configuration
        )
    except ConfigException as exc:
        raise ConfigError(
            f"kubeconfig {path} cannot be used (context {context or 'current'}): {exc}",
            fix="check the context name (DRILL_CONTEXT) and the file's contents",
        ) from None
    configuration.retries = _connection_retries(retries)
    api = k8s.ApiClient(configuration=configuration)
    return Cluster(api=api, server=api.configuration.host, kubeconfig=path, context=context, timeout=timeout)


def _connection_retries(retries: int) -> urllib3.Retry:
    """urllib3's retries for a dropped connection, but not for a 429: `Cluster._exchange` honours Retry-After
    itself (on its clock, counted), where urllib3 would sleep it out unseen."""
    return urllib3.Retry(total=retries, respect_retry_after_header=False)


IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"


def _in_cluster(*, timeout: float, retries: int) -> Cluster:
    """The pod's own ServiceAccount (what kubectl does inside a pod without a kubeconfig)."""
    configuration = k8s.Configuration()
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)
    except ConfigException as exc:
        raise ConfigError(f"the in-cluster ServiceAccount cannot be used: {exc}",
                          fix="mount the ServiceAccount token (automountServiceAccountToken: true)") from None
    configuration.retries = _connection_retries(retries)
    api = k8s.ApiClient(configuration=configuration)
    return Cluster(api=api, server=api.configuration.host, kubeconfig="(in-cluster)", context="in-cluster",
                   timeout=timeout)


def connect_settings(settings: Settings, *, timeout: float = 10.0) -> Cluster:
    """Connect to the target named by drill settings (kubeconfig + context)."""
    return connect(settings.kubeconfig, settings.context, timeout=timeout)


def namespaced(group_version: str, plural: str, namespace: str, name: str | None = None) -> str:
    """API path of a namespaced collection or object (`v1` → /api/v1, `apps/v1` → /apis/apps/v1)."""
    base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    path = f"{base}/namespaces/{quote(namespace, safe='')}/{plural}"
    return f"{path}/{quote(name, safe='')}" if name else path


def cluster_scoped(group_version: str, plural: str, name: str | None = None) -> str:
    """API path of a cluster-scoped collection or object."""
    base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    return f"{base}/{plural}/{quote(name, safe='')}" if name else f"{base}/{plural}"




def label_selector(labels: Mapping[str, str] | Sequence[str] | str) -> str:
    """A label selector string from a mapping ({'app': 'x'} → 'app=x') or pass a string through."""
    if isinstance(labels, str):
        return labels
    if isinstance(labels, Mapping):
        return ",".join(f"{k}={v}" for k, v in labels.items())
    return ",".join(labels)
