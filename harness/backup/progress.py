"""Progress bars for large transfers: on stderr, only for a terminal, never on stdout.

stdout carries results (the backup id, JSON) that scripts parse, so progress must
not touch it; in CI or with stderr redirected nothing is drawn at all.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: transfers smaller than this finish too fast for a bar to help
MIN_BYTES_FOR_BAR = 8 * 1024 * 1024

Advance = Callable[[int], None]


def _noop(_: int) -> None:
    return None


def wants_progress(total: int | None) -> bool:
    """True when stderr is a terminal and the transfer is large (or of unknown size)."""
    return sys.stderr.isatty() and (total is None or total >= MIN_BYTES_FOR_BAR)


@contextmanager
def transfer_progress(description: str, total: int | None) -> Iterator[Advance]:
    """Yield `advance(nbytes)`; draws a rich bar on stderr only when `wants_progress`."""
    if not wants_progress(total):
        yield _noop
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
