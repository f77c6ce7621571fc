"""The sandbox's front door on 127.0.0.1: fixed local ports forwarded to in-cluster Services.

A production drill reaches SENTINEL through its load balancer and Redis through
its Service address; neither changes when the stack moves to a clean namespace
or a rebuilt cluster is put behind them. On real sandbox nodes this process
plays that part: each local port is forwarded, per connection, to the
ClusterIP of a named Service in the namespace and cluster the config file names
*now* (`repoint` rewrites it), through kube-proxy's rules on this host. So the
health URL and the Redis URL a drill holds stay valid across scenarios 3 and 4.

It also opens the inward doors: a port on the node network (the cluster DNS's
host address) forwarded to a service the sandbox runs on 127.0.0.1 — the S3
store, which the backup CronJobs' pods reach as an S3-compatible endpoint.

Run as its own process: `python -m harness.sandbox.front --config <state>/front.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

from harness.errors import DrillError
from harness.platform.client import Cluster, connect, namespaced

RESOLVE_TTL = 1.0


@dataclass(frozen=True)
class Route:
    listen: int
    service: str
    port: int


@dataclass(frozen=True)
class Inward:
    """Pods reach a host service on 127.0.0.1:`to_port` at `address`:`port` (an address on the node network)."""

    address: str
    port: int
    to_port: int


@dataclass(frozen=True)
class FrontConfig:
    kubeconfig: str
    context: str
    namespace: str
    routes: tuple[Route, ...] = field(default_factory=tuple)
    inward: tuple[Inward, ...] = field(default_factory=tuple)

    @classmethod
    def load(cls, path: Path) -> FrontConfig:
        data = json.loads(path.read_text())
        return cls(data["kubeconfig"], data["context"], data["namespace"],
                   tuple(Route(**r) for r in data.get("routes", [])),
                   tuple(Inward(**r) for r in data.get("inward", [])))

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        os.replace(tmp, path)


def repoint(path: Path, *, kubeconfig: Path, context: str, namespace: str) -> None:
    """Send new connections to another cluster or namespace; connections already open stay where they are."""
    config = FrontConfig.load(path)
    FrontConfig(str(kubeconfig), context, namespace, config.routes, config.inward).save(path)


class Resolver:
    """Service → ClusterIP in the cluster the config names now (re-read when the file changes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.key: tuple[float, str, str] | None = None
        self.cluster: Cluster | None = None
        self.config: FrontConfig | None = None
        self.cache: dict[tuple[str, str], tuple[float, str]] = {}

    def current(self) -> tuple[FrontConfig, Cluster]:
        mtime = self.path.stat().st_mtime
        if self.config is None or self.key is None or self.key[0] != mtime:
            self.config = FrontConfig.load(self.path)
            self.cluster = connect(Path(self.config.kubeconfig), self.config.context, timeout=1.0, retries=0)
            self.key, self.cache = (mtime, self.config.kubeconfig, self.config.context), {}
        assert self.cluster is not None
        return self.config, self.cluster

    def resolve(self, listen: int) -> tuple[str, int]:
        config, cluster = self.current()
        route = next(r for r in config.routes if r.listen == listen)
        hit = self.cache.get((config.namespace, route.service))
        if hit is None or time.monotonic() - hit[0] > RESOLVE_TTL:
            svc = cluster.get(namespaced("v1", "services", config.namespace, route.service))
            hit = (time.monotonic(), str(svc["spec"]["clusterIP"]))
            self.cache[(config.namespace, route.service)] = hit
        return hit[1], route.port


def _local(port: int) -> tuple[str, int]:
    return "127.0.0.1", port


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except (ConnectionError, OSError):
            pass


def _handler(resolve: Callable[[], tuple[str, int]]):  # type: ignore[no-untyped-def]
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            host, port = await asyncio.to_thread(resolve)
            upstream_reader, upstream_writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2.0)
        except (DrillError, OSError, StopIteration, TimeoutError, KeyError):
            writer.close()  # nothing to forward to: the client sees the connection closed, as with a dead LB target
            return
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    return handle


async def serve(path: Path) -> None:
    resolver = Resolver(path)
    config = FrontConfig.load(path)
    servers = [await asyncio.start_server(_handler(partial(resolver.resolve, r.listen)), "127.0.0.1", r.listen)
               for r in config.routes]
    servers += [await asyncio.start_server(_handler(partial(_local, i.to_port)), i.address, i.port)
                for i in config.inward]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.sandbox.front", description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, type=Path)
    asyncio.run(serve(parser.parse_args(argv).config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
