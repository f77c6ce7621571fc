"""How a chaostoolkit activity reaches the drill's own target: handed over, never re-opened.

Under the drill, `run_for_drill` passes the live `Target` as the value of the
experiment's `target` configuration key (chaoslib hands configuration values to
activities as they are, in a shallow copy). Actions then act on exactly the
coordinates the drill holds: after scenario 3 switched to the DR environment,
the next fault goes there, not to production.

Under plain `chaos run` the value is a target *name* (from `DRILL_TARGET`) and
the activity opens the configured target (DRILL_CONFIG / DRILL_* settings) for
its own duration; the sandbox is never started from inside an activity.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any

from chaoslib.exceptions import ActivityFailed

from harness.config import Settings, load_settings
from harness.errors import DrillError
from harness.target.base import Target

#: the configuration key every experiment declares; its value is a Target under the drill, a name under `chaos run`
TARGET_KEY = "target"


def settings_from(configuration: Mapping[str, Any] | None) -> Settings:
    """Settings for an activity run by plain `chaos run`: DRILL_CONFIG/DRILL_* plus the experiment's own values."""
    configuration = configuration or {}
    name = configuration.get(TARGET_KEY)
    overrides = {"target": name if isinstance(name, str) and name else None,
                 "sandbox_dir": configuration.get("sandbox_dir") or None}
    return load_settings(overrides=overrides)


@contextmanager
def target_from(configuration: Mapping[str, Any] | None, *, activity: str) -> Iterator[Target]:
    """The drill's live target when one was handed over, else the configured one for this activity only.

    A DrillError while opening becomes ActivityFailed naming the activity, so
    the journal records it as a failed activity rather than a crash.
    """
    handed = (configuration or {}).get(TARGET_KEY)
    if isinstance(handed, Target):
        yield handed
        return
    from harness.target import open_target

    with ExitStack() as stack:
        try:
            target = stack.enter_context(open_target(settings_from(configuration), start_sandbox=False))
        except DrillError as exc:
            raise ActivityFailed(f"{activity}: {exc.one_line()}") from None
        yield target
