"""One error tree for the whole harness; the CLI maps it to exit codes.

Every expected failure is a `DrillError` carrying what went wrong and how to fix
it, so the user sees one line, never a traceback. Exit codes (the CLI contract):
0 ok · 1 a check failed / target missed / restore refused · 2 usage, config,
connection, authentication or safety refusal · 3 internal error · 130 interrupted.
"""

from __future__ import annotations


class DrillError(Exception):
    """Root of every error the harness expects and explains."""

    exit_code: int = 3

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def one_line(self) -> str:
        """The message and its fix on one line, as the CLI prints it."""
        return f"{self.message} — {self.fix}" if self.fix else self.message


class CheckFailed(DrillError, AssertionError):
    """A check ran and its answer was no (exit 1).

    Also an AssertionError so test reports (Allure, pytest) show a missed
    target as a failed check rather than a broken harness.
    """

    exit_code = 1


class VerificationFailed(CheckFailed):
    """A backup failed one of the verification levels."""


class RestoreRefused(CheckFailed):
    """A restore was refused to protect data (unverified backup, non-empty target)."""


class PipelineBackupUnfit(CheckFailed):
    """The backup pipeline's newest backup is missing, older than the RPO or unlocked where the store locks.

    Raised before any fault: a drill that cannot fall back on the pipeline's
    backup must not break anything. A FAIL (the pipeline is broken), not INVALID.
    """


class TargetMissed(CheckFailed):
    """A measured RTO/RPO/availability missed its configured target."""


class FaultNotConfirmed(CheckFailed):
    """The injected fault was not observed, so the drill proves nothing: verdict INVALID."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(f"INVALID — {message}", fix=fix)


class PreconditionFailed(FaultNotConfirmed):
    """The target was not in the state the drill starts from (e.g. unhealthy before the fault): INVALID."""


class UsageError(DrillError):
    """The command line or an argument is wrong (exit 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """The configuration file or a DRILL_* variable is invalid."""


class ConnectionFailed(DrillError):
    """A service (Redis, the store, the cluster) could not be reached (exit 2)."""

    exit_code = 2


class AuthFailed(DrillError):
    """A service rejected our credentials (exit 2)."""

    exit_code = 2


class StoreError(DrillError):
    """The backup store is missing, misconfigured or refused an operation (exit 2)."""

    exit_code = 2


class SafetyRefused(DrillError):
    """A destructive action was refused by the safety guard (exit 2)."""

    exit_code = 2
