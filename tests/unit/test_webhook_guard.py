"""The webhook goes where it was pointed and nowhere else: https (plain http to loopback only), no redirect
followed, no link-local or cloud metadata address, resolved once and posted to the address that was checked.

Every server here listens on 127.0.0.1; names are resolved by a stand-in resolver, so no DNS query
leaves this machine.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from harness.evidence.notify import post_notification

TOKEN = "T0GUARD/B0GUARD/xoxb-guard-token-7"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A guard that fails the test before any connection leaves loopback (a regression must not reach a
    metadata service from the test machine)."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else ""
        if host and not ipaddress.ip_address(host.split("%", 1)[0]).is_loopback:
            raise AssertionError(f"the test tried to connect to {host}")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@dataclass
class Hook:
    """A webhook stand-in on loopback: what it was sent, and what it answers."""

    status: int = 200
    location: str = ""
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (method, path, Host header)
    port: int = 0


def _serve(hook: Hook, *, tls: ssl.SSLContext | None = None) -> Iterator[Hook]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            if length:
                self.rfile.read(length)
            hook.requests.append((self.command, self.path, self.headers.get("Host", "")))
            self.send_response(hook.status)
            if hook.location:
                self.send_header("Location", hook.location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_GET = _answer

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    hook.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    yield from _serve(Hook())


@pytest.fixture
def elsewhere() -> Iterator[Hook]:
    """Where a redirect points: it must never be reached."""
    yield from _serve(Hook())


def _resolver(table: dict[str, list[str]], calls: list[str] | None = None) -> Callable[[str, int], list[str]]:
    def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        return table[host]

    return resolve


def test_a_redirect_is_reported_as_a_failed_post_and_never_followed(hook: Hook, elsewhere: Hook) -> None:
    hook.status, hook.location = 302, f"http://127.0.0.1:{elsewhere.port}/collect"

    result = post_notification(f"http://127.0.0.1:{hook.port}/services/{TOKEN}", {"text": "x"}, timeout=5)

    assert elsewhere.requests == []
    assert not result.delivered and result.status == 302
    assert "HTTP 302" in result.reason and "not followed" in result.reason


@pytest.mark.parametrize("url", [
    "https://169.254.169.254/latest/meta-data/",  # AWS/GCP/Azure instance metadata
    "http://169.254.170.2/v2/credentials",  # ECS task credentials
    "https://[fe80::1]/hook",
    "https://[fd00:ec2::254]/latest/meta-data/",  # AWS metadata over IPv6
    "https://100.100.100.200/latest/meta-data/",  # Alibaba Cloud metadata
    "https://[::ffff:169.254.169.254]/latest/",  # the metadata address spelled as IPv6
])
def test_link_local_and_metadata_addresses_are_refused_without_a_connection(url: str) -> None:
    result = post_notification(url, {"text": "x"}, timeout=1)
    assert not result.delivered and result.status is None
    assert result.reason.startswith("refused: ") and ("link-local" in result.reason or "metadata" in result.reason)


def test_plain_http_is_refused_unless_it_goes_to_loopback(hook: Hook) -> None:
    result = post_notification(f"http://192.0.2.10/services/{TOKEN}", {"text": "x"}, timeout=1)
    assert not result.delivered and result.reason.startswith("refused: ") and "https" in result.reason
    assert TOKEN not in result.reason and TOKEN not in result.describe(f"http://192.0.2.10/services/{TOKEN}")

    assert post_notification(f"http://127.0.0.1:{hook.port}/services/{TOKEN}", {"text": "x"}).delivered
    ipv6_loopback = post_notification(f"http://[::1]:{hook.port}/x", {"text": "x"}, timeout=1)  # nobody listens
    assert not ipv6_loopback.reason.startswith("refused: ")


@pytest.mark.parametrize("url", ["ftp://hooks.example.test/x", "file:///etc/passwd", "gopher://127.0.0.1/x"])
def test_other_schemes_are_refused(url: str) -> None:
    result = post_notification(url, {"text": "x"})
    assert not result.delivered and result.reason.startswith("refused: ")


def test_a_name_is_resolved_once_every_address_checked_and_the_post_goes_to_that_address(hook: Hook) -> None:
    calls: list[str] = []
    url = f"http://hooks.internal.test:{hook.port}/services/{TOKEN}"

    result = post_notification(url, {"text": "x"}, resolve=_resolver({"hooks.internal.test": ["127.0.0.1"]}, calls))

    assert result.delivered, result.reason
    assert calls == ["hooks.internal.test"]
    assert hook.requests == [("POST", f"/services/{TOKEN}", f"hooks.internal.test:{hook.port}")]

    mixed = _resolver({"hooks.internal.test": ["127.0.0.1", "169.254.169.254"]})
    refused = post_notification(url, {"text": "x"}, resolve=mixed)
    assert not refused.delivered and "169.254.169.254" in refused.reason
    assert len(hook.requests) == 1


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "hook.crt", tmp_path / "hook.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_https_to_a_resolved_address_checks_the_certificate_against_the_name(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path, "hooks.internal.test")
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(cert))
    for served in _serve(Hook(), tls=server_tls):
        resolve = _resolver({"hooks.internal.test": ["127.0.0.1"], "other.internal.test": ["127.0.0.1"]})
        url = f"https://hooks.internal.test:{served.port}/services/{TOKEN}"
        result = post_notification(url, {"verdict": "FAIL"}, resolve=resolve, tls=client_tls)
        assert result.delivered, result.reason
        assert served.requests == [("POST", f"/services/{TOKEN}", f"hooks.internal.test:{served.port}")]

        wrong_name = post_notification(f"https://other.internal.test:{served.port}/x", {"text": "x"},
                                       resolve=resolve, tls=client_tls)
        assert not wrong_name.delivered and "certificate" in wrong_name.reason
        assert len(served.requests) == 1


def test_loopback_and_private_addresses_are_still_allowed_over_https() -> None:
    from harness.evidence.webhook import address_problem

    for allowed in ("127.0.0.1", "::1", "10.1.2.3", "192.168.0.10", "203.0.113.7"):
        assert address_problem(ipaddress.ip_address(allowed)) is None, allowed


def test_a_refused_webhook_is_one_line_on_stderr_with_the_url_redacted(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli.drill_commands import notify_after_run
    from harness.config import load_settings

    url = f"https://169.254.169.254/services/{TOKEN}"
    notify_after_run(url, load_settings(env={}), selection="daily", exit_code=1, since=0.0,
                     env={"DRILL_REPORTS_DIR": str(tmp_path / "reports")})  # no records: the run is an ERROR

    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [("notify: ERROR: notification NOT delivered to https://169.254.169.254/***: refused: "
                      "169.254.169.254 is a cloud metadata address (the drill's verdict and exit code stand)")]
