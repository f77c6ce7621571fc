"""The typer application and the shared options every command accepts."""

from __future__ import annotations

import json
import sys
from typing import Any, Optional

import typer

from harness.config import Settings, load_settings

app = typer.Typer(
    name="sentinel-drill",
    help="Chaos and disaster-recovery drills for SENTINEL with measured RTO/RPO.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOption = typer.Option(None, "--config", envvar="DRILL_CONFIG", help="YAML settings file.")


@app.callback()
def _root() -> None:
    """Chaos and disaster-recovery drills for SENTINEL with measured RTO/RPO."""


JsonOption = typer.Option(False, "--json", help="Print machine-readable JSON.")


def settings_from(config: Optional[str], **overrides: Any) -> Settings:
    """Settings for this invocation: file < DRILL_* env < flags."""
    return load_settings(config, overrides=overrides)


def emit_json(data: Any) -> None:
    """Print one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@app.command()
def version() -> None:
    """Print the harness version."""
    from harness import __version__

    print(__version__)
