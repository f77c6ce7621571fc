"""The one redaction layer: what is a secret, how it is removed from text and data, and from children's env.

Secrets are recognised two ways. By *name*: an environment variable or a
field called like a password, secret, token, credential or key
(`REDIS_PASSWORD`, `DR_REDIS_PASSWORD`, `DRILL_CONFIG_KEY`,
`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `DRILL_EVIDENCE_SIGNING_KEY`, ...).
By *value*: every value held by such a variable, every value registered at run
time (rotated passwords, newly generated Secret values), and any password in
a URL's userinfo or `?password=` query. Logs (a logging filter), chaostoolkit
journals, the drill records, Allure attachments and the evidence bundle all go
through `Redactor`; every child process gets `child_environment()`, which drops
the secret and webhook variables and cuts passwords and tokens out of URLs,
unless the caller hands one over on purpose (docs/secrets.md).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from harness.errors import SafetyRefused

log = logging.getLogger(__name__)

REDACTED = "***"
#: shorter values would redact ordinary words; they are reported instead
MIN_SECRET_LENGTH = 4

#: whole words of a name (split at `_`, `-`, `.` and case changes) that mark a secret: `passed`, `author`,
#: `bypass` hold none
_SECRET_WORDS = re.compile(r"(?:^|[_\-.])(pass|password|passwd|passphrase|secrets?|tokens?|credentials?|"
                           r"private_?key|api_?key|hmac|fernet|auth|authorization|requirepass)(?=$|[_\-.])",
                           re.IGNORECASE)
#: names that look secret-ish but hold none (ids, counts, references)
_HARMLESS = re.compile(r"(_id|_ids|_count|_file|_env|_reply|_proof|_rotated|_restored|_secret_name|_sock)$|"
                       r"^(rdb_key|manifest_key|verify_key)$", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """True for a variable or field whose value is a secret (`*_KEY` counts only in UPPER_CASE env style)."""
    if _HARMLESS.search(name):
        return False
    if _SECRET_WORDS.search(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)):
        return True
    return name.isupper() and (name.endswith("_KEY") or name == "REDISCLI_AUTH")


_registered: list[str] = []
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret learned at run time (a rotated password): redacted from everything written after."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        with _lock:
            if value not in _registered:
                _registered.append(value)


def registered_secrets() -> tuple[str, ...]:
    with _lock:
        return tuple(_registered)


def env_secrets(env: Mapping[str, str] | None = None) -> list[str]:
    """Values of every secret-named variable in `env` (this process's environment by default)."""
    env = os.environ if env is None else env
    return [v for k, v in env.items() if v and is_secret_name(k)]


_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"(?P<key>[?&](?:password|passwd|pass|token|secret|auth)=)(?P<value>[^&#\s\"']+)",
                             re.IGNORECASE)


