"""`sentinel-drill` command line: one function per command, one error handler.

`main(argv) -> int` turns the harness's error tree into the documented exit
codes; expected failures print one line naming the problem and the fix.
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from tempfile import gettempdir

import click

# command modules register themselves on `app` when imported
from harness.cli import (
    backup_commands,  # noqa: F401
    coverage_commands,  # noqa: F401
    doctor_commands,  # noqa: F401
    drill_commands,  # noqa: F401
    evidence_commands,  # noqa: F401
    keys_commands,  # noqa: F401
    pipeline_commands,  # noqa: F401
    recover_commands,  # noqa: F401
    sandbox_commands,  # noqa: F401
    target_commands,  # noqa: F401
)
from harness.cli.app import app
from harness.errors import DrillError
from harness.redaction import install_log_redaction

EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130


def _internal_error_log() -> Path:
    path = Path(gettempdir()) / "sentinel-drill-error.log"
    path.write_text(traceback.format_exc())
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return its exit code instead of raising."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    try:
        rv = app(args=list(argv) if argv is not None else None, standalone_mode=False)
        return rv if isinstance(rv, int) else 0  # click returns Exit's code instead of raising it here
    except DrillError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.exceptions.NoArgsIsHelpError as exc:
        print(exc.ctx.get_help() if exc.ctx else "see `sentinel-drill --help`", file=sys.stderr)
        return 2
    except click.UsageError as exc:
        print(f"usage error: {exc.format_message()} — see `sentinel-drill --help`", file=sys.stderr)
        return 2
    except click.Abort:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the one place that catches everything
        log = _internal_error_log()
        print(f"internal error: {exc.__class__.__name__}: {exc} — details in {log}", file=sys.stderr)
        return EXIT_INTERNAL


def entry() -> None:
    sys.exit(main())
