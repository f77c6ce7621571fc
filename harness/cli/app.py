"""The click command group and the options every command shares."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from harness import __version__
from harness.config import Settings, load_settings


@click.group(
    name="sentinel-drill",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="sentinel-drill")
def app() -> None:
    """Chaos and disaster-recovery drills for SENTINEL with measured RTO/RPO."""


config_option = click.option(
    "--config", "config", envvar="DRILL_CONFIG", default=None, help="YAML settings file (DRILL_CONFIG)."
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def settings_from(config: str | None, **overrides: Any) -> Settings:
    """Settings for this invocation: file < DRILL_* env < flags."""
    return load_settings(config, overrides=overrides)


def emit_json(data: Any) -> None:
    """Print one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
