"""k8s:// Redis URLs: the accepted forms, the local URL the rest of the harness sees, and the RBAC they add."""

from __future__ import annotations

import pytest

from harness.config import load_settings
from harness.doctor.permissions import PIPELINE_BACKUP_JOB, PORT_FORWARD, SCENARIO_NEEDS, Need, scenario_needs
from harness.errors import ConfigError
from harness.platform.port_forward import K8sRedisAddress, forwarded_redis, local_url, parse_k8s_url


@pytest.mark.parametrize(("url", "expected"), [
    ("k8s://sentinel/redis:6379", K8sRedisAddress("sentinel", "either", "redis", 6379)),
    ("k8s://sentinel/svc/redis:6379", K8sRedisAddress("sentinel", "service", "redis", 6379)),
    ("k8s://sentinel/service/redis:6379/2", K8sRedisAddress("sentinel", "service", "redis", 6379, 2)),
    ("k8s://sentinel/pod/redis-0:6380", K8sRedisAddress("sentinel", "pod", "redis-0", 6380)),
    ("k8s://drill@sentinel-dr/redis:6379", K8sRedisAddress("sentinel-dr", "either", "redis", 6379, 0, "drill")),
])
def test_the_accepted_forms(url: str, expected: K8sRedisAddress) -> None:
    assert parse_k8s_url(url) == expected


@pytest.mark.parametrize("url", [
    "k8s://sentinel/redis", "k8s:///redis:6379", "k8s://sentinel:6379/redis", "k8s://sentinel/deploy/redis:6379",
    "k8s://sentinel/redis:0", "k8s://sentinel/Redis:6379", "k8s://sentinel/redis:6379/x", "redis://sentinel/redis:1",
])
def test_other_forms_are_a_config_error_naming_the_form(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_k8s_url(url)
    assert "k8s://" in caught.value.one_line()


def test_the_harness_sees_a_loopback_redis_url_without_the_password() -> None:
    assert local_url("k8s://sentinel/redis:6379/3", 41234) == "redis://127.0.0.1:41234/3"
    assert local_url("k8s://drill:secret@sentinel/redis:6379", 5) == "redis://drill@127.0.0.1:5/0"


def test_other_urls_pass_through_without_touching_a_cluster() -> None:
    def no_cluster() -> object:
        raise AssertionError("a redis:// URL must not need a cluster")

    with forwarded_redis("redis://127.0.0.1:6379/0", no_cluster) as url:  # type: ignore[arg-type]
        assert url == "redis://127.0.0.1:6379/0"


def test_settings_accept_k8s_urls_and_keep_their_password_apart() -> None:
    settings = load_settings(env={"DRILL_REDIS_URL": "k8s://:s3cret@sentinel/svc/redis:6379"})
    assert settings.redis_url == "k8s://sentinel/svc/redis:6379"
    assert settings.redis_password is not None and settings.redis_password.get_secret_value() == "s3cret"
    with pytest.raises(ConfigError, match="redis_url"):
        load_settings(env={"DRILL_REDIS_URL": "k8s://sentinel/redis"})


def test_pods_portforward_is_needed_only_where_the_redis_url_is_k8s() -> None:
    forward = Need("", "pods", "portforward", "create", "namespace")
    dr_forward = Need("", "pods", "portforward", "create", "dr_namespace")
    plain = load_settings(env={"DRILL_REDIS_URL": "redis://127.0.0.1:6379/0"})
    as_is = load_settings(env={"DRILL_REDIS_URL": "redis://127.0.0.1:6379/0", "DRILL_REQUEST_PIPELINE_BACKUP": "false"})
    assert scenario_needs("scenario-3", as_is) == SCENARIO_NEEDS["scenario-3"]
    assert scenario_needs("scenario-3", plain) == tuple(sorted({*SCENARIO_NEEDS["scenario-3"], *PIPELINE_BACKUP_JOB}))
    forwarded = load_settings(env={"DRILL_REDIS_URL": "k8s://sentinel/redis:6379",
                                   "DRILL_DR_REDIS_URL": "k8s://sentinel-dr/redis:6379"})
    assert forward in scenario_needs("scenario-1", forwarded)
    assert dr_forward not in scenario_needs("scenario-1", forwarded)
    assert {forward, dr_forward} <= set(scenario_needs("scenario-4", forwarded))
    assert set(PORT_FORWARD["namespace"]) == {forward, Need("", "pods", "portforward", "get", "namespace")}
