"""The runbook's "Run integration tests" after a restore: the Gateway serves what Redis held before the backup.

Before the backup, `seed_through_gateway` stores a session through the Gateway
and makes a few rate-limited requests; after the restore, `check_after_restore`
reads that session back and makes one more request, whose X-RateLimit-Remaining
proves the counter was restored rather than restarted (the Gateway's window
starts at a key's first request, so a restore cannot be mistaken for a new
window). The features' smoke scenarios use the same calls against the target
as it stands. The API key travels only in the X-API-Key header: never in a
message, a record or Redis (the Gateway keys its counter by a digest).
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from harness.errors import CheckFailed
from harness.platform.pods import list_pods
from harness.redaction import register_secret
from harness.target.base import Target

GATEWAY_SELECTOR = "app=sentinel-gateway"
TIMEOUT_S = 5.0


@dataclass(frozen=True)
class GatewayAnswer:
    """One answer of the Gateway: status, JSON body and the headers the smoke test reads."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]

    def header_int(self, name: str) -> int | None:
        value = self.headers.get(name.lower())
        return int(value) if value is not None and value.lstrip("-").isdigit() else None

    @property
    def limit(self) -> int | None:
        return self.header_int("X-RateLimit-Limit")

    @property
    def remaining(self) -> int | None:
        return self.header_int("X-RateLimit-Remaining")

    @property
    def counted(self) -> int | None:
        """The key's counter after this request (limit − remaining), when the Gateway said both."""
        return None if self.limit is None or self.remaining is None else self.limit - self.remaining

    @property
    def served_by(self) -> str:
        return self.headers.get("x-served-by", "?")


def call_gateway(base_url: str, api_key: str, method: str, path: str, *, body: Any = None) -> GatewayAnswer:
    """One request to the Gateway with the API key; any HTTP status is an answer, no answer is CheckFailed."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url.rstrip("/") + path, data=data, method=method,
                                     headers={"X-API-Key": api_key, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
            status, raw, headers = answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as exc:
        status, raw, headers = exc.code, exc.read(), exc.headers
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        shown = path if path.count("/") < 2 else path.rsplit("/", 1)[0] + "/…"  # a session token is a credential
        raise CheckFailed(f"the Gateway at {base_url} did not answer {method} {shown}: {reason}",
                          fix="check that the Gateway's pods run and its Service reaches them") from None
    try:
        parsed = json.loads(raw or b"{}")
    except ValueError:
        parsed = {"text": raw[:200].decode("utf-8", "replace")}
    return GatewayAnswer(status, parsed if isinstance(parsed, dict) else {"value": parsed},
                         {k.lower(): v for k, v in headers.items()})


@dataclass(frozen=True)
class SmokeSeed:
    """What was written through the Gateway before the backup (no API key in it)."""

    token: str = field(repr=False)
    user: str
    counter: int

    @property
    def session(self) -> str:
        """The session's key as messages name it (the token shortened: it is a credential)."""
        return f"session:{self.token[:6]}… (user {self.user})"


@dataclass(frozen=True)
class SmokeResult:
    """What the restored Gateway served: the session's user and the counter before and after one request."""

    user: str
    counter_seeded: int
    counter_now: int
    limit: int
    served_by: str


def new_user() -> str:
    return f"drill-smoke-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def create_session(base_url: str, api_key: str, user: str) -> tuple[str, GatewayAnswer]:
    """POST /session for `user`; the token (registered for redaction) and the answer. CheckFailed unless 201."""
    answer = call_gateway(base_url, api_key, "POST", "/session", body={"user": user})
    token = answer.body.get("token")
    if answer.status != 201 or not isinstance(token, str):
        raise CheckFailed(f"the Gateway at {base_url} did not create a session for {user}: answered {answer.status} "
                          f"{answer.body}", fix="check the Gateway's log and that Redis accepts writes")
    register_secret(token)
    return token, answer


def read_session(base_url: str, api_key: str, token: str) -> GatewayAnswer:
    return call_gateway(base_url, api_key, "GET", f"/session/{token}")


def seed_through_gateway(base_url: str, api_key: str, *, requests: int = 5) -> SmokeSeed:
    """Create a session, then read it `requests` times (each counted by the rate limit); what to check later.

    Raises CheckFailed when the Gateway does not store the session, does not serve it
    back, or does not count each request.
    """
    user = new_user()
    token, answer = create_session(base_url, api_key, user)
    seed = SmokeSeed(token, user, 0)
    counts = [answer.counted]
    for _ in range(requests):
        answer = read_session(base_url, api_key, token)
        _require_session(answer, seed, base_url, when="just after creating it")
        counts.append(answer.counted)
    if None in counts or counts != list(range(counts[0] or 0, (counts[0] or 0) + requests + 1)):
        raise CheckFailed(f"the Gateway at {base_url} did not count each request: counters {counts}",
                          fix="check the Gateway's rate limit (X-RateLimit-* headers) and Redis")
    return SmokeSeed(token, user, int(counts[-1] or 0))


