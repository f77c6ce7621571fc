"""`sentinel-drill doctor`: every setting checked read-only, then scenario × can run / blocked by.

Exit 0 when every selected scenario can run, 1 when one is blocked, 2 when the
configuration itself cannot be loaded (the CLI's ConfigError mapping).
"""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from harness.cli.app import app, config_option, emit_json, json_option, settings_from
from harness.doctor import SCENARIOS, DoctorReport, run_doctor
from harness.target import open_target


def render(report: DoctorReport, console: Console) -> None:
    """The rows, then the scenario verdicts, as two rich tables."""
    rows = Table(title=f"sentinel-drill doctor — target {report.target}", show_lines=False)
    for column in ("setting", "checked", "result", "blocks"):
        rows.add_column(column, overflow="fold")
    for row in report.rows:
        mark = "[green]ok[/green]" if row.ok else "[red]FAIL[/red]"
        rows.add_row(row.setting, row.checked, f"{mark} {row.result}", ", ".join(row.blocks))
    console.print(rows)
    verdicts = Table(title="scenarios")
    verdicts.add_column("scenario")
    verdicts.add_column("verdict", overflow="fold")
    for verdict in report.verdicts():
        shown = "[green]can run[/green]" if verdict.can_run else f"[red]{verdict.describe()}[/red]"
        verdicts.add_row(verdict.scenario, shown)
    console.print(verdicts)


@app.command()
@config_option
@json_option
@click.option("--scenario", "scenarios", multiple=True, type=click.Choice(SCENARIOS),
              help="Only check what this scenario needs (repeatable; default: all four).")
def doctor(config: str | None, as_json: bool, scenarios: tuple[str, ...]) -> None:
    """Check every setting a drill relies on, read-only; say which scenarios can run (exit 1 if one cannot)."""
    settings = settings_from(config)
    with open_target(settings, start_sandbox=False) as target:
        report = run_doctor(target, scenarios or SCENARIOS)
    if as_json:
        emit_json(report.to_json())
    else:
        render(report, Console(width=max(Console().width, 160)))
    if report.exit_code:
        raise click.exceptions.Exit(report.exit_code)
