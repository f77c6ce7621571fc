"""What the harness costs the API server: requests counted by verb, throttled reads retried after Retry-After,
and a drain that asks a budget once per retry instead of once per pod (on a fake HTTP API and a fake clock)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.platform.api_requests import RequestCounter, verb_of
from harness.platform.client import ApiRejected, Cluster, connect
from harness.platform.nodes import _Evictions
from harness.platform.pods import PodInfo, _delete_pod
from tests.fakes.clock import FakeClock
from tests.fakes.kube_api import Answer, KubeApi, kubeconfig, serving

#: path → answers in order (status, body, Retry-After or None); the last one repeats
SCRIPT: dict[str, list[tuple[int, dict[str, Any], str | None]]] = {}


def _scripted(path: str) -> Answer:
    answers = SCRIPT.get(path) or [(404, {"message": "not here"}, None)]
    return answers.pop(0) if len(answers) > 1 else answers[0]


@pytest.fixture
def api() -> Iterator[KubeApi]:
    with serving(_scripted) as server:
        yield server
    SCRIPT.clear()


@pytest.fixture
def cluster(api: KubeApi, tmp_path: Path) -> Cluster:
    plain = connect(kubeconfig(tmp_path, api.url), "fake", timeout=2.0)
    return replace(plain, requests=RequestCounter(), clock=FakeClock())


@pytest.mark.parametrize(("method", "path", "query", "verb"), [
    ("GET", "/api/v1/nodes", None, "list"),
    ("GET", "/api/v1/nodes", {"watch": True}, "watch"),
    ("GET", "/api/v1/nodes/n1", None, "get"),
    ("GET", "/api/v1/namespaces/s/pods", None, "list"),
    ("GET", "/api/v1/namespaces/s/pods/p", None, "get"),
    ("GET", "/apis/apps/v1/namespaces/s/deployments/d/scale", None, "get/scale"),
    ("PATCH", "/apis/apps/v1/namespaces/s/deployments/d/scale", None, "patch/scale"),
    ("POST", "/api/v1/namespaces/s/pods/p/eviction", None, "create/eviction"),
    ("POST", "/api/v1/namespaces", None, "create"),
    ("DELETE", "/api/v1/namespaces/s/pods/p", None, "delete"),
    ("GET", "/version", None, "get"),
])
def test_each_request_is_named_by_its_kubernetes_verb(method: str, path: str, query: dict[str, Any] | None,
                                                      verb: str) -> None:
    assert verb_of(method, path, query) == verb


def test_the_transport_counts_every_request_it_sends_by_verb(cluster: Cluster) -> None:
    SCRIPT["/api/v1/nodes"] = [(200, {"items": [{"metadata": {"name": "n"}}]}, None)]
    SCRIPT["/api/v1/nodes/n"] = [(200, {"metadata": {"name": "n"}}, None)]
    before = cluster.requests.snapshot()
    cluster.list_items("/api/v1/nodes")
    cluster.get("/api/v1/nodes/n")
    cluster.get("/api/v1/nodes/n")
    with pytest.raises(ApiRejected):  # a refused request was still sent: it counts
        SCRIPT["/api/v1/namespaces/s/pods/p/eviction"] = [(429, {"message": "budget"}, None)]
        cluster.request("POST", "/api/v1/namespaces/s/pods/p/eviction", body={})
    assert cluster.requests.since(before) == {"list": 1, "get": 2, "create/eviction": 1}
    assert cluster.requests.total() == 4


def test_list_items_follows_continue_tokens_and_sends_the_limit(cluster: Cluster, api: KubeApi) -> None:
    SCRIPT["/api/v1/configmaps"] = [
        (200, {"items": [{"n": 1}, {"n": 2}], "metadata": {"continue": "two"}}, None),
        (200, {"items": [{"n": 3}], "metadata": {"continue": ""}}, None),
    ]
    assert cluster.list_items("/api/v1/configmaps", limit=2) == [{"n": 1}, {"n": 2}, {"n": 3}]
    paths = [p for _, p, _ in api.requests]
    assert "limit=2" in paths[0] and "continue" not in paths[0]
    assert "continue=two" in paths[1] and "limit=2" in paths[1]


def test_a_throttled_read_is_retried_after_the_servers_retry_after(cluster: Cluster) -> None:
    SCRIPT["/api/v1/nodes"] = [(429, {"message": "too many requests"}, "3"),
                               (429, {"message": "too many requests"}, "5"),
                               (200, {"items": [{"metadata": {"name": "n"}}]}, None)]
    assert len(cluster.list_items("/api/v1/nodes")) == 1
    assert cluster.clock.sleeps == [3.0, 5.0]  # type: ignore[attr-defined]


def test_a_throttled_read_gives_up_after_its_retries_with_the_status(cluster: Cluster) -> None:
    SCRIPT["/api/v1/nodes/n"] = [(429, {"message": "too many requests"}, "1")]
    with pytest.raises(ApiRejected) as err:
        cluster.get("/api/v1/nodes/n")
    assert err.value.status == 429 and len(cluster.clock.sleeps) == 3  # type: ignore[attr-defined]


def test_a_throttled_pod_delete_is_sent_again_and_a_gone_pod_is_fine(cluster: Cluster, api: KubeApi) -> None:
    """A pod kill's DELETE (UID precondition: repeating it is safe) is retried after Retry-After, like a read."""
    SCRIPT["/api/v1/namespaces/s/pods/p"] = [(429, {"message": "too many requests"}, "2"), (200, {}, None)]
    _delete_pod(cluster, PodInfo(name="p", namespace="s", uid="u1", node=None, zone=None, phase="Running",
                                 ready=True, terminating=False), grace_seconds=0)
    assert [m for m, _, _ in api.requests] == ["DELETE", "DELETE"] and cluster.clock.sleeps == [2.0]  # type: ignore[attr-defined]
    SCRIPT["/api/v1/namespaces/s/pods/q"] = [(404, {"message": "not found"}, None)]
    _delete_pod(cluster, PodInfo(name="q", namespace="s", uid="u2", node=None, zone=None, phase="Running",
                                 ready=True, terminating=False), grace_seconds=0)  # already gone: no error


