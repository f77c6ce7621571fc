"""The one transport maps every failure to the error tree, names the server and object, and reads no default config."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.errors import AuthFailed, ConfigError, ConnectionFailed
from harness.platform.client import ApiRejected, ObjectNotFound, connect
from harness.polling import WaitTimedOut, wait_until
from harness.redis_process import free_port
from tests.fakes.kube_api import Answer, KubeApi, kubeconfig, serving

ROUTES: dict[str, tuple[int, dict[str, object]]] = {}


def _route(path: str) -> Answer:
    status, body = ROUTES.get(path, (404, {"kind": "Status", "message": "not here"}))
    return status, body, "2" if status == 429 else None


@pytest.fixture
def api() -> Iterator[KubeApi]:
    with serving(_route) as server:
        yield server
    ROUTES.clear()


@pytest.fixture
def cluster(api: KubeApi, tmp_path: Path):  # type: ignore[no-untyped-def]
    return connect(kubeconfig(tmp_path, api.url), "fake", timeout=2.0)


def test_no_kubeconfig_is_a_config_error_not_a_silent_fallback_to_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBECONFIG", raising=False)
    with pytest.raises(ConfigError, match="no kubeconfig"):
        connect(None)


def test_a_missing_kubeconfig_or_context_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        connect(tmp_path / "nope")
    with pytest.raises(ConfigError, match="context other"):
        connect(kubeconfig(tmp_path, "http://127.0.0.1:1"), "other")


def test_statuses_map_to_the_error_tree_naming_server_and_object(cluster) -> None:  # type: ignore[no-untyped-def]
    ROUTES.update({"/a": (401, {}), "/b": (403, {"message": "rbac says no"}), "/c": (429, {"message": "budget"}),
                   "/d": (422, {"message": "spec.selector: Required value"})})
    with pytest.raises(AuthFailed, match="401"):
        cluster.get("/a", what="deployment x/y")
    with pytest.raises(AuthFailed, match="rbac says no"):
        cluster.get("/b")
    with pytest.raises(ObjectNotFound, match="deployment sentinel/nope not found on http://127.0.0.1"):
        cluster.get("/missing", what="deployment sentinel/nope")
    with pytest.raises(ApiRejected) as err:
        cluster.request("POST", "/c", body={})
    assert err.value.status == 429 and err.value.retry_after == 2.0
    with pytest.raises(ApiRejected, match="spec.selector"):
        cluster.request("PATCH", "/d", body={}, content_type="application/apply-patch+yaml")


def test_apply_patches_are_sent_as_apply_patch_yaml(cluster, api) -> None:  # type: ignore[no-untyped-def]
    ROUTES["/apis/apps/v1/namespaces/s/deployments/d"] = (201, {"kind": "Deployment"})
    status, body = cluster.send("PATCH", "/apis/apps/v1/namespaces/s/deployments/d", body={"a": 1},
                                content_type="application/apply-patch+yaml", query={"fieldManager": "m", "force": True})
    assert status == 201 and body == {"kind": "Deployment"}
    method, path, ctype = api.requests[-1]
    assert (method, ctype) == ("PATCH", "application/apply-patch+yaml") and "force=true" in path


def test_an_unreachable_api_is_connection_failed_with_the_url_and_a_fix(tmp_path: Path) -> None:
    port = free_port()
    cluster = connect(kubeconfig(tmp_path, f"http://127.0.0.1:{port}"), "fake", timeout=1.0, retries=0)
    with pytest.raises(ConnectionFailed, match=f"127.0.0.1:{port}") as err:
        cluster.get("/api/v1/nodes")
    assert "sandbox status" in (err.value.fix or "")


def test_wait_until_reports_what_it_last_saw() -> None:
    with pytest.raises(WaitTimedOut, match="last seen: 2 of 3 ready"):
        wait_until(lambda: None, timeout=0.05, interval=0.01, what="rollout", describe=lambda: "2 of 3 ready")
    assert wait_until(lambda: 7, timeout=1, what="x", describe=str) == 7
