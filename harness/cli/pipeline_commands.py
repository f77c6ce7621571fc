"""`verify pipeline`: the daily check the verify CronJob runs (harness.backup.pipeline_check).

Prints each verification as it ends and the budget used; exits 1 with one line
naming the first problem (a dead pipeline first: the newest backup's id and age).
"""

from __future__ import annotations

import click

from harness.backup.pipeline_check import DEFAULT_BUDGET_S, check_pipeline
from harness.backup.verify import VerificationReport
from harness.cli.app import config_option, emit_json, json_option, settings_from
from harness.cli.backup_commands import configured_store, store_option, verify_group
from harness.errors import PipelineBackupUnfit, VerificationFailed


def _line(report: VerificationReport) -> str:
    took = sum(c.seconds for c in report.checks) + report.download_seconds
    failed = report.failed_check
    if report.passed or failed is None:
        return f"  {'ok  ' if report.passed else 'FAIL'} {report.backup_id} [{took:.2f}s]"
    return f"  FAIL {report.backup_id} [{took:.2f}s] at {failed.name}: {failed.reason}"


@verify_group.command("pipeline")
@config_option
@store_option
@click.option("--min-keys", type=click.IntRange(min=0), default=None,
              help="Fewest live keys acceptable (default: min_keys setting, 100).")
@click.option("--budget", type=click.FloatRange(min=0), default=DEFAULT_BUDGET_S, show_default=True,
              help="Seconds to spend verifying; what is left is named and verified first next time.")
@json_option
def verify_pipeline_command(config: str | None, store_url: str | None, min_keys: int | None, budget: float,
                            as_json: bool) -> None:
    """The daily check: the newest pipeline backup is no older than the RPO + schedule slack, and every pipeline
    backup written since the last run passes every level (newest first, within --budget)."""
    settings = settings_from(config, store_url=store_url, min_keys=min_keys)
    store = configured_store(settings)
    check = check_pipeline(store, rpo_s=settings.rpo_seconds, slack_s=settings.backup_schedule_slack_seconds,
                           min_keys=settings.min_keys, budget_s=budget,
                           on_report=(lambda _: None) if as_json else (lambda r: click.echo(_line(r))))
    if as_json:
        emit_json(check.to_json())
    else:
        newest = check.newest
        if newest.entry is not None:
            click.echo(f"newest pipeline backup {newest.entry.id}: {newest.age_s:.0f}s old "
                       f"(limit: RPO {newest.rpo_s:.0f}s + schedule slack {newest.slack_s:.0f}s)")
        click.echo(check.series.summary())
        click.echo("PASSED" if not check.problems else f"FAILED: {len(check.problems)} problem(s)")
    problems = check.problems
    if problems:
        more = f" (+{len(problems) - 1} more above)" if len(problems) > 1 else ""
        error = PipelineBackupUnfit if check.newest.problem else VerificationFailed
        raise error(f"{problems[0]}{more}", fix=check.fix)
