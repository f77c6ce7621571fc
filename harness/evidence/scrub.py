"""Keep secrets out of evidence: every text artifact is scanned before it is written.

A drill's journals and reports are read by people who must never see the Redis
password. The scrubber replaces each known secret (raw, JSON-escaped and
URL-encoded forms) with `***` and counts what it replaced, so the bundle can say
that a redaction happened; a binary file holding a secret is refused, because
replacing bytes inside it would corrupt it silently.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from harness.errors import SafetyRefused

log = logging.getLogger(__name__)

REDACTED = "***"
#: environment variables whose values never reach evidence
SECRET_ENV_VARS: tuple[str, ...] = ("REDIS_PASSWORD", "DRILL_EVIDENCE_HMAC_KEY")
#: shorter values would redact ordinary words; they are reported instead
MIN_SECRET_LENGTH = 4


def _forms(secret: str) -> list[str]:
    """The spellings a secret takes in text: raw, inside a JSON string, inside a URL."""
    forms = {secret, json.dumps(secret)[1:-1], quote(secret, safe="")}
    # longest first, so a longer form is not half-replaced through a shorter one
    return sorted((f for f in forms if f), key=len, reverse=True)


@dataclass(frozen=True)
class Scrubber:
    """The secrets to keep out of everything written as evidence."""

    secrets: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, extra: Iterable[str] = (), env: Mapping[str, str] | None = None) -> Scrubber:
        """Secrets from REDIS_PASSWORD, DRILL_EVIDENCE_HMAC_KEY and `extra`."""
        env = os.environ if env is None else env
        values = [env.get(name, "") for name in SECRET_ENV_VARS] + list(extra)
        kept: list[str] = []
        for value in values:
            if not value or value in kept:
                continue
            if len(value) < MIN_SECRET_LENGTH:
                log.warning("a secret shorter than %d characters cannot be scrubbed safely", MIN_SECRET_LENGTH)
                continue
            kept.append(value)
        return cls(tuple(kept))

    def scrub_text(self, text: str) -> tuple[str, int]:
        """Return `text` with every secret replaced by `***`, and how many were replaced."""
        count = 0
        for secret in self.secrets:
            for form in _forms(secret):
                hits = text.count(form)
                if hits:
                    count += hits
                    text = text.replace(form, REDACTED)
        return text, count

    def scrub_bytes(self, data: bytes, *, name: str) -> tuple[bytes, int]:
        """Scrub UTF-8 text; refuse (SafetyRefused) binary data that contains a secret."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            for secret in self.secrets:
                if secret.encode() in data:
                    raise SafetyRefused(
                        f"{name} is binary and contains a secret; it cannot be redacted without corrupting it",
                        fix="leave this file out of the evidence, or remove the secret at its source",
                    ) from None
            return data, 0
        clean, count = self.scrub_text(text)
        return (clean.encode("utf-8") if count else data), count

    def leaks(self, text: str) -> bool:
        """True if any secret (in any form) is still in `text`."""
        return any(form in text for secret in self.secrets for form in _forms(secret))
