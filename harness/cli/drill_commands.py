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
from collections.abc import Mapping
from pathlib import Path

import click

from harness.backup.config_export import KEY_ENV as CONFIG_KEY_ENV
from harness.cli.app import app, config_option
from harness.cli.evidence_commands import write_evidence
from harness.config import Settings, load_settings, redact_webhook
from harness.drills.admission import admit
from harness.drills.plan import SELECTION_TAGS, describe_plan
from harness.errors import DrillError, UsageError
from harness.evidence.notify import post_notification, summarize_run
from harness.ownership import RUN_ID_ENV, new_run_id
from harness.redaction import child_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
#: selection → the pytest marker that picks its scenarios (None: every scenario)
SELECTIONS: dict[str, str | None] = {name: (None if name == "all" else name) for name in SELECTION_TAGS}


#: where the features, steps and experiments live when the harness is installed rather than checked out (the image)
HOME_ENV = "DRILL_HOME"


def drill_home(env: Mapping[str, str]) -> Path:
    """The directory holding features/, steps/, experiments/ and conftest.py: DRILL_HOME, else this checkout."""
    home = Path(env[HOME_ENV]) if env.get(HOME_ENV) else REPO_ROOT
    if not (home / "features").is_dir() or not (home / "conftest.py").is_file():
        raise UsageError(f"no drill features under {home}", fix=f"run from a checkout, or set {HOME_ENV} to a "
                         "directory with features/, steps/, experiments/ and conftest.py (the image sets it)")
    return home


def drill_workdir(env: Mapping[str, str]) -> Path:
    """Where the drill runs and writes reports/: the checkout itself, or (with DRILL_HOME) the current directory,
    because an installed home is read-only (in the image, the Job's working directory is a scratch volume)."""
    return Path.cwd() if env.get(HOME_ENV) else REPO_ROOT


def drill_command(selection: str, *, results_dir: Path, extra: tuple[str, ...] = (),
                  env: Mapping[str, str] | None = None) -> list[str]:
    """The pytest command line for a selection (features with allure-pytest-bdd, plain allure off)."""
    if selection not in SELECTIONS:
        raise UsageError(f"unknown drill {selection!r}", fix=f"choose one of {', '.join(SELECTIONS)}")
    home = drill_home(os.environ if env is None else env)
    cmd = [sys.executable, "-m", "pytest", str(home / "features"), "--rootdir", str(home),
           "-c", str(home / "pyproject.toml"), "-p", "no:allure_pytest",
           "--alluredir", str(results_dir), "--clean-alluredir", "-o", "console_output_style=classic", "-rA", *extra]
    marker = SELECTIONS[selection]
    if marker:
        cmd += ["-m", marker]
    return cmd


INTERRUPTED = 130


def _reports_dir(env: Mapping[str, str]) -> Path:
    """Where the child pytest writes drill-results.json (relative to its working directory)."""
    return drill_workdir(env) / env.get("DRILL_REPORTS_DIR", "reports")


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
        interrupted=_interrupted(exit_code), selection=selection,
        settings=settings, report=str(reports / "allure-report" / "index.html"), run_url=_ci_run_url(env))
    if summary is None:
        click.echo(f"notify: every scenario passed; nothing posted to {redact_webhook(url)}",
                   err=True)
        return
    result = post_notification(url, summary)
    click.echo(f"notify: {summary['verdict']}: {result.describe(url)}", err=True)


#: what boto3's credential chain reads besides AWS_ACCESS_KEY_ID (which is no secret on its own)
AWS_SECRET_VARIABLES = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                        "AWS_CONTAINER_AUTHORIZATION_TOKEN")


def drill_child_environment(settings: Settings, env: Mapping[str, str], *, config: str | None) -> dict[str, str]:
    """The drill's pytest environment: scrubbed like every child's, plus exactly the secrets the features use.

    The features reach production's and the DR environment's Redis, the store,
    Route 53 and the health endpoints, and read or write the configuration
    export. They post no webhook and sign no evidence (this process does both
    after the run), and never sign a verification record (that key is the verify
    job's alone), so DRILL_NOTIFY_URL, DRILL_EVIDENCE_SIGNING_KEY and
    DRILL_VERIFIER_KEY stay here. Each handed-over variable is named below with
    its reason (docs/secrets.md).
    """
    extra: dict[str, str] = {}
    # Redis AUTH, production and DR: the passwords as the settings resolved them (the variable, or the URL's
    # userinfo); the URLs go as the settings hold them, without the password (a user name stays: it is the account)
    for url_var, password_var, url, password in (
            ("DRILL_REDIS_URL", "REDIS_PASSWORD", settings.redis_url, settings.redis_password),
            ("DRILL_DR_REDIS_URL", "DR_REDIS_PASSWORD", settings.dr_redis_url, settings.dr_redis_password)):
        if env.get(url_var) and url:
            extra[url_var] = url
        if password is not None:
            extra[password_var] = password.get_secret_value()
    # the health endpoints the features poll: a token in such a URL is part of the address they must reach
    for name in ("DRILL_HEALTH_URL", "DRILL_DR_HEALTH_URL"):
        if env.get(name):
            extra[name] = env[name]
    # the configuration export's key: scenario 3 decrypts the pipeline's export, scenario 4 writes a new one
    if env.get(CONFIG_KEY_ENV):
        extra[CONFIG_KEY_ENV] = env[CONFIG_KEY_ENV]
    # the store and Route 53, through boto3's credential chain
    extra.update({name: env[name] for name in AWS_SECRET_VARIABLES if env.get(name)})
    if config:
        extra["DRILL_CONFIG"] = str(Path(config).resolve())
    return child_environment(extra, env=env)