def redact_urls(text: str) -> str:
    """Passwords inside URLs: userinfo (`redis://:pw@host`) and query (`?password=pw`)."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{REDACTED}@", text)
    return _QUERY_PASSWORD.sub(lambda m: f"{m['key']}{REDACTED}", text)


def _forms(secret: str) -> list[str]:
    """The spellings a secret takes in text: raw, inside a JSON string, inside a URL."""
    forms = {secret, json.dumps(secret)[1:-1], quote(secret, safe="")}
    return sorted((f for f in forms if f), key=len, reverse=True)  # longest first


@dataclass(frozen=True)
class Redactor:
    """The secrets to keep out of everything written: known values, plus URL passwords and secret-named fields."""

    secrets: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, extra: Iterable[str] = (), env: Mapping[str, str] | None = None) -> Redactor:
        """Every secret-named variable's value, every registered secret, and `extra`."""
        kept: list[str] = []
        for value in [*env_secrets(env), *registered_secrets(), *extra]:
            if not value or value in kept:
                continue
            if len(value) < MIN_SECRET_LENGTH:
                log.warning("a secret shorter than %d characters cannot be redacted safely", MIN_SECRET_LENGTH)
                continue
            kept.append(value)
        return cls(tuple(kept))

    def scrub_text(self, text: str) -> tuple[str, int]:
        """`text` with every secret (and URL password) replaced by `***`, and how many were replaced."""
        count = 0
        for secret in self.secrets:
            for form in _forms(secret):
                hits = text.count(form)
                if hits:
                    count += hits
                    text = text.replace(form, REDACTED)
        cleaned = redact_urls(text)
        if cleaned != text:
            count += 1
        return cleaned, count

    def text(self, text: str) -> str:
        return self.scrub_text(text)[0]

    def data(self, value: Any) -> Any:
        """A copy of `value` (dicts, lists, strings) with secret-named fields and secret values redacted."""
        if isinstance(value, Mapping):
            return {k: (REDACTED if value[k] not in (None, "") and isinstance(k, str) and is_secret_name(k)
                        and not isinstance(value[k], (bool, int, float))
                        else self.data(value[k])) for k in value}
        if isinstance(value, (list, tuple)):
            return [self.data(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

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


def redact(value: Any) -> Any:
    """`value` redacted with every secret known now (environment + registered)."""
    return Redactor.from_env().data(value)


def redact_text(text: str) -> str:
    return Redactor.from_env().text(text)


def redact_tree(directory: Path) -> int:
    """Redact every text file under `directory` in place (output written by others: Allure results); files changed."""
    redactor = Redactor.from_env()
    changed = 0
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        data = path.read_bytes()
        clean, hits = redactor.scrub_bytes(data, name=str(path))
        if hits:
            path.write_bytes(clean)
            changed += 1
    return changed


class RedactingFilter(logging.Filter):
    """Redacts every log record's message (arguments included) before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logged as it is
            return True
        record.msg, record.args = redact_text(message), None
        return True


def install_log_redaction() -> None:
    """Put the filter on every handler of the root logger (idempotent)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


#: variables that hold a webhook whose token is in the URL; dropped from every child whatever their value
WEBHOOK_VARIABLES = frozenset({"DRILL_NOTIFY_URL"})
_WEBHOOK_NAME = re.compile(r"WEBHOOK|(?:^|_)(?:NOTIFY|HOOKS?)_URLS?$", re.IGNORECASE)
#: hosts that take posts whose URL alone authorises them (Slack, Discord, Teams, Google Chat, Mattermost-style /hooks/)
_WEBHOOK_HOSTS = ("hooks.slack.com", "discord.com", "discordapp.com", "webhook.office.com", "outlook.office.com",
                  "chat.googleapis.com")
_WEBHOOK_PATH = re.compile(r"/(?:hooks?|webhooks?)(?:/|$)", re.IGNORECASE)
#: query parameters that carry a credential besides the secret-named ones (`?key=`, signed URLs)
_SECRET_PARAMS = frozenset({"password", "passwd", "pass", "pwd", "token", "secret", "auth", "key", "apikey", "sig",
                            "signature", "x-amz-signature", "x-amz-credential", "x-amz-security-token"})
_URL_IN_TEXT = re.compile(r"[a-z][a-z0-9+.-]*://[^\s\"'<>,;]+", re.IGNORECASE)
#: a secret's value is looked for in other variables only from this length on (shorter ones match ordinary text)
_MIN_COPIED_SECRET = 8


def is_webhook(name: str, value: str) -> bool:
    """True for a variable holding a webhook: by its name (DRILL_NOTIFY_URL, *WEBHOOK*) or its URL's host or path."""
    if name in WEBHOOK_VARIABLES or _WEBHOOK_NAME.search(name):
        return True
    for url in _URL_IN_TEXT.findall(value):
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
        except ValueError:
            continue
        if host.endswith(_WEBHOOK_HOSTS) or (parts.scheme in ("http", "https") and _WEBHOOK_PATH.search(parts.path)):
            return True
    return False


def _secret_param(name: str) -> bool:
    return name.lower() in _SECRET_PARAMS or is_secret_name(name)


def scrub_url(url: str) -> str:
    """`url` without its userinfo (`scheme://user:pw@host` → `scheme://host`) and credential query parameters."""
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed netloc (stray brackets): cut the userinfo and the whole query by pattern
        return re.sub(r"^([a-z][a-z0-9+.-]*://)[^/?#]*@", r"\1", url.partition("?")[0], flags=re.IGNORECASE)
    netloc = parts.netloc.rpartition("@")[2]
    query = "&".join(p for p in parts.query.split("&") if p and not _secret_param(unquote(p.partition("=")[0])))
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub_urls(text: str) -> str:
    """`text` with every URL in it scrubbed (`scrub_url`)."""
    return _URL_IN_TEXT.sub(lambda match: scrub_url(match[0]), text)


def child_environment(extra: Mapping[str, str] | None = None, *,
                      env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for any process the harness starts: this one's, scrubbed, plus `extra` (given on purpose).

    Dropped: every secret-named variable (passwords, tokens, `*_KEY`: the config,
    signing and verifier keys), every webhook variable, and every variable holding
    another secret's value (a copy under a harmless name, a password registered
    at run time). Kept with the secret cut out: URLs lose their userinfo
    (`redis://:pw@host` → `redis://host`) and their `password=`/`token=`-style
    query parameters.
    `extra` is added unchanged: a caller that hands a child a secret names it
    there and says why (docs/secrets.md lists every child and what it gets).
    """
    env = os.environ if env is None else env
    known = [s for s in (*env_secrets(env), *registered_secrets()) if len(s) >= _MIN_COPIED_SECRET]
    clean: dict[str, str] = {}
    for name, value in env.items():
        if is_secret_name(name) or is_webhook(name, value):
            continue
        if any(secret in value for secret in known):
            continue
        clean[name] = scrub_urls(value) if "://" in value else value
    clean.update(extra or {})
    return clean