def test_a_refused_eviction_is_not_retried_by_the_transport(cluster: Cluster, api: KubeApi) -> None:
    SCRIPT["/api/v1/namespaces/s/pods/p/eviction"] = [(429, {"message": "budget"}, "10")]
    with pytest.raises(ApiRejected) as err:
        cluster.request("POST", "/api/v1/namespaces/s/pods/p/eviction", body={})
    assert err.value.retry_after == 10.0 and len(api.requests) == 1


def _pod(name: str, owner: str = "rs-1") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "s", "ownerReferences": [{"controller": True, "uid": owner}]}}


def test_a_budgets_429_holds_back_every_pod_of_that_owner_until_its_retry_after(cluster: Cluster,
                                                                             api: KubeApi) -> None:
    for name in ("a", "b", "c"):
        SCRIPT[f"/api/v1/namespaces/s/pods/{name}/eviction"] = [(429, {"message": "budget"}, "10")]
    SCRIPT["/api/v1/namespaces/s/pods/x/eviction"] = [(201, {}, None)]
    clock = FakeClock()
    evictions = _Evictions({n: _pod(n) for n in ("a", "b", "c")} | {"x": _pod("x", owner="rs-2")}, clock, 0.25,
                           concurrency=1)  # one at a time, so "not asked" is exact

    assert evictions.round(cluster) is None
    asked = [p for _, p, _ in api.requests]
    assert len(asked) == 2  # a (refused, owner held) and x (another owner, evicted); b and c not asked
    assert evictions.evicted == ["x"] and evictions.refusals == 1

    clock.now = 9.9  # within the server's Retry-After: nothing is sent
    evictions.round(cluster)
    assert len(api.requests) == 2

    clock.now = 10.0
    evictions.round(cluster)
    assert len(api.requests) == 3 and evictions.refusals == 2


def test_a_429_without_retry_after_waits_the_drains_own_interval(cluster: Cluster) -> None:
    SCRIPT["/api/v1/namespaces/s/pods/a/eviction"] = [(429, {"message": "budget"}, None), (201, {}, None)]
    clock = FakeClock()
    evictions = _Evictions({"a": _pod("a")}, clock, 0.25, concurrency=1)
    assert evictions.round(cluster) is None
    assert evictions.not_before == {"rs-1": 0.25}
    clock.now = 0.25
    assert evictions.round(cluster) is True and evictions.evicted == ["a"]


def test_evictions_run_a_few_at_a_time_and_all_land(cluster: Cluster, api: KubeApi) -> None:
    names = [f"p{i}" for i in range(20)]
    in_flight, peak, lock = [0], [0], threading.Lock()

    def slow_eviction(path: str) -> Answer:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.02)  # long enough for the others in flight to arrive meanwhile
        with lock:
            in_flight[0] -= 1
        return 201, {}, None

    api.answer = slow_eviction
    evictions = _Evictions({n: _pod(n) for n in names}, FakeClock(), 0.25, concurrency=4)
    assert evictions.round(cluster) is True
    assert sorted(evictions.evicted) == sorted(names) and len(api.requests) == 20
    assert 1 < peak[0] <= 4, peak  # several at once, never more than asked
