"""The chain's links as the bundles in one directory state them.

Each bundle names its predecessor (run id + sha256 of its SHA256SUMS) in the
`previous` file and carries a `sequence` number in run.json. This module only
reads what the bundles say; `chain.py` judges whether it adds up. The builder
uses it to pick the bundle a new one follows: the chain's tip — the bundle no
other bundle follows — never simply the newest `created_at`, which is the
bundle's own claim.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.digests import sha256_file
from harness.evidence import integrity
from harness.safe_paths import UnsafeName, path_under

#: directory names under a chain root that are not bundles (the store's locked chain heads)
HEADS_DIR = "_heads"


@dataclass(frozen=True)
class BundleLink:
    """What one bundle says about its place in the chain."""

    run_id: str
    sums_sha256: str
    previous: tuple[str, str] | None  # (run id, sha256 of its SHA256SUMS); None for a first bundle
    previous_problem: str | None  # the `previous` file is missing or malformed
    sequence: int | None  # run.json's position in the chain (1 for the first); None in older bundles
    created_at: str


def _run_document(bundle: Path) -> dict[str, Any]:
    try:
        data = json.loads((bundle / integrity.RUN_JSON).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_link(bundle: Path) -> BundleLink:
    run = _run_document(bundle)
    previous: tuple[str, str] | None = None
    problem: str | None = None
    try:
        previous = integrity.parse_previous((bundle / integrity.PREVIOUS).read_text())
    except FileNotFoundError:
        problem = f"missing: {integrity.PREVIOUS} (the link to the previous bundle)"
    except (OSError, ValueError) as exc:
        problem = f"{integrity.PREVIOUS}: {exc}"
    sequence = run.get("sequence")
    return BundleLink(bundle.name, sha256_file(bundle / integrity.SUMS), previous, problem,
                      sequence if isinstance(sequence, int) else None, str(run.get("created_at", "")))


def _candidates(root: Path) -> list[Path]:
    """Directories directly under `root` that may be bundles; never a symbolic link (see `refused_entries`)."""
    if not root.is_dir():
        return []
    return sorted(child for child in root.iterdir()
                  if not child.name.startswith((".", "_")) and child.is_dir() and not child.is_symlink())


def bundle_dirs(root: Path) -> list[Path]:
    """The complete bundles directly under `root` (those with SHA256SUMS), by name."""
    return [child for child in _candidates(root) if (child / integrity.SUMS).is_file()]


def incomplete_dirs(root: Path) -> list[Path]:
    """Directories under `root` that look like bundles but have no SHA256SUMS (stripped or never finished)."""
    return [child for child in _candidates(root)
            if not (child / integrity.SUMS).is_file() and (child / integrity.RUN_JSON).is_file()]


def refused_entries(root: Path) -> list[str]:
    """Why each entry directly under `root` that is a symbolic link, device or FIFO is not read as a bundle."""
    if not root.is_dir():
        return []
    refused: list[str] = []
    for child in sorted(root.iterdir()):
        try:
            path_under(root, child.name, what="bundle directory")
        except UnsafeName as exc:
            refused.append(exc.message)
    return refused


def read_links(root: Path, *, exclude: str | None = None) -> dict[str, BundleLink]:
    return {d.name: read_link(d) for d in bundle_dirs(root) if d.name != exclude}


def chain_tip(links: dict[str, BundleLink]) -> BundleLink | None:
    """The bundle a new one should follow: one no other bundle follows, the latest in sequence if several."""
    followed = {link.previous[0] for link in links.values() if link.previous}
    tips = [link for link in links.values() if link.run_id not in followed] or list(links.values())
    if not tips:
        return None
    return max(tips, key=lambda link: (link.sequence or 0, link.created_at, link.run_id))