def run_forwarding_signals(command: list[str], *, env: dict[str, str]) -> int:
    """Run the child pytest; the first SIGINT/SIGTERM sent to us goes to it, and we wait for its rollbacks.

    CI cancellation and a Kubernetes Job deletion send SIGTERM to this process
    only; without forwarding, the child (and the fault it holds) would run on.
    The child runs in its own process group, so a terminal's Ctrl-C reaches it
    once, through us; later signals are not forwarded, because a second
    interrupt would cut short the rollbacks the first one started. The child
    turns SIGTERM into the same interrupt as Ctrl-C.
    """
    child = subprocess.Popen(command, cwd=drill_workdir(env), env=env, process_group=0)
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


def _interrupted(code: int) -> bool:
    """The child pytest was interrupted (by us forwarding a signal, or by a signal of its own)."""
    return code in (INTERRUPTED, -signal.SIGINT, -signal.SIGTERM)


def _evidence_after_run(code: int, *, env: Mapping[str, str], config: str | None, upload: bool) -> int:
    """Write (and upload) the evidence of the run that just ended; a pass without evidence is no proof (exit 1), nor
    is one whose evidence does not recompute from its own observations."""
    reports = _reports_dir(env)
    try:
        written = write_evidence(reports / "drill-results.json", reports / "evidence", pdf=True, upload=upload,
                                 config=config)
    except DrillError as exc:
        click.echo(f"error: evidence not written: {exc.one_line()}", err=True)
        return 1 if code == 0 else code
    if not written.recompute.ok:
        click.echo(f"error: evidence {written.bundle} does not recompute from its raw observations: "
                   f"{written.recompute.problems[0]}", err=True)
        return 1 if code == 0 else code
    return code


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
@click.option("--evidence", "evidence", is_flag=True,
              help="After the run, build the evidence bundle (reports/evidence/<run-id>/) and its PDF, as the make "
                   "targets do; for runs without make (the in-cluster Job, deploy/drill-job/).")
@click.option("--upload-evidence", "upload_evidence", is_flag=True,
              help="Also upload the bundle and its locked chain head to the store (store_url); implies --evidence.")
def drill(selection: str, config: str | None, results_dir: Path, keyword: str | None, dry_run: bool,
          notify_url: str | None, evidence: bool, upload_evidence: bool) -> None:
    """Run a drill (monthly by default) against the configured target, or the sandbox."""
    # a bad config fails here with one line, before pytest starts
    settings = load_settings(config, overrides={"notify_url": notify_url})
    if dry_run:
        click.echo("\n".join(describe_plan(selection, settings)))
        click.echo(f"notify      {redact_webhook(settings.notify_url)} on FAIL, INVALID or ERROR"
                   if settings.notify_url else "notify      (not set)")
        return
    # every fault of the selection is admitted before pytest starts: a refusal (exit 2) comes before any write
    for line in admit(selection, settings).lines():
        click.echo(line, err=True)
    env = dict(os.environ)
    env[RUN_ID_ENV] = settings.run_id or new_run_id(settings.target)  # labels, ledger and evidence name this run
    extra = ("-k", keyword) if keyword else ()
    command = drill_command(selection, results_dir=results_dir.resolve(), extra=extra)
    started = time.time()
    code = run_forwarding_signals(command, env=drill_child_environment(settings, env, config=config))
    if (evidence or upload_evidence) and not _interrupted(code):
        code = _evidence_after_run(code, env=env, config=config, upload=upload_evidence)
    if settings.notify_url:  # after the evidence: a pass whose evidence failed exits 1 and is reported as such
        notify_after_run(settings.notify_url, settings, selection=selection, exit_code=code, since=started, env=env)
    if code == 0:
        return
    if _interrupted(code):
        raise KeyboardInterrupt  # the CLI's handler prints "interrupted" and exits 130
    if code == 5:
        raise UsageError(f"no scenario matched drill {selection!r}", fix="check the feature tags")
    raise click.exceptions.Exit(1 if code == 1 else 3)
