"""The sandbox's cluster DNS: Service names answered from the API, every other name refused.

Pods on real sandbox nodes resolve `sentinel-brain`, `redis.sentinel.svc.cluster.local`
or `redis-0.redis.sentinel.svc.cluster.local` as they would in any cluster, so
the manifests run unchanged. Nothing is ever forwarded: a name outside
`cluster.local` gets REFUSED, so no query leaves this host. It answers A
records over UDP only (what glibc's and Python's resolvers ask first) and
reads Services and EndpointSlices through the API, cached for a second.

Run as its own process: `python -m harness.sandbox.cluster_dns --kubeconfig K --context C --address A`.
"""

from __future__ import annotations

import argparse
import signal
import socket
import struct
import sys
import threading
import time
from ipaddress import ip_address
from pathlib import Path

from harness.errors import DrillError
from harness.platform.client import Cluster, connect

DOMAIN = "cluster.local"
TTL = 5
NOERROR, NXDOMAIN, REFUSED = 0, 3, 5
TYPE_A, CLASS_IN = 1, 1


def parse_question(packet: bytes) -> tuple[int, int, str, int, int]:
    """(id, flags, name, qtype, end offset of the question) of a standard query."""
    ident, flags, qdcount = struct.unpack("!HHH", packet[:6])
    if qdcount != 1:
        raise ValueError("one question per query")
    labels, offset = [], 12
    while packet[offset]:
        length = packet[offset]
        labels.append(packet[offset + 1:offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length
    qtype, _qclass = struct.unpack("!HH", packet[offset + 1:offset + 5])
    return ident, flags, ".".join(labels).lower(), qtype, offset + 5


def build_answer(packet: bytes, addresses: list[str], rcode: int) -> bytes:
    ident, flags, _name, _qtype, end = parse_question(packet)
    recursion_desired = flags & 0x0100
    header = struct.pack("!HHHHHH", ident, 0x8400 | recursion_desired | rcode, 1, len(addresses), 0, 0)
    answers = b"".join(struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, TTL, 4) + ip_address(a).packed
                       for a in addresses)
    return header + packet[12:end] + answers


class ServiceDirectory:
    """Service and pod names of the cluster → IPv4 addresses, refreshed at most once a second."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.names: dict[str, list[str]] = {}
        self.loaded = 0.0
        self.lock = threading.Lock()

    def refresh(self) -> None:
        names: dict[str, list[str]] = {}
        for svc in self.cluster.list_items("/api/v1/services"):
            meta, spec = svc["metadata"], svc.get("spec") or {}
            base = f"{meta['name']}.{meta['namespace']}.svc.{DOMAIN}"
            if spec.get("clusterIP") not in (None, "", "None"):
                names[base] = [spec["clusterIP"]]
        for eps in self.cluster.list_items("/apis/discovery.k8s.io/v1/endpointslices"):
            meta = eps["metadata"]
            service = (meta.get("labels") or {}).get("kubernetes.io/service-name")
            if not service:
                continue
            base = f"{service}.{meta['namespace']}.svc.{DOMAIN}"
            for endpoint in eps.get("endpoints") or []:
                if not (endpoint.get("conditions") or {}).get("ready", False):
                    continue
                ips = [a for a in endpoint.get("addresses") or [] if "." in a]
                hostname = endpoint.get("hostname") or (endpoint.get("targetRef") or {}).get("name")
                if hostname:
                    names[f"{hostname}.{base}"] = ips
                names.setdefault(f"_headless.{base}", []).extend(ips)
        for key in [k for k in names if k.startswith("_headless.")]:
            base = key[len("_headless."):]
            names.setdefault(base, names[key])  # a headless Service answers with its ready pods
            del names[key]
        self.names, self.loaded = names, time.monotonic()

    def lookup(self, name: str) -> list[str] | None:
        with self.lock:
            if time.monotonic() - self.loaded > 1.0:
                try:
                    self.refresh()
                except DrillError:
                    pass  # API gone: answer from what we knew
            return self.names.get(name.rstrip("."))


def answer(directory: ServiceDirectory, packet: bytes) -> bytes | None:
    try:
        _id, _flags, name, qtype, _end = parse_question(packet)
    except (ValueError, IndexError, struct.error):
        return None
    if not (name == DOMAIN or name.endswith("." + DOMAIN)):
        return build_answer(packet, [], REFUSED)  # never forwarded: nothing leaves this host
    addresses = directory.lookup(name)
    if addresses is None:
        return build_answer(packet, [], NXDOMAIN)
    return build_answer(packet, addresses if qtype == TYPE_A else [], NOERROR)


def serve(directory: ServiceDirectory, address: str, port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        packet, peer = sock.recvfrom(512)
        reply = answer(directory, packet)
        if reply is not None:
            sock.sendto(reply, peer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.sandbox.cluster_dns", description=__doc__.split("\n")[0])
    parser.add_argument("--kubeconfig", required=True, type=Path)
    parser.add_argument("--context", required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--port", type=int, default=53)
    args = parser.parse_args(argv)
    directory = ServiceDirectory(connect(args.kubeconfig, args.context, timeout=2.0))
    serve(directory, args.address, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
