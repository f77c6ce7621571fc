"""On a real target scenario 3 restores next to production: it needs a full DR environment and never
points production's DNS record anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.config import load_settings
from harness.errors import ConfigError
from harness.platform.redis_volume import HELPER_IMAGE
from harness.polling import WaitTimedOut
from harness.restore.network_plane import NetworkPlane
from harness.restore.volume_plane import KubernetesVolumePlane
from harness.target.cluster import ClusterTarget, dr_settings

PRODUCTION = {
    "DRILL_TARGET": "production", "DRILL_CONTEXT": "prod", "DRILL_NAMESPACE": "sentinel",
    "DRILL_REDIS_URL": "redis://redis.prod:6379/0", "DRILL_HEALTH_URL": "https://sentinel.example.com/health",
    "DRILL_DNS_RECORD_NAME": "sentinel.example.com",
}
DR = {"DRILL_DR_CONTEXT": "dr", "DRILL_DR_NAMESPACE": "sentinel-dr", "DRILL_DR_REDIS_URL": "redis://redis.dr:6379/0",
      "DRILL_DR_HEALTH_URL": "https://dr.example.com/health", "DRILL_DR_DNS_RECORD_NAME": "dr-drill.example.com"}


def test_without_a_dr_environment_the_loss_is_refused_naming_what_is_missing():
    target = ClusterTarget(load_settings(env=PRODUCTION))
    with pytest.raises(ConfigError, match="dr_context, dr_redis_url, dr_health_url, dr_dns_record_name unset"):
        target.lose_primary()


def test_the_dr_coordinates_replace_every_production_one():
    s = dr_settings(load_settings(env={**PRODUCTION, **DR}), purpose="scenario 3")
    assert (s.context, s.namespace, s.redis_url, s.health_url, s.dns_record_name) == (
        "dr", "sentinel-dr", "redis://redis.dr:6379/0", "https://dr.example.com/health", "dr-drill.example.com")


def _in_dr(target: ClusterTarget) -> ClusterTarget:
    """The target as the loss leaves it (the distinctness proof needs live servers: tested on the sandbox)."""
    target.settings = dr_settings(target.production, purpose="test")
    return target


@pytest.mark.parametrize("spelling", ["sentinel.example.com", "Sentinel.Example.COM.", " sentinel.example.com. "])
def test_a_config_naming_productions_record_as_the_drills_does_not_load(spelling: str):
    with pytest.raises(ConfigError, match="production's record"):
        load_settings(env={**PRODUCTION, **DR, "DRILL_DR_DNS_RECORD_NAME": spelling})


@pytest.mark.parametrize("spelling", ["sentinel.example.com", "SENTINEL.example.com.", "sentinel.example.com.\n"])
def test_the_drill_never_takes_productions_dns_record_however_it_is_spelt(spelling: str):
    settings = load_settings(env={**PRODUCTION, **DR})
    target = ClusterTarget(settings.model_copy(update={"dr_dns_record_name": spelling}))
    with pytest.raises(ConfigError, match="production's record"):
        target.lose_primary()


def _kubeconfig(tmp_path: Path) -> Path:
    """A kubeconfig naming contexts prod and dr (nothing is sent to their servers)."""
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "prod",
        "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"token": "t0ken"}}],
        "contexts": [{"name": n, "context": {"cluster": "c", "user": "u"}} for n in ("prod", "dr")],
    }))
    return path


def test_a_file_restore_copies_into_the_dr_environments_volume_whatever_its_redis_url(tmp_path: Path):
    env = {**PRODUCTION, **DR, "DRILL_KUBECONFIG": str(_kubeconfig(tmp_path)),
           "DRILL_DR_REDIS_URL": "redis://127.0.0.1:6379/0"}  # a local URL no longer means "the sandbox"
    target = _in_dr(ClusterTarget(load_settings(env=env)))
    plane = target.restore_plane()
    assert isinstance(plane, KubernetesVolumePlane) and plane.namespace == "sentinel-dr"
    assert "sentinel-dr/redis" in plane.describe()


def test_a_network_restore_streams_into_the_dr_redis():
    target = _in_dr(ClusterTarget(load_settings(env={**PRODUCTION, **DR, "DRILL_REDIS_RESTORE_METHOD": "network",
                                                     "DRILL_STORE_URL": "file:///tmp/none"})))
    plane = target.restore_plane()
    assert isinstance(plane, NetworkPlane) and plane.url == "redis://redis.dr:6379/0"


def test_the_file_restores_helper_pod_runs_the_configured_image_and_pull_policy(tmp_path: Path):
    """Nodes that cannot pull (air-gapped, or the real-node sandbox) get a local image, never pulled."""
    env = {**PRODUCTION, **DR, "DRILL_KUBECONFIG": str(_kubeconfig(tmp_path)),
           "DRILL_RESTORE_HELPER_IMAGE": "registry.internal/redis:7", "DRILL_RESTORE_HELPER_PULL_POLICY": "Never"}
    plane = _in_dr(ClusterTarget(load_settings(env=env))).restore_plane()
    assert isinstance(plane, KubernetesVolumePlane)
    assert (plane.ops.helper_image, plane.ops.helper_pull_policy) == ("registry.internal/redis:7", "Never")


def test_by_default_the_helper_pod_runs_the_image_a_real_cluster_pulls(tmp_path: Path):
    env = {**PRODUCTION, **DR, "DRILL_KUBECONFIG": str(_kubeconfig(tmp_path))}
    plane = _in_dr(ClusterTarget(load_settings(env=env))).restore_plane()
    assert isinstance(plane, KubernetesVolumePlane)
    assert (plane.ops.helper_image, plane.ops.helper_pull_policy) == (HELPER_IMAGE, "IfNotPresent")


def test_an_unknown_pull_policy_does_not_load():
    with pytest.raises(ConfigError, match="restore_helper_pull_policy"):
        load_settings(env={**PRODUCTION, **DR, "DRILL_RESTORE_HELPER_PULL_POLICY": "Sometimes"})


@pytest.mark.parametrize("dr_redis_url", ["redis://redis.dr:6379/0", "k8s://sentinel/redis:6379"])
def test_only_a_k8s_redis_in_the_dr_namespace_can_be_absent_until_the_clean_deploy(dr_redis_url: str):
    """A DR Redis elsewhere (a host, another namespace) must answer: its absence is never counted as empty.
    (Nothing is asked of a cluster: these are decided by the URL alone.)"""
    target = _in_dr(ClusterTarget(load_settings(env={**PRODUCTION, **DR, "DRILL_DR_REDIS_URL": dr_redis_url})))
    assert target.redis_absence() is None


def test_a_k8s_redis_not_ready_yet_is_waited_for_not_failed_at_once(tmp_path: Path):
    """Waiting for the DR stack's Redis to answer must not open its port-forward just to name it (that fails at once
    while no pod is ready): the wait runs to its deadline."""
    env = {**PRODUCTION, **DR, "DRILL_KUBECONFIG": str(_kubeconfig(tmp_path)),
           "DRILL_DR_REDIS_URL": "k8s://sentinel-dr/redis:6379"}
    target = _in_dr(ClusterTarget(load_settings(env=env)))
    with pytest.raises(WaitTimedOut, match="Redis at k8s://sentinel-dr/redis:6379 to answer DBSIZE"):
        target.redis_dbsize(timeout=0.5)
