"""`sentinel-drill recover`: replay what a killed drill left in its undo ledger.

A drill killed with SIGKILL runs no rollback. Every destructive step wrote its
undo into the ledger before acting; this command carries out every undo not
marked done, newest first, each against the cluster it was written for, and
marks it done, so a second `recover` finds nothing to do and says so.

`--from-store` also reads the ledger's copy in the target's store (every run's,
or `--run-id`'s): the way to recover from another machine when the state dir
died with the one that ran the drill. Every undo runs only on the cluster
identity its entry recorded (harness.undo).
"""

from __future__ import annotations

from pathlib import Path

import click

from harness.cli.app import app, config_option, settings_from
from harness.config import Settings
from harness.ledger import STORE_PREFIX, StoreLedgerMirror, UndoEntry, UndoLedger, read_store_records
from harness.undo import apply_undo


def _store_ledgers(settings: Settings, local: UndoLedger, run_id: str | None) -> tuple[list[UndoLedger], Settings]:
    """One ledger per run found in the store's copy (the local file's records plus that run's, written back
    there), and the target's effective settings (the sandbox's coordinates filled in) for the undos."""
    from harness.target import open_target

    with open_target(settings, start_sandbox=False) as target:
        store, effective = target.store(), target.settings
    runs = sorted({o.key.split("/")[1] for o in store.list(STORE_PREFIX) if o.key.count("/") >= 2})
    if run_id:
        runs = [r for r in runs if r == run_id]
    return [UndoLedger(local.path, StoreLedgerMirror(store, run), read_store_records(store, run_id=run))
            for run in runs], effective


def _effective(settings: Settings) -> Settings:
    """The target's settings with a recorded sandbox's coordinates filled in (an undo whose kubeconfig is not on
    this machine falls back to them); the configured ones when no sandbox is recorded."""
    from harness.errors import DrillError
    from harness.target import open_target

    try:
        with open_target(settings, start_sandbox=False) as target:
            return target.settings
    except DrillError:
        return settings


@app.command()
@config_option
@click.option("--ledger", "ledger_path", type=click.Path(path_type=Path), default=None,
              help="The undo ledger to replay (default: <state_dir>/undo-ledger.jsonl of the config).")
@click.option("--from-store", is_flag=True,
              help="Also replay the ledger's copy in the target's store (drill-ledger/): from another machine.")
@click.option("--run-id", default=None, help="With --from-store: only this run's entries.")
@click.option("--dry-run", is_flag=True, help="List what would be undone; change nothing.")
def recover(config: str | None, ledger_path: Path | None, from_store: bool, run_id: str | None,
            dry_run: bool) -> None:
    """Undo what an interrupted or killed drill left behind (idempotent)."""
    settings = settings_from(config)
    local = UndoLedger(ledger_path) if ledger_path else UndoLedger.in_dir(settings.state_dir)
    ledgers = [local]
    if from_store:
        ledgers, settings = _store_ledgers(settings, local, run_id)
    else:
        settings = _effective(settings)
    where = f"{local.path}" + (" and the store's ledger copy" if from_store else "")
    pending = {e.id: e for ledger in ledgers for e in ledger.pending()}
    if not pending:
        click.echo(f"nothing to recover: every undo in {where} has run")
        return
    if dry_run:
        for entry in pending.values():
            click.echo(f"would undo: {entry.describe()}")
        return

    def undo(entry: UndoEntry) -> str:
        return apply_undo(entry, settings=settings)

    done = 0
    for ledger in ledgers:
        for entry, outcome in ledger.replay(undo):
            click.echo(f"undone: {entry.kind} — {outcome}")
            done += 1
    click.echo(f"recovered {done} entr{'y' if done == 1 else 'ies'} from {where}")
