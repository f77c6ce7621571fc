"""sandbox up | down | status | env: the local target's lifecycle from the command line.

Human-readable output by default, `--json` for scripts. Nothing printed ever
contains a secret: `env` prints the Redis password as `$(cat <file>)`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from harness.cli.app import app, emit_json, json_option
from harness.errors import CheckFailed

if TYPE_CHECKING:
    from harness.sandbox import SandboxInfo

# harness.sandbox (and the kubernetes client under it) is imported inside each
# command: other commands, and --help, should not pay for it.

state_dir_option = click.option(
    "--state-dir", type=click.Path(path_type=Path, file_okay=False), default=None, envvar="DRILL_SANDBOX_DIR",
    help="Sandbox state directory (DRILL_SANDBOX_DIR; default .sandbox/ in the repo).",
)


@app.group()
def sandbox() -> None:
    """The local sandbox target: kwok cluster, Redis, moto (S3 + Route 53), health endpoint."""


def _summary(info: SandboxInfo) -> str:
    mib = info.rss_bytes / (1 << 20)
    lines = [
        f"sandbox {'running' if info.running else 'NOT running'} — state {info.state_dir}",
        f"  kubeconfig   {info.kubeconfig} (context {info.context}, namespace {info.namespace})",
        f"  api server   {info.api_server}",
        f"  redis        {info.redis_url} (password in {info.redis_password_file})",
        f"  s3           {info.s3_endpoint} bucket {info.bucket}",
        f"  route53      zone {info.hosted_zone_name} ({info.hosted_zone_id}): {info.record_name} → {info.record_target}",
        f"  health       {info.health_url}",
        f"  nodes        {'real (a kubelet per zone; Redis and the stack run in containers)' if info.nodes == 'real' else 'kwok (simulated)'}",
        f"  processes    {len(info.pids)} ({', '.join(f'{k}={v}' for k, v in info.pids.items())}), RSS {mib:.0f} MiB",
        '  drill env    eval "$(sentinel-drill sandbox env)"',
    ]
    return "\n".join(lines)


@sandbox.command("up")
@state_dir_option
@click.option("--redis-port", type=int, default=0, show_default="a free port", help="Port of the sandbox Redis.")
@click.option("--keys", type=int, default=10_500, show_default=True, help="SENTINEL-like keys to seed Redis with.")
@click.option("--ready-delay", default="1s", show_default=True, help="Simulated pod readiness delay (Go duration).")
@click.option("--ready-jitter", default="2s", show_default=True, help="Latest readiness (delay..jitter, random).")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds allowed per component.")
@click.option("--nodes", type=click.Choice(["auto", "real", "kwok"]), default="auto", show_default=True,
              envvar="DRILL_SANDBOX_NODES",
              help="real: a kubelet node per zone runs the stack's containers; kwok: simulated nodes only; "
                   "auto: real when this machine can, else kwok with one line saying why.")
@click.option("--nodes-per-zone", type=click.IntRange(1, 400), default=2, show_default=True,
              help="kwok nodes in each of the 3 zones (the scale bench: 100).")
@click.option("--brain-replicas", type=click.IntRange(1), default=None, show_default="deploy/'s 3",
              help="Brain's replica count (the scale bench: 3000); kwok nodes only.")
@json_option
def up(state_dir: Path | None, redis_port: int, keys: int, ready_delay: str, ready_jitter: str, timeout: float,
       nodes: str, nodes_per_zone: int, brain_replicas: int | None, as_json: bool) -> None:
    """Start the sandbox (or report the one already running)."""
    from harness.sandbox import sandbox_up

    started = time.monotonic()
    info = sandbox_up(state_dir, redis_port=redis_port, keys=keys, ready_delay=ready_delay,
                      ready_jitter=ready_jitter, timeout=timeout, nodes=nodes, nodes_per_zone=nodes_per_zone,
                      brain_replicas=brain_replicas)
    if as_json:
        emit_json({**info.to_json(), "seconds": round(time.monotonic() - started, 2)})
        return
    verb = "already running" if info.already_running else f"started in {time.monotonic() - started:.1f}s"
    click.echo(f"sandbox {verb}")
    if info.nodes_note:
        click.echo(info.nodes_note)
    click.echo(_summary(info))


@sandbox.command("down")
@state_dir_option
@json_option
def down(state_dir: Path | None, as_json: bool) -> None:
    """Stop every sandbox process and remove its runtime files (logs are kept); safe to repeat."""
    from harness.sandbox import sandbox_down

    result = sandbox_down(state_dir)
    if as_json:
        emit_json({"stopped": result.stopped, "seconds": round(result.seconds, 2)})
        return
    if result.stopped:
        click.echo(f"sandbox stopped ({len(result.stopped)} processes) in {result.seconds:.1f}s")
    else:
        click.echo("no sandbox was running")


@sandbox.command("status")
@state_dir_option
@json_option
def status(state_dir: Path | None, as_json: bool) -> None:
    """Show the sandbox's coordinates and processes; exit 1 when it is not (fully) running."""
    from harness.sandbox import default_state_dir, sandbox_status

    info = sandbox_status(state_dir)
    where = state_dir or default_state_dir()
    if as_json:
        emit_json(info.to_json() if info else {"running": False, "state_dir": str(where)})
        if info is None or not info.running:
            raise click.exceptions.Exit(1)  # the JSON already says why
        return
    if info is None:
        raise CheckFailed(f"no sandbox recorded in {where}", fix="run `sentinel-drill sandbox up`")
    click.echo(_summary(info))
    if not info.running:
        raise CheckFailed("the sandbox is not (fully) running", fix="run `sentinel-drill sandbox down`, then `up`")


@sandbox.command("env")
@state_dir_option
def env(state_dir: Path | None) -> None:
    """Print `export` lines for a drill or `chaos run`: eval "$(sentinel-drill sandbox env)"."""
    from harness.sandbox import sandbox_info

    click.echo(sandbox_info(state_dir).shell_exports(), nl=False)
