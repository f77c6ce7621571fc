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


class DefaultCommandGroup(click.Group):
    """A group that runs `default` when the first argument is not one of its subcommands.

    Keeps `sentinel-drill backup --redis-url …` and `verify <id>` working (the
    CronJobs and scripts call them so) while `backup config` and `verify logs`
    are subcommands beside them.
    """

    def __init__(self, *args: Any, default: str, **kwargs: Any) -> None:
        kwargs.setdefault("invoke_without_command", False)
        super().__init__(*args, **kwargs)
        self.default = default

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = [self.default, *args]
        return super().parse_args(ctx, args)
