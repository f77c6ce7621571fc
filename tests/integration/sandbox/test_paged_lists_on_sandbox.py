"""Lists are paged on the real API server: every object comes back, in as many requests as pages."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest

from harness.platform.api_requests import RequestCounter
from harness.platform.client import Cluster, ObjectNotFound, cluster_scoped, namespaced

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]


@pytest.fixture
def scratch_namespace(cluster: Cluster) -> Iterator[str]:
    name = f"paging-{uuid.uuid4().hex[:8]}"
    cluster.request("POST", cluster_scoped("v1", "namespaces"),
                    body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    try:
        cluster.request("DELETE", cluster_scoped("v1", "namespaces", name))
    except ObjectNotFound:
        pass


def test_list_items_returns_every_object_page_by_page(cluster: Cluster, scratch_namespace: str) -> None:
    path = namespaced("v1", "configmaps", scratch_namespace)
    for i in range(25):
        cluster.request("POST", path, body={"apiVersion": "v1", "kind": "ConfigMap",
                                            "metadata": {"name": f"cm-{i:02d}", "labels": {"paging": "yes"}}})
    counted = replace(cluster, requests=RequestCounter())

    items = counted.list_items(path, limit=10, labelSelector="paging=yes")

    assert sorted(i["metadata"]["name"] for i in items) == [f"cm-{i:02d}" for i in range(25)]
    assert counted.requests.snapshot() == {"list": 3}  # 10 + 10 + 5
    one_page = replace(cluster, requests=RequestCounter())
    assert len(one_page.list_items(path, labelSelector="paging=yes")) == 25
    assert one_page.requests.snapshot() == {"list": 1}


def test_list_metadata_pages_too_and_carries_only_metadata(cluster: Cluster, scratch_namespace: str) -> None:
    path = namespaced("v1", "configmaps", scratch_namespace)
    for i in range(12):
        cluster.request("POST", path, body={"apiVersion": "v1", "kind": "ConfigMap", "data": {"big": "x" * 1000},
                                            "metadata": {"name": f"cm-{i:02d}", "labels": {"paging": "meta"}}})
    counted = replace(cluster, requests=RequestCounter())

    items = counted.list_metadata(path, limit=5, labelSelector="paging=meta")

    assert sorted(i["metadata"]["name"] for i in items) == [f"cm-{i:02d}" for i in range(12)]
    assert all(i["metadata"]["uid"] and "data" not in i for i in items)
    assert counted.requests.snapshot() == {"list": 3}
