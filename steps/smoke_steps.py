"""Integration smoke steps: the Gateway serves sessions and counts requests from Redis (thin glue)."""

from __future__ import annotations

from pytest_bdd import given, parsers, then, when

from harness.drills import smoke
from harness.drills.scenario import DrillScenario
from harness.target.base import Target


@given("a Gateway serves requests on the target", target_fixture="gateway")
def gateway_serves(drill: DrillScenario, drill_target: Target) -> smoke.Gateway:
    drill.not_run_if(drill_target.why_no_gateway())
    return smoke.Gateway.of(drill_target)


@given("a session for a new user is stored through the Gateway", target_fixture="smoke_seed")
def session_stored(drill: DrillScenario, gateway: smoke.Gateway) -> smoke.SmokeSeed:
    seed = smoke.seed_through_gateway(gateway.base_url, gateway.api_key, requests=0)
    drill.note("smoke_user", seed.user)
    return seed


@when("the session is read back until every serving Gateway replica has answered", target_fixture="session_reads")
def read_back(drill_target: Target, gateway: smoke.Gateway, smoke_seed: smoke.SmokeSeed) -> smoke.SessionReads:
    return smoke.read_from_every_replica(drill_target, gateway, smoke_seed)


@then("every read answered 200 with the session's user")
def every_read_served(session_reads: smoke.SessionReads) -> None:
    smoke.require_every_read_served(session_reads)


@then("every serving Gateway replica served the session")
def every_replica_served(drill: DrillScenario, session_reads: smoke.SessionReads) -> None:
    drill.note("gateway_replicas", sorted(session_reads.served_by))
    smoke.require_every_replica_served(session_reads)


@when(parsers.parse("the session is read {requests:d} times with the same API key"), target_fixture="remaining")
def read_times(gateway: smoke.Gateway, smoke_seed: smoke.SmokeSeed, requests: int) -> list[int | None]:
    return smoke.count_requests(gateway, smoke_seed, requests=requests)


@then("X-RateLimit-Remaining decreased by one per request")
def counted_each(drill: DrillScenario, remaining: list[int | None]) -> None:
    drill.note("rate_limit_remaining", remaining)
    smoke.require_counted_each(remaining)
