"""Bring the sandbox up, report on it, and take it down leaving nothing behind.

`sandbox_up` is idempotent (a running sandbox is reported, not restarted) and
all-or-nothing (a failure tears down whatever had started, then re-raises with
the component and its log named). `sandbox_down` stops every process the
sandbox recorded — kwokctl's control plane and our own — and checks they and
their ports are really gone.
"""

from __future__ import annotations

import fcntl
import json
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from harness.backup.store import open_store
from harness.backup.take import take_backup
from harness.errors import DrillError
from harness.measure.availability import probe_once
from harness.platform.stack import DEPLOY_DIR, deploy_stack
from harness.polling import WaitTimedOut, poll
from harness.redis_client import connect as redis_connect
from harness.redis_process import RedisProcess, free_port
from harness.sandbox import aws, first_backups, netplan, node_pool, pipeline_jobs, processes
from harness.sandbox import cluster as kwok
from harness.sandbox.front import FrontConfig, Inward, Route
from harness.sandbox.health import HealthConfig
from harness.sandbox.images import image_ids
from harness.sandbox.seed import seed
from harness.sandbox.stack import on_real_nodes, stack_objects
from harness.sandbox.state import (
    BUCKET,
    NAMESPACE,
    REGION,
    REPO_ROOT,
    SandboxError,
    SandboxInfo,
    SandboxPaths,
    cluster_names,
    default_state_dir,
    load_state,
    owned_processes,
    save_state,
    write_secret,
)
from harness.signing import generate_keypair

GATEWAY_PORT = 80  # deploy/gateway.yaml's Service port
STOP_ORDER = ("front", "health", "moto", "redis")  # ours; the control plane goes through kwokctl first


@dataclass(frozen=True)
class DownResult:
    stopped: dict[str, int]
    seconds: float
    still_running: dict[str, int]
    ports_listening: dict[str, int]
    left_on_host: tuple[str, ...] = ()


