"""The label that keeps a sandbox run from reading like production evidence.

A drill on the local sandbox (kwok or real kubelet nodes on this machine)
proves the harness works, not that production recovers: its RTO of a few
seconds says nothing about a real cluster. Every title and verdict line an
auditor reads (summary.md, run.json, the Allure report) carries this label
when the run's target was the sandbox.
"""

from __future__ import annotations

SANDBOX_TARGET = "sandbox"
SANDBOX_LABEL = "SANDBOX — not evidence of production recovery"
UNKNOWN_TARGET_LABEL = "UNKNOWN TARGET — not evidence of production recovery"


def evidence_label(target: str | None) -> str | None:
    """The label a run against `target` must carry, or None for a configured (non-sandbox) target.

    An unknown target (None, "", "unknown") is labelled too: evidence that
    cannot say where it ran is no evidence of production recovery either.
    """
    name = (target or "").strip().lower()
    if name == SANDBOX_TARGET:
        return SANDBOX_LABEL
    if name in ("", "unknown"):
        return UNKNOWN_TARGET_LABEL
    return None


def labelled(title: str, label: str | None) -> str:
    """`title — label`, or the title alone when there is no label."""
    return f"{title} — {label}" if label else title
