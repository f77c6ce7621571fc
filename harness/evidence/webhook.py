"""Deliver the failed-drill notification: one POST to where the webhook URL points, and nowhere else.

The URL comes from configuration (a secret), and what answers it is outside the drill's
control; neither may aim the drill's POST at the host's cloud metadata service or at
another address the drill can reach but should not talk to. So:

- **https only**; plain http only when every address of the host is a loopback address;
- the host is **resolved once** and **every address checked**: no link-local address
  (169.254.0.0/16, fe80::/10), no cloud metadata address, nothing unspecified or multicast;
- the connection goes **to the address that was checked** (TLS still checks the
  certificate against the URL's host name), so a second DNS answer cannot change it;
- **no redirect is followed**: a 3xx is a failed post naming its status.

Proxies from the environment are not used: the drill connects to the checked address itself.
Every outcome is a `NotifyResult` (never an exception); nothing here prints the URL, whose
path holds the webhook's token.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from harness.config import redact_webhook
from harness.redaction import Redactor

#: resolves a host name to its addresses (textual IPs); the default asks the system resolver once
Resolver = Callable[[str, int], Sequence[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: instance metadata and credential endpoints of the clouds the drill may run on (most are link-local anyway)
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, DigitalOcean, OpenStack instance metadata
    "169.254.170.2",  # ECS task credentials
    "169.254.170.23",  # EKS Pod Identity
    "fd00:ec2::254",  # AWS instance metadata over IPv6
    "fd00:ec2::23",  # EKS Pod Identity over IPv6
    "168.63.129.16",  # Azure WireServer
    "100.100.100.200",  # Alibaba Cloud metadata
    "192.0.0.192",  # Oracle Cloud metadata
))
_DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class NotifyResult:
    """What became of one post: delivered (2xx) or not, the HTTP status if one came back, and why, in one line."""

    delivered: bool
    status: int | None
    reason: str

    def describe(self, url: str) -> str:
        where = redact_webhook(url)
        if self.delivered:
            return f"notification delivered to {where} (HTTP {self.status})"
        return f"notification NOT delivered to {where}: {self.reason} (the drill's verdict and exit code stand)"


class _Refused(Exception):
    """The URL or an address of its host may not be posted to; the message says why."""


def address_problem(address: IPAddress) -> str | None:
    """Why the drill must not post to `address`, or None."""
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    if mapped is not None:
        return address_problem(mapped)
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if address.is_unspecified or address.is_multicast:
        return f"{address} is not a single host's address"
    return None


def resolve_once(host: str, port: int) -> list[str]:
    """The host's addresses from the system resolver, in its order, each once."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class _Destination:
    scheme: str
    host: str
    port: int
    target: str  # path and query, as sent in the request line
    addresses: tuple[str, ...]  # every one checked


def _destination(url: str, resolve: Resolver) -> _Destination:
    """Where a post to `url` may go; _Refused naming the rule it breaks."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _Refused("not an http(s) URL; nothing posted")
    host = parts.hostname
    if not host:
        raise _Refused("the URL names no host")
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        raise _Refused("the URL's port is not a number") from None
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = list(resolve(host, port))
        except OSError as exc:
            raise _Refused(f"cannot resolve {host} ({exc.__class__.__name__})") from None
    if not addresses:
        raise _Refused(f"{host} has no address")
    parsed = [ipaddress.ip_address(a) for a in addresses]
    for address in parsed:
        problem = address_problem(address)
        if problem:
            raise _Refused(f"{host} resolves to {problem}" if host != str(address) else problem)
    if scheme == "http" and not all(a.is_loopback for a in parsed):
        raise _Refused("plain http is allowed to a loopback address only; use an https:// webhook URL")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Destination(scheme, host, port, target, tuple(addresses))


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to an address already checked, whatever the host name resolves to by now."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """TLS to an address already checked; SNI and the certificate are checked against the URL's host name."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float, tls: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=tls)
        self._address = address
        self._tls = tls

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def _post_to(destination: _Destination, address: str, body: bytes, *, timeout: float,
             tls: ssl.SSLContext | None) -> tuple[int, str]:
    """POST `body` to `address` as `destination.host`; the HTTP status and reason (no redirect is followed)."""
    connection: http.client.HTTPConnection
    if destination.scheme == "https":
        connection = _PinnedHTTPS(destination.host, destination.port, address=address, timeout=timeout,
                                  tls=tls or ssl.create_default_context())
    else:
        connection = _PinnedHTTP(destination.host, destination.port, address=address, timeout=timeout)
    try:
        connection.request("POST", destination.target, body=body,
                           headers={"Content-Type": "application/json", "User-Agent": "sentinel-drill"})
        response = connection.getresponse()
        response.read(64 * 1024)
        return int(response.status), str(response.reason or "")
    finally:
        connection.close()


def post_json(url: str, body: bytes, *, timeout: float = 10.0, resolve: Resolver = resolve_once,
              tls: ssl.SSLContext | None = None) -> NotifyResult:
    """POST `body` (JSON) to `url` under the rules above; never raises.

    `resolve` and `tls` are for tests (a stand-in resolver, a private CA); by default the system
    resolver is asked once and the system's trusted certificates apply.
    """
    redactor = Redactor.from_env([url])
    try:
        destination = _destination(url, resolve)
    except _Refused as exc:
        return NotifyResult(False, None, redactor.text(f"refused: {exc}"))
    last = ""
    for address in destination.addresses:
        try:
            status, phrase = _post_to(destination, address, body, timeout=timeout, tls=tls)
        except TimeoutError:
            return NotifyResult(False, None, f"the webhook did not answer within {timeout:g}s")
        except ssl.SSLError as exc:
            return NotifyResult(False, None, redactor.text(f"cannot reach the webhook: TLS: {exc}"))
        except ConnectionError as exc:
            last = redactor.text(f"cannot reach the webhook: {exc}")
            continue  # another checked address of the same host may answer
        except (OSError, http.client.HTTPException, ValueError) as exc:
            return NotifyResult(False, None, redactor.text(f"cannot post to the webhook: {exc.__class__.__name__}: "
                                                           f"{exc}"))
        if 200 <= status < 300:
            return NotifyResult(True, status, "delivered")
        answered = redactor.text(f"the webhook answered HTTP {status} {phrase}".rstrip())
        if 300 <= status < 400:
            return NotifyResult(False, status, f"{answered}, a redirect (not followed)")
        return NotifyResult(False, status, answered)
    return NotifyResult(False, None, last or "cannot reach the webhook")
