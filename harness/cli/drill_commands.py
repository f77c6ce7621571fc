"""`sentinel-drill drill <selection>`: run the Gherkin drills with pytest and write the evidence.

The features run in a child pytest so each drill starts with fresh plugin
state; the exit code is 0 only when every selected scenario passed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import click

from harness.cli.app import app, config_option
from harness.config import load_settings
from harness.drills.plan import SELECTION_TAGS, describe_plan
from harness.errors import UsageError

REPO_ROOT = Path(__file__).resolve().parents[2]
#: selection → the pytest marker that picks its scenarios (None: every scenario)
SELECTIONS: dict[str, str | None] = {name: (None if name == "all" else name) for name in SELECTION_TAGS}


def drill_command(selection: str, *, results_dir: Path, extra: tuple[str, ...] = ()) -> list[str]:
    """The pytest command line for a selection (features with allure-pytest-bdd, plain allure off)."""
    if selection not in SELECTIONS:
        raise UsageError(f"unknown drill {selection!r}", fix=f"choose one of {', '.join(SELECTIONS)}")
    cmd = [sys.executable, "-m", "pytest", str(REPO_ROOT / "features"), "-p", "no:allure_pytest",
           "--alluredir", str(results_dir), "--clean-alluredir", "-o", "console_output_style=classic", "-rA", *extra]
    marker = SELECTIONS[selection]
    if marker:
        cmd += ["-m", marker]
    return cmd


INTERRUPTED = 130


def run_forwarding_signals(command: list[str], *, env: dict[str, str]) -> int:
    """Run the child pytest; the first SIGINT/SIGTERM sent to us goes to it, and we wait for its rollbacks.

    CI cancellation and a Kubernetes Job deletion send SIGTERM to this process
    only; without forwarding, the child (and the fault it holds) would run on.
    The child runs in its own process group, so a terminal's Ctrl-C reaches it
    once, through us; later signals are not forwarded, because a second
    interrupt would cut short the rollbacks the first one started. The child
    turns SIGTERM into the same interrupt as Ctrl-C.
    """
    child = subprocess.Popen(command, cwd=REPO_ROOT, env=env, process_group=0)
    received: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        if not received and child.poll() is None:
            child.send_signal(signum)
        received.append(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return INTERRUPTED if received else code


@app.command()
@click.argument("selection", default="monthly", type=click.Choice(list(SELECTIONS)))
@config_option
@click.option("--results", "results_dir", type=click.Path(path_type=Path), default=Path("reports/allure-results"),
              show_default=True, help="Allure results directory.")
@click.option("-k", "keyword", default=None, help="Only scenarios matching this pytest -k expression.")
@click.option("--dry-run", is_flag=True, help="Print the target and what each fault would hit; touch nothing.")
def drill(selection: str, config: str | None, results_dir: Path, keyword: str | None, dry_run: bool) -> None:
    """Run a drill (monthly by default) against the configured target, or the sandbox."""
    settings = load_settings(config)  # a bad config fails here with one line, before pytest starts
    if dry_run:
        click.echo("\n".join(describe_plan(selection, settings)))
        return
    env = dict(os.environ)
    if config:
        env["DRILL_CONFIG"] = str(Path(config).resolve())
    extra = ("-k", keyword) if keyword else ()
    command = drill_command(selection, results_dir=results_dir.resolve(), extra=extra)
    code = run_forwarding_signals(command, env=env)
    if code == 0:
        return
    if code in (INTERRUPTED, -signal.SIGINT, -signal.SIGTERM):
        raise KeyboardInterrupt  # the CLI's handler prints "interrupted" and exits 130
    if code == 5:
        raise UsageError(f"no scenario matched drill {selection!r}", fix="check the feature tags")
    raise click.exceptions.Exit(1 if code == 1 else 3)
