"""The Prometheus row reads remote_write from the configuration and reports, never fails on, reachability."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from harness.coverage.prometheus import cluster_internal, reachability, remote_write_urls
from harness.redis_process import free_port


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # a remote-write receiver refuses an empty write
        self.send_response(400)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/api/v1/push"
    server.shutdown()


def test_remote_write_urls_are_read_from_the_yaml():
    assert remote_write_urls("remote_write:\n  - url: http://a/x\n  - url: http://b/y\n") == ["http://a/x", "http://b/y"]
    assert remote_write_urls("global: {}\n") == []
    with pytest.raises(ValueError, match="not valid YAML"):
        remote_write_urls("remote_write: [\n")


def test_an_answering_endpoint_is_reachable_and_a_closed_port_is_reported(receiver: str):
    assert reachability(receiver) == "reachable: answered HTTP 400"
    assert reachability(f"http://127.0.0.1:{free_port()}/api/v1/push").startswith("no answer from here")


def test_cluster_internal_names_are_not_probed():
    assert cluster_internal("http://metrics-store.monitoring.svc:9009/api/v1/push")
    assert cluster_internal("http://mimir:9009/api/v1/push")
    assert not cluster_internal("https://prometheus-prod.grafana.net/api/prom/push")
    assert reachability("http://mimir:9009/x") == "cluster-internal name, not probed from outside the cluster"
