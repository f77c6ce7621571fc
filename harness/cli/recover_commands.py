"""`sentinel-drill recover`: replay what a killed drill left in its undo ledger.

A drill killed with SIGKILL runs no rollback. Every destructive step wrote its
undo into the ledger before acting; this command carries out every undo not
marked done, newest first, each against the cluster it was written for, and
marks it done, so a second `recover` finds nothing to do and says so.
"""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli.app import app, config_option, settings_from
from harness.ledger import UndoLedger
from harness.undo import apply_undo


@app.command()
@config_option
@click.option("--ledger", "ledger_path", type=click.Path(path_type=Path), default=None,
              help="The undo ledger to replay (default: <state_dir>/undo-ledger.jsonl of the config).")
@click.option("--dry-run", is_flag=True, help="List what would be undone; change nothing.")
def recover(config: str | None, ledger_path: Path | None, dry_run: bool) -> None:
    """Undo what an interrupted or killed drill left behind (idempotent)."""
    ledger = UndoLedger(ledger_path) if ledger_path else UndoLedger.in_dir(settings_from(config).state_dir)
    pending = ledger.pending()
    if not pending:
        click.echo(f"nothing to recover: every undo in {ledger.path} has run")
        return
    if dry_run:
        for entry in pending:
            click.echo(f"would undo: {entry.describe()}")
        return
    for entry, outcome in ledger.replay(apply_undo):
        click.echo(f"undone: {entry.kind} — {outcome}")
    click.echo(f"recovered {len(pending)} entr{'y' if len(pending) == 1 else 'ies'} from {ledger.path}")
