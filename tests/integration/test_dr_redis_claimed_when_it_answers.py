"""The DR stack's own Redis, absent when the DR environment was proven distinct and claimed, is compared with
production's and claimed when it first answers: production's server (however reached) is refused, a Redis holding
anything is refused, an empty other one is claimed for the run. Real redis-servers."""

from __future__ import annotations

import pytest

from harness.config import load_settings
from harness.errors import DrillError, SafetyRefused
from harness.ownership import REDIS_CLAIM_KEY
from harness.safety import ClusterIdentity
from harness.target.distinct import DistinctProof, read_redis_identity, require_not_production_redis
from harness.target.recovery_environment import claim_redis

pytestmark = pytest.mark.integration

SETTINGS = {"DRILL_TARGET": "staging", "DRILL_NAMESPACE": "sentinel", "DRILL_REDIS_URL": "redis://127.0.0.1:1/0",
            "DRILL_DR_CONTEXT": "dr", "DRILL_DR_NAMESPACE": "sentinel-dr",
            "DRILL_DR_REDIS_URL": "k8s://sentinel-dr/redis:6379", "DRILL_DR_HEALTH_URL": "http://127.0.0.1:9/health",
            "DRILL_DR_DNS_RECORD_NAME": "dr-drill.example.com"}


def _proof_with_the_dr_redis_absent(production_client) -> DistinctProof:  # type: ignore[no-untyped-def]
    cluster = ClusterIdentity("https://127.0.0.1:6443", "uid-1")
    return DistinctProof(cluster, cluster, "sentinel", "sentinel-dr", read_redis_identity(production_client), None,
                         None, None)


def test_productions_redis_answering_where_the_dr_stacks_should_is_refused(redis_factory):  # type: ignore[no-untyped-def]
    production = redis_factory()
    settings = load_settings(env=SETTINGS)
    proof = _proof_with_the_dr_redis_absent(production.client())
    assert proof.to_json()["dr"]["redis"] == "absent until the clean deploy"
    with pytest.raises(SafetyRefused, match="dr_redis_url .* reaches production's Redis"):
        require_not_production_redis(proof, settings, settings, production.client())
    assert production.client().get(REDIS_CLAIM_KEY) is None


def test_an_empty_other_redis_is_claimed_and_one_holding_keys_is_not(redis_factory):  # type: ignore[no-untyped-def]
    production, dr = redis_factory(), redis_factory()
    settings = load_settings(env=SETTINGS)
    proof = _proof_with_the_dr_redis_absent(production.client())
    assert require_not_production_redis(proof, settings, settings, dr.client()).run_id != proof.production_redis.run_id
    claim_redis(dr.client(), "run-1")
    assert dr.client().get(REDIS_CLAIM_KEY) == b"run-1"
    other = redis_factory()
    other.client().set("someone:else", "1")
    with pytest.raises(DrillError, match="not empty"):
        claim_redis(other.client(), "run-1")
    assert other.client().get(REDIS_CLAIM_KEY) is None