def _require_session(answer: GatewayAnswer, seed: SmokeSeed, base_url: str, *, when: str) -> None:
    problem = session_problem(answer, seed)
    if problem:
        raise CheckFailed(f"the Gateway at {base_url} {when}: {problem}",
                          fix="check the Gateway's log and that Redis holds the session key")


def session_problem(answer: GatewayAnswer, seed: SmokeSeed) -> str | None:
    """Why `answer` is not the seeded session, or None when it is."""
    if answer.status != 200:
        return f"{seed.session} answered {answer.status} {answer.body.get('error', '')}".rstrip()
    user = (answer.body.get("session") or {}).get("user")
    if user != seed.user:
        return f"{seed.session} came back with user {user!r}"
    return None


def check_after_restore(base_url: str, api_key: str, seed: SmokeSeed) -> SmokeResult:
    """Read the seeded session (one more request) and prove the rate-limit counter survived the restore.

    The read must answer 200 with the seeded user, and its X-RateLimit-Remaining must be
    limit − (seed.counter + 1). Raises CheckFailed naming every part that failed.
    """
    answer = read_session(base_url, api_key, seed.token)
    problems = [p for p in (session_problem(answer, seed),) if p]
    limit, counted = answer.limit, answer.counted
    if limit is None or counted is None:
        problems.append(f"the answer had no X-RateLimit headers (status {answer.status})")
    elif counted != seed.counter + 1:
        expected = limit - (seed.counter + 1)
        restarted = " (the counter restarted: it was not restored)" if counted < seed.counter + 1 else ""
        problems.append(f"rate-limit counter: X-RateLimit-Remaining {answer.remaining}, expected {expected} "
                        f"(limit {limit} − ({seed.counter} seeded + 1)){restarted}")
    if problems:
        raise CheckFailed(f"the restored Gateway at {base_url} lost what was written before the backup: "
                          + "; ".join(problems),
                          fix="check that Redis was restored from a backup taken after the seed, and that "
                              "RATE_LIMIT_WINDOW_SECONDS outlives the backup → restore")
    return SmokeResult(seed.user, seed.counter, int(counted or 0), int(limit or 0), answer.served_by)


@dataclass(frozen=True)
class Gateway:
    """Where the target's Gateway answers and the API key to present (never printed)."""

    base_url: str
    api_key: str = field(repr=False)

    @classmethod
    def of(cls, target: Target) -> Gateway:
        return cls(target.gateway_url(), target.gateway_api_key())


@dataclass(frozen=True)
class SessionReads:
    """A session read back repeatedly: who it was for, every answer's problem (None = ok), who served each."""

    user: str
    problems: tuple[str | None, ...]
    served_by: frozenset[str]
    replicas: frozenset[str]


def serving_replicas(target: Target) -> frozenset[str]:
    """The Gateway pods a Service routes to now (their names are the host names they answer with)."""
    pods = list_pods(target.cluster(), namespace=target.namespace, selector=GATEWAY_SELECTOR)
    return frozenset(p.name for p in pods if p.serving)


def read_from_every_replica(target: Target, gateway: Gateway, seed: SmokeSeed, *, min_reads: int = 5,
                            max_reads: int = 40) -> SessionReads:
    """Read the session over new connections until every serving Gateway replica answered (or `max_reads`)."""
    replicas = serving_replicas(target)
    problems: list[str | None] = []
    served: set[str] = set()
    while len(problems) < max_reads and (len(problems) < min_reads or not replicas <= served):
        answer = read_session(gateway.base_url, gateway.api_key, seed.token)
        problems.append(session_problem(answer, seed))
        served.add(answer.served_by)
    return SessionReads(seed.user, tuple(problems), frozenset(served), replicas)


def require_every_read_served(reads: SessionReads) -> None:
    failed = [p for p in reads.problems if p]
    if failed:
        raise CheckFailed(f"{len(failed)} of {len(reads.problems)} reads of the session for {reads.user} failed: "
                          f"{failed[0]}", fix="check every Gateway replica's log and Redis")


def require_every_replica_served(reads: SessionReads) -> None:
    missing = sorted(reads.replicas - reads.served_by)
    if missing or not reads.replicas:
        raise CheckFailed(f"Gateway replicas {missing or '(none serving)'} never served the session in "
                          f"{len(reads.problems)} reads (served by {sorted(reads.served_by)})",
                          fix="check the Gateway Service's endpoints and those pods' readiness")


def count_requests(gateway: Gateway, seed: SmokeSeed, *, requests: int) -> list[int | None]:
    """Make `requests` rate-limited requests (session reads); X-RateLimit-Remaining after each."""
    return [read_session(gateway.base_url, gateway.api_key, seed.token).remaining for _ in range(requests)]


def require_counted_each(remaining: list[int | None]) -> None:
    expected = [remaining[0] - i for i in range(len(remaining))] if remaining and remaining[0] is not None else []
    if not expected or remaining != expected:
        raise CheckFailed(f"X-RateLimit-Remaining went {remaining}, expected one less per request ({expected})",
                          fix="check the Gateway's rate limit: INCR of ratelimit:<key digest> in Redis")
