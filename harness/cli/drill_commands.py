"""`sentinel-drill drill <selection>`: run the Gherkin drills with pytest and write the evidence.

The features run in a child pytest so each drill starts with fresh plugin
state; the exit code is 0 only when every selected scenario passed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from harness.cli.app import app, config_option
from harness.config import Settings, load_settings, redact_webhook
from harness.drills.plan import SELECTION_TAGS, describe_plan
from harness.errors import UsageError
from harness.evidence.notify import post_notification, summarize_run

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


def _reports_dir(env: dict[str, str]) -> Path:
    """Where the child pytest writes drill-results.json (its cwd is the repository root)."""
    return REPO_ROOT / env.get("DRILL_REPORTS_DIR", "reports")


def _ci_run_url(env: dict[str, str]) -> str | None:
    """The CI run page (where the report is kept as an artifact), when running under GitHub Actions."""
    parts = [env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    return f"{parts[0]}/{parts[1]}/actions/runs/{parts[2]}" if all(parts) else None


def notify_after_run(url: str, settings: Settings, *, selection: str, exit_code: int, since: float,
                     env: dict[str, str]) -> None:
    """Post the run's summary to `url` when it did not pass; say on stderr what became of it (never raises)."""
    reports = _reports_dir(env)
    summary = summarize_run(
        reports / "drill-results.json", since=since, exit_code=exit_code,
        interrupted=exit_code in (INTERRUPTED, -signal.SIGINT, -signal.SIGTERM), selection=selection,
        settings=settings, report=str(reports / "allure-report" / "index.html"), run_url=_ci_run_url(env))
    if summary is None:
        click.echo(f"notify: every scenario passed; nothing posted to {redact_webhook(url)}",
                   err=True)
        return
    result = post_notification(url, summary)
    click.echo(f"notify: {summary['verdict']}: {result.describe(url)}", err=True)


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
@click.option("--notify", "notify_url", envvar="DRILL_NOTIFY_URL", show_envvar=True, default=None, metavar="URL",
              help="Webhook (Slack-compatible) that gets a JSON summary when a scenario is FAIL, INVALID or ERROR, "
                   "or the run errors or is interrupted; a run that passes posts nothing. A failed post is reported "
                   "on stderr and never changes the exit code. A secret (the token is in the URL): shown redacted, "
                   "never read from the config file; prefer the environment variable, a flag shows in the "
                   "process list.")
def drill(selection: str, config: str | None, results_dir: Path, keyword: str | None, dry_run: bool,
          notify_url: str | None) -> None:
    """Run a drill (monthly by default) against the configured target, or the sandbox."""
    # a bad config fails here with one line, before pytest starts
    settings = load_settings(config, overrides={"notify_url": notify_url})
    if dry_run:
        click.echo("\n".join(describe_plan(selection, settings)))
        click.echo(f"notify      {redact_webhook(settings.notify_url)} on FAIL, INVALID or ERROR"
                   if settings.notify_url else "notify      (not set)")
        return
    env = dict(os.environ)
    if config:
        env["DRILL_CONFIG"] = str(Path(config).resolve())
    extra = ("-k", keyword) if keyword else ()
    command = drill_command(selection, results_dir=results_dir.resolve(), extra=extra)
    started = time.time()
    code = run_forwarding_signals(command, env=env)
    if settings.notify_url:
        notify_after_run(settings.notify_url, settings, selection=selection, exit_code=code, since=started, env=env)
    if code == 0:
        return
    if code in (INTERRUPTED, -signal.SIGINT, -signal.SIGTERM):
        raise KeyboardInterrupt  # the CLI's handler prints "interrupted" and exits 130
    if code == 5:
        raise UsageError(f"no scenario matched drill {selection!r}", fix="check the feature tags")
    raise click.exceptions.Exit(1 if code == 1 else 3)
