"""The smoke seam on a FakeTarget: the Gateway's URL and API key come from the target; no Gateway → NOT RUN."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from harness.drills.scenario import NOT_RUN, DrillScenario
from harness.errors import ConfigError
from harness.platform.client import ObjectNotFound
from harness.redaction import redact_text
from steps.smoke_steps import gateway_serves
from tests.fakes.target import FakeTarget

KEYS = "sk-unit-first-0123456789, sk-unit-second-0123456789"


def _auth_secret(target: FakeTarget, api_keys: str) -> None:
    target.primary._put("secrets", "sentinel", "sentinel-auth",
                        {"data": {"api-keys": base64.b64encode(api_keys.encode()).decode()}})


def _with_health_url(target: FakeTarget, url: str) -> FakeTarget:
    target.settings = target.settings.model_copy(update={"health_url": url})
    return target


def test_the_gateway_url_is_the_health_url_without_its_health_path(target: FakeTarget) -> None:
    assert target.gateway_url() == target.health_url.removesuffix("/health")
    assert _with_health_url(target, "https://sentinel.example/health").gateway_url() == "https://sentinel.example"
    assert _with_health_url(target, "http://127.0.0.1:8080/api/health/?x=1").gateway_url() == "http://127.0.0.1:8080/api"
    with pytest.raises(ConfigError, match="does not end in /health"):
        _with_health_url(target, "https://sentinel.example/status").gateway_url()


def test_the_api_key_is_the_secrets_first_and_every_key_is_redacted(target: FakeTarget) -> None:
    _auth_secret(target, KEYS)
    assert target.why_no_gateway() is None
    assert target.gateway_api_key() == "sk-unit-first-0123456789"
    assert redact_text("first sk-unit-first-0123456789 second sk-unit-second-0123456789") == "first *** second ***"


def test_a_missing_secret_or_key_is_named_without_a_value(target: FakeTarget) -> None:
    with pytest.raises(ObjectNotFound, match="sentinel-auth"):
        target.gateway_api_key()
    _auth_secret(target, " , ")
    with pytest.raises(ConfigError, match="holds no key"):
        target.gateway_api_key()


class NoGatewayTarget(FakeTarget):
    def why_no_gateway(self) -> str | None:
        return "kwok pods never run: no Gateway serves requests"


def test_a_target_without_a_gateway_records_not_run_and_skips(target: FakeTarget,
                                                             new_drill: Callable[[FakeTarget], DrillScenario]) -> None:
    no_gateway = NoGatewayTarget(target.settings, primary=target.primary, dr=target.dr, brain_replicas=1)
    drill = new_drill(no_gateway)
    with pytest.raises(pytest.skip.Exception, match="no Gateway serves requests"):
        gateway_serves(drill, no_gateway)
    assert drill.record.details[NOT_RUN] == "kwok pods never run: no Gateway serves requests"
