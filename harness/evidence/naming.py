"""Stable names for scenarios: the tag that keys controls, runbook sections and metrics."""

from __future__ import annotations

import re
from collections.abc import Iterable

from harness.evidence.record import CONTROLS


def scenario_key(tags: Iterable[str]) -> str | None:
    """The first tag that names a drill scenario (`scenario-3`, `monthly`, ...), if any."""
    for tag in tags:
        if tag in CONTROLS:
            return tag
    return None


def slug(text: str, *, max_length: int = 60) -> str:
    """Lower-case, dash-separated, safe as a file name and a label value."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return cleaned[:max_length].rstrip("-") or "unnamed"


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading (emoji and punctuation dropped, spaces → dashes)."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")
