"""`sentinel-drill target pin`: record which cluster a non-sandbox target may break.

The guard (harness.safety) refuses every fault on a cluster whose API server
URL and `kube-system` namespace UID differ from the pinned ones. Pinning reads
both through the configured kubeconfig/context (and the DR ones when they reach
another cluster) and writes them into the config file, keeping the file's
other lines and comments as they are.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import click

from harness.cli.app import app, config_option
from harness.config import Settings, load_settings
from harness.errors import UsageError
from harness.safety import SANDBOX, ClusterIdentity, read_identity


@app.group()
def target() -> None:
    """The configured target: pin the cluster identity destructive actions are allowed on."""


def _dr_reaches_elsewhere(settings: Settings) -> bool:
    dr = (settings.dr_kubeconfig or settings.kubeconfig, settings.dr_context or settings.context)
    return bool(settings.dr_kubeconfig or settings.dr_context) and dr != (settings.kubeconfig, settings.context)


def _identity(kubeconfig: str | None, context: str | None) -> ClusterIdentity:
    from harness.platform.client import connect  # the kubernetes client only for this command

    return read_identity(connect(kubeconfig, context))


def pin_fields(settings: Settings) -> dict[str, str]:
    """The pinned_* settings for the live clusters the config reaches (DR only when it is another cluster)."""
    if settings.target == SANDBOX:
        raise UsageError("the sandbox needs no pin: it is its own recorded cluster",
                         fix="pin a non-sandbox target (set `target:` in the config file)")
    primary = _identity(settings.kubeconfig, settings.context)
    fields = {"pinned_api_server": primary.api_server, "pinned_kube_system_uid": primary.kube_system_uid}
    if _dr_reaches_elsewhere(settings):
        dr = _identity(settings.dr_kubeconfig or settings.kubeconfig, settings.dr_context or settings.context)
        if dr != primary:
            fields |= {"dr_pinned_api_server": dr.api_server, "dr_pinned_kube_system_uid": dr.kube_system_uid}
    return fields


def yaml_lines(fields: dict[str, str]) -> list[str]:
    """`key: "value"` lines (JSON strings are valid YAML scalars)."""
    return [f"{key}: {json.dumps(value)}" for key, value in fields.items()]


def write_fields(path: Path, fields: dict[str, str]) -> None:
    """Replace each `key:` line in the YAML file, or append it; every other line stays as it was."""
    lines = path.read_text().splitlines()
    for key, line in zip(fields, yaml_lines(fields), strict=True):
        pattern = re.compile(rf"^{re.escape(key)}\s*:")
        at = next((i for i, existing in enumerate(lines) if pattern.match(existing)), None)
        if at is None:
            lines.append(line)
        else:
            lines[at] = line
    path.write_text("\n".join(lines) + "\n")


@target.command("pin")
@config_option
@click.option("--print", "print_only", is_flag=True, help="Print the YAML lines to add instead of writing the file.")
def pin(config: str | None, print_only: bool) -> None:
    """Read the target cluster's API server URL and kube-system UID and pin them in the config file."""
    settings = load_settings(config)
    fields = pin_fields(settings)
    if print_only:
        click.echo("\n".join(yaml_lines(fields)))
        return
    if not config:
        raise UsageError("no config file to write the pin into", fix="pass --config FILE (or DRILL_CONFIG), or --print")
    write_fields(Path(config), fields)
    load_settings(config)  # the file still loads, pins and all
    click.echo(f"pinned target {settings.target!r} in {config}:")
    click.echo("\n".join(f"  {line}" for line in yaml_lines(fields)))