@contextmanager
def _locked(paths: SandboxPaths) -> Iterator[None]:
    """One up/down at a time per state dir."""
    paths.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(paths.lock_file, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _start_redis(paths: SandboxPaths, port: int, password: str, keys: int, *, timeout: float) -> int:
    server = RedisProcess(data_dir=paths.redis_dir, port=port, password=password)
    try:
        server.start(load_timeout=timeout)
    except (DrillError, OSError) as exc:
        raise SandboxError(f"redis-server did not start on port {port}: {exc}",
                           fix=f"see {server.log_path}") from None
    # its pid is tracked through the drill-managed marker RedisProcess writes (see state.owned_processes)
    if keys:
        seed(server.client(timeout=10.0), keys=keys)
    return server.port


def _start_health(paths: SandboxPaths, config: HealthConfig, *, timeout: float) -> None:
    config.save(paths.health_config)
    proc = processes.spawn("health", [sys.executable, "-m", "harness.sandbox.health", "--config",
                                      str(paths.health_config)],
                           log=paths.log("health"), pidfile=paths.pidfile("health"), cwd=REPO_ROOT)
    url = f"http://127.0.0.1:{config.port}/health"
    last = [probe_once(url, timeout=2.0)]

    def healthy() -> bool | None:
        if not processes.is_running(proc):
            raise SandboxError("health endpoint exited while starting", fix=f"see {paths.log('health')}")
        last[0] = probe_once(url, timeout=2.0)
        return True if last[0].ok else None

    if not poll(healthy, timeout=timeout, interval=0.1):
        raise SandboxError(f"health endpoint {url} did not report healthy within {timeout:.0f}s "
                           f"(last: {last[0].status} {last[0].reason[:300]})", fix=f"see {paths.log('health')}")


def _first_backup(redis_port: int, password: str, endpoint: str) -> None:
    """The hourly backup CronJob's last run: a sandbox's store, like production's, is never empty."""
    store = open_store(f"s3://{BUCKET}/", aws=aws.sandbox_aws(endpoint))
    take_backup(f"redis://127.0.0.1:{redis_port}/0", store, password=password)


def _start_store_and_dns(paths: SandboxPaths, *, cluster_name: str, dns_zone: str,
                         timeout: float) -> tuple[int, str, aws.DnsRecord]:
    """moto (S3 + Route 53) with the backup bucket and the drill's DNS record: (port, endpoint, record)."""
    moto_port = free_port()
    aws.start_moto(paths, moto_port, timeout=timeout)
    endpoint = f"http://127.0.0.1:{moto_port}"
    aws.create_bucket(endpoint, BUCKET)
    first_backups.create_log_bucket(endpoint)
    first_backups.first_log_archives(paths, endpoint)
    return moto_port, endpoint, aws.create_dns(endpoint, zone_name=dns_zone, cluster=cluster_name)


def sandbox_up(
    state_dir: Path | None = None,
    *,
    cluster_name: str = "sentinel-drill",
    redis_port: int = 0,
    keys: int = 10_500,
    nodes_per_zone: int = 2,
    ready_delay: str = "1s",
    ready_jitter: str = "2s",
    dns_zone: str = "sandbox.local",
    deploy_dir: Path = DEPLOY_DIR,
    timeout: float = 120.0,
    nodes: str = "kwok",
    brain_replicas: int | None = None,
) -> SandboxInfo:
    """Start (or report) the sandbox in `state_dir`; every component is waited for under `timeout`.

    `nodes_per_zone` and `brain_replicas` (kwok nodes only) size the sandbox for
    the scale bench; the defaults (2 per zone, deploy/'s 3 replicas) are the drills'.

    `nodes`: "kwok" (simulated nodes only), "real" (a kubelet node per zone running
    the stack's containers; SandboxError if this machine cannot) or "auto" (real
    when possible, else kwok-only and `nodes_note` says why in one line).

    Raises SandboxError naming the component and its log if anything fails to
    start, after stopping whatever had started.
    """
    paths = SandboxPaths((state_dir or default_state_dir()).resolve())
    with _locked(paths):
        existing = load_state(paths)
        if existing is not None and existing.running:
            return replace(existing, already_running=True)
        if existing is not None and existing.pids:
            dead = sorted(set(owned_processes(paths)) - set(existing.pids))
            raise SandboxError(
                f"the sandbox in {paths.root} is partly running (stopped: {', '.join(dead)})",
                fix="run `sentinel-drill sandbox down`, then `sandbox up` again",
            )
        _teardown(paths)  # leftovers of a crashed or rebooted sandbox
        bins = kwok.bin_dir()
        real, note = _choose_nodes(nodes, paths)
        try:
            if real and (nodes_per_zone != 2 or brain_replicas is not None):
                raise SandboxError("a scaled sandbox (--nodes-per-zone, --brain-replicas) runs on kwok nodes only",
                                   fix="start it with --nodes kwok")
            if real:
                info = _start_real(paths, bins, cluster_name=cluster_name, keys=keys, dns_zone=dns_zone,
                                   deploy_dir=deploy_dir, timeout=timeout)
            else:
                info = _start(paths, bins, cluster_name=cluster_name, redis_port=redis_port, keys=keys,
                              nodes_per_zone=nodes_per_zone, ready_delay=ready_delay, ready_jitter=ready_jitter,
                              dns_zone=dns_zone, deploy_dir=deploy_dir, timeout=timeout,
                              brain_replicas=brain_replicas)
                if note:
                    info = replace(info, nodes_note=note)
                    save_state(paths, info)
        except BaseException:
            _teardown(paths)
            raise
    status = load_state(paths)
    assert status is not None
    return replace(status, created_at=info.created_at)


def _choose_nodes(nodes: str, paths: SandboxPaths) -> tuple[bool, str]:
    """(real nodes?, why not) for the requested mode; "real" that cannot be raises SandboxError."""
    if nodes not in ("kwok", "real", "auto"):
        raise SandboxError(f"unknown node mode {nodes!r}", fix="use kwok, real or auto")
    if nodes == "kwok":
        return False, ""
    network = netplan.configured_network()  # a wrong DRILL_SANDBOX_NET_BASE is refused in every mode
    why = node_pool.why_no_real_nodes()
    if why is None:
        try:  # before anything starts: ranges the host routes, another kubelet's rules
            node_pool.check_host(network)
        except SandboxError as exc:
            if nodes == "real":
                raise
            why = exc.one_line()
    why = why or node_pool.claim_host(paths)
    if why and nodes == "real":
        raise SandboxError(f"real nodes cannot start here: {why}", fix="fix that, or run with --nodes kwok")
    if why is None:
        netplan.record_network(paths, network)
    return why is None, (f"kwok-only: {why}" if why else "")


def _start(paths: SandboxPaths, bins: Path, *, cluster_name: str, redis_port: int, keys: int, nodes_per_zone: int,
           ready_delay: str, ready_jitter: str, dns_zone: str, deploy_dir: Path, timeout: float,
           brain_replicas: int | None = None) -> SandboxInfo:
    for d in (paths.logs_dir, paths.pids_dir, paths.redis_dir):
        d.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(32)
    write_secret(paths.redis_password_file, password)
    objects = stack_objects(deploy_dir, redis_password=password, ready_delay=ready_delay, ready_jitter=ready_jitter,
                            brain_replicas=brain_replicas)
    # room for every Brain pod in two zones (scenario 2 drains the third), as production would be sized
    per_node = -(-(brain_replicas or 0) // max(1, 2 * nodes_per_zone))
    shape = kwok.NodeShape.holding(per_node)

    creating = kwok.start_create(cluster_name, bins, paths, timeout=timeout)  # runs while we start the rest
    try:
        port = _start_redis(paths, redis_port or free_port(), password, keys, timeout=timeout)
        moto_port, endpoint, dns = _start_store_and_dns(paths, cluster_name=cluster_name, dns_zone=dns_zone,
                                                        timeout=timeout)
        if keys:
            _first_backup(port, password, endpoint)
    except BaseException:
        try:  # let kwokctl finish so the teardown finds (and deletes) the whole cluster
            creating.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            creating.kill()
        raise
    cluster = kwok.finish_create(creating, cluster_name, paths, timeout=timeout)
    logs = paths.logs_dir / cluster_name  # kept there by the teardown of a failed start
    try:
        kwok.create_nodes(cluster, per_zone=nodes_per_zone, shape=shape, timeout=timeout)
    except WaitTimedOut as exc:
        raise SandboxError(f"kwok nodes did not become Ready: {exc.message}",
                           fix=f"see {logs / 'kwok-controller.log'}") from None
    kwok.create_redis_volume(cluster, paths, namespace=NAMESPACE)
    try:
        deploy_stack(cluster, objects, namespace=NAMESPACE, timeout=timeout)
    except WaitTimedOut as exc:
        raise SandboxError(f"the SENTINEL stack did not roll out: {exc.message}",
                           fix=f"see {logs / 'kube-scheduler.log'} and {logs / 'kube-controller-manager.log'}") from None
    first_backups.first_config_export(paths, cluster, endpoint, store_url=f"s3://{BUCKET}/", namespace=NAMESPACE)

    health_port = free_port()
    _start_health(paths, HealthConfig(
        port=health_port, kubeconfig=str(paths.kubeconfig), context=f"kwok-{cluster_name}", namespace=NAMESPACE,
        services=("sentinel-brain", "sentinel-gateway"), redis_host="127.0.0.1", redis_port=port,
        redis_password_file=str(paths.redis_password_file),
    ), timeout=timeout)

    info = SandboxInfo(
        state_dir=paths.root, cluster_name=cluster_name, kubeconfig=paths.kubeconfig, context=f"kwok-{cluster_name}",
        namespace=NAMESPACE, api_server=cluster.server, redis_port=port, redis_password_file=paths.redis_password_file,
        redis_data_dir=paths.redis_dir, s3_endpoint=endpoint, bucket=BUCKET, region=REGION,
        hosted_zone_id=dns.hosted_zone_id, hosted_zone_name=dns.zone_name, record_name=dns.record_name,
        record_target=dns.target, health_port=health_port, created_at=datetime.now(UTC).isoformat(),
        ports={"redis": port, "moto": moto_port, "health": health_port, **kwok.api_ports(paths, cluster_name)},
    )
    save_state(paths, info)
    return info


def _start_front(paths: SandboxPaths, config: FrontConfig, *, timeout: float) -> None:
    """The local ports that stand for the load balancer and the Redis Service address (harness/sandbox/front.py)."""
    config.save(paths.front_config)
    proc = processes.spawn("front", [sys.executable, "-m", "harness.sandbox.front", "--config", str(paths.front_config)],
                           log=paths.log("front"), pidfile=paths.pidfile("front"), cwd=REPO_ROOT)

    def listening() -> bool | None:
        if not processes.is_running(proc):
            raise SandboxError("the sandbox front door exited while starting", fix=f"see {paths.log('front')}")
        return True if (all(processes.port_listening(r.listen) for r in config.routes)
                        and all(processes.port_listening(i.port, i.address) for i in config.inward)) else None

    poll(listening, timeout=timeout, interval=0.05)


def _wait_serving(url: str, *, timeout: float, log: Path) -> None:
    last = [probe_once(url, timeout=2.0)]

    def healthy() -> bool | None:
        last[0] = probe_once(url, timeout=2.0)
        return True if last[0].ok else None

    if not poll(healthy, timeout=timeout, interval=0.2):
        raise SandboxError(f"the Gateway's {url} did not answer 200 within {timeout:.0f}s "
                           f"(last: {last[0].status} {last[0].reason[:300]})", fix=f"see {log} and the pods' logs")


def _start_real(paths: SandboxPaths, bins: Path, *, cluster_name: str, keys: int, dns_zone: str, deploy_dir: Path,
                timeout: float) -> SandboxInfo:
    """The sandbox on real nodes: the stack's own containers serve, Redis included; local ports front them."""
    for d in (paths.logs_dir, paths.pids_dir, paths.redis_dir):
        d.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(32)
    write_secret(paths.redis_password_file, password)
    objects = on_real_nodes(stack_objects(deploy_dir, redis_password=password))
    images = image_ids()
    creating = kwok.start_create(cluster_name, bins, paths, timeout=timeout, real_nodes=True)
    try:
        moto_port, endpoint, dns = _start_store_and_dns(paths, cluster_name=cluster_name, dns_zone=dns_zone,
                                                        timeout=timeout)
    except BaseException:
        try:
            creating.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            creating.kill()
        raise
    cluster = kwok.finish_create(creating, cluster_name, paths, timeout=timeout)
    node_pool.start_pool(cluster, paths, cluster_name=cluster_name, images=images, timeout=timeout)
    kwok.create_redis_volume(cluster, paths, namespace=NAMESPACE, node=node_pool.redis_node(paths))
    try:
        deploy_stack(cluster, objects, namespace=NAMESPACE, timeout=timeout)
    except WaitTimedOut as exc:
        raise SandboxError(f"the SENTINEL stack did not roll out on the real nodes: {exc.message}",
                           fix=f"see {paths.logs_dir}/kubelet-*.log") from None
    redis_port, health_port = free_port(), free_port()
    _start_front(paths, FrontConfig(
        str(paths.kubeconfig), f"kwok-{cluster_name}", NAMESPACE,
        (Route(redis_port, "redis", 6379), Route(health_port, "sentinel-gateway", GATEWAY_PORT)),
        (Inward(netplan.network_for(paths).dns_address, moto_port, moto_port),)), timeout=timeout)
    pipeline_jobs.deploy_pipeline(cluster, namespace=NAMESPACE, endpoint=pipeline_jobs.store_endpoint(paths, moto_port),
                                  region=REGION, verifier_key_pem=_verifier_key(paths))
    first_backups.first_config_export(paths, cluster, endpoint, store_url=f"s3://{BUCKET}/", namespace=NAMESPACE)
    _wait_serving(f"http://127.0.0.1:{health_port}/health", timeout=timeout, log=paths.log("front"))
    if keys:  # the store's first pipeline backup, written by the backup CronJob's own Job
        seed(redis_connect(f"redis://127.0.0.1:{redis_port}/0", password, timeout=10.0), keys=keys)
        try:
            pipeline_jobs.run_backup_job(cluster, namespace=NAMESPACE, timeout=timeout)
        except DrillError as exc:
            raise SandboxError(f"the backup CronJob's first run failed: {exc.one_line()}",
                               fix=f"see the Job's pod log and {paths.logs_dir}/kubelet-*.log") from None
    info = SandboxInfo(
        state_dir=paths.root, cluster_name=cluster_name, kubeconfig=paths.kubeconfig, context=f"kwok-{cluster_name}",
        namespace=NAMESPACE, api_server=cluster.server, redis_port=redis_port,
        redis_password_file=paths.redis_password_file, redis_data_dir=paths.redis_dir, s3_endpoint=endpoint,
        bucket=BUCKET, region=REGION, hosted_zone_id=dns.hosted_zone_id, hosted_zone_name=dns.zone_name,
        record_name=dns.record_name, record_target=dns.target, health_port=health_port,
        created_at=datetime.now(UTC).isoformat(), nodes="real",
        ports={"redis": redis_port, "moto": moto_port, "health": health_port, **kwok.api_ports(paths, cluster_name)},
    )
    save_state(paths, info)
    return info


def _verifier_key(paths: SandboxPaths) -> str:
    """A fresh verifier key pair for this sandbox: the private key for the verify CronJob's Secret, the public
    key beside it for the sandbox's settings (`verifier_public_keys`)."""
    pair = generate_keypair()
    write_secret(paths.verifier_key_file, pair.private_pem.strip())
    paths.verifier_public_file.write_text(pair.public + "\n")
    return pair.private_pem


def _teardown(paths: SandboxPaths) -> DownResult:
    """Stop everything recorded under `paths` (control plane first), then remove the runtime files."""
    start = time.monotonic()
    owned = owned_processes(paths)
    ports: dict[str, int] = {}
    try:
        ports = dict(json.loads(paths.state_file.read_text()).get("ports") or {})
    except (OSError, ValueError):
        pass
    running = {name: proc.pid for name, proc in owned.items() if processes.is_running(proc)}
    left_on_host = node_pool.stop_pool(paths)  # kubelets, runtimes and containers first: nothing restarts pods
    owned = owned_processes(paths)
    for name in cluster_names(paths):
        try:
            kwok.keep_logs(paths, name)
            kwok.delete_cluster(name, paths)
        except (OSError, subprocess.SubprocessError):
            pass  # the pids below are stopped one by one regardless
    ordered = [n for n in STOP_ORDER if n in owned] + [n for n in owned if n not in STOP_ORDER]
    for name in ordered:
        processes.terminate(owned[name], timeout=10.0)
    still = {name: proc.pid for name, proc in owned.items() if processes.is_running(proc)}
    listening = {name: port for name, port in ports.items() if processes.port_listening(port)}
    if not still:
        _remove_runtime_files(paths)
    return DownResult(running, time.monotonic() - start, still, listening, tuple(left_on_host))


def _remove_runtime_files(paths: SandboxPaths) -> None:
    """Everything but logs/ (kept for post-mortems); the state dir itself stays."""
    for path in (paths.kwok_workdir, paths.pids_dir, paths.redis_dir, paths.secrets_dir, paths.root / "pv"):
        shutil.rmtree(path, ignore_errors=True)
    for path in (paths.state_file, paths.kubeconfig, paths.health_config, paths.kwok_config, paths.front_config):
        path.unlink(missing_ok=True)
    netplan.forget_network(paths)


def sandbox_down(state_dir: Path | None = None) -> DownResult:
    """Stop every process of the sandbox in `state_dir` and remove its runtime files; safe to repeat.

    Raises SandboxError when a process or port outlives the stop.
    """
    paths = SandboxPaths((state_dir or default_state_dir()).resolve())
    if not paths.root.exists():
        # no processes to stop, but the host may still carry its real nodes' changes: their record is the host's
        result = DownResult({}, 0.0, {}, {}, tuple(node_pool.stop_pool(paths)))
    else:
        with _locked(paths):
            result = _teardown(paths)
    if result.still_running or result.ports_listening or result.left_on_host:
        raise SandboxError(
            f"sandbox processes survived `down`: {result.still_running or ''} ports still served: "
            f"{result.ports_listening or ''} left on the host: {', '.join(result.left_on_host)}",
            fix="stop those pids by hand (kill <pid>), then run `sentinel-drill sandbox down` again",
        )
    return result


def sandbox_status(state_dir: Path | None = None) -> SandboxInfo | None:
    """The recorded sandbox with live process state, or None when none is recorded."""
    return load_state(SandboxPaths((state_dir or default_state_dir()).resolve()))


def repoint_health(
    state_dir: Path | None = None, *, kubeconfig: Path, context: str | None, namespace: str | None = None
) -> None:
    """Make the health endpoint judge another cluster or namespace (scenarios 3 and 4); effective immediately."""
    paths = SandboxPaths((state_dir or default_state_dir()).resolve())
    config = HealthConfig.load(paths.health_config)
    replace(config, kubeconfig=str(kubeconfig), context=context,
            namespace=namespace or config.namespace).save(paths.health_config)


def sandbox_info(state_dir: Path | None = None) -> SandboxInfo:
    """The running sandbox, or SandboxError saying how to start it."""
    info = sandbox_status(state_dir)
    if info is None or not info.running:
        where = (state_dir or default_state_dir())
        raise SandboxError(f"no running sandbox in {where}", fix="run `sentinel-drill sandbox up`")
    return info

