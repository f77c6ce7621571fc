"""Destructive actions: the sandbox always; anything else only allow-listed, confirmed and on the pinned cluster."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from harness.config import Settings, load_settings
from harness.dns import fqdn, same_record
from harness.errors import ConfigError, SafetyRefused
from harness.safety import destructive_allowed, require_destructive

SERVER = "https://10.0.0.1:6443"
UID = "8f6c1f2e-0000-4000-8000-000000000001"
CONFIRMED = {"DRILL_CONFIRM_DESTRUCTIVE": "staging"}
STAGING = {"DRILL_TARGET": "staging", "DRILL_ALLOWED_TARGETS": "staging",
           "DRILL_PINNED_API_SERVER": SERVER, "DRILL_PINNED_KUBE_SYSTEM_UID": UID}


@dataclass
class FakeCluster:
    """Answers the guard's one question (GET kube-system) and counts how often it was asked."""

    server: str = SERVER
    uid: str = UID
    gets: list[str] = field(default_factory=list)

    def get(self, path: str, *, what: str | None = None) -> dict[str, Any]:
        self.gets.append(path)
        return {"metadata": {"name": "kube-system", "uid": self.uid}}


@dataclass
class FakeTarget:
    settings: Settings
    live: FakeCluster = field(default_factory=FakeCluster)

    def cluster(self) -> FakeCluster:
        return self.live


def staging(**env: str) -> FakeTarget:
    return FakeTarget(load_settings(env={**STAGING, **env}))


def test_the_sandbox_may_be_broken_without_a_pin_or_a_cluster_question():
    target = FakeTarget(load_settings(env={}))
    require_destructive(target, "destroy the cluster", env={})
    assert target.live.gets == []


def test_a_target_not_allow_listed_is_refused():
    target = staging(DRILL_TARGET="production")
    with pytest.raises(SafetyRefused, match="not in safety allowed_targets"):
        require_destructive(target, "destroy the cluster", env={"DRILL_CONFIRM_DESTRUCTIVE": "production"})


def test_an_allow_listed_target_still_needs_this_runs_confirmation():
    target = staging()
    with pytest.raises(SafetyRefused) as refused:
        require_destructive(target, "destroy the cluster", env={})
    assert "set DRILL_CONFIRM_DESTRUCTIVE=staging" in refused.value.one_line()
    assert target.live.gets == []  # refused before anything is asked of the cluster
    require_destructive(target, "destroy the cluster", env=CONFIRMED)
    assert target.live.gets == ["/api/v1/namespaces/kube-system"]


def test_an_unpinned_target_is_refused_with_the_pin_command_as_the_fix():
    target = staging(DRILL_PINNED_API_SERVER="", DRILL_PINNED_KUBE_SYSTEM_UID="")
    with pytest.raises(SafetyRefused) as refused:
        require_destructive(target, "drain zone zone-a", env=CONFIRMED)
    assert "no cluster identity is pinned" in refused.value.message
    assert "sentinel-drill target pin" in (refused.value.fix or "")
    assert not destructive_allowed(target.settings, env=CONFIRMED)


def test_another_cluster_behind_an_allowed_name_is_refused():
    target = staging()
    target.live.uid = "another-cluster-uid"
    with pytest.raises(SafetyRefused, match="not the pinned") as refused:
        require_destructive(target, "drain zone zone-a", env=CONFIRMED)
    assert "another-cluster-uid" in refused.value.message and UID in refused.value.message


def test_the_same_uid_behind_another_api_server_is_refused():
    target = staging()
    target.live.server = "https://10.9.9.9:6443"
    with pytest.raises(SafetyRefused, match="not the pinned"):
        require_destructive(target, "drain zone zone-a", env=CONFIRMED)


def test_the_api_server_url_is_compared_normalised():
    target = staging(DRILL_PINNED_API_SERVER="HTTPS://10.0.0.1:6443/")
    require_destructive(target, "drain zone zone-a", env=CONFIRMED)


def test_the_dr_cluster_is_allowed_once_pinned_too():
    target = staging(DRILL_DR_PINNED_API_SERVER="https://dr:6443", DRILL_DR_PINNED_KUBE_SYSTEM_UID="dr-uid")
    target.live = FakeCluster(server="https://dr:6443", uid="dr-uid")
    require_destructive(target, "deploy into the DR namespace", env=CONFIRMED)


def test_an_undo_needs_no_confirmation_and_no_allow_listing():
    target = staging(DRILL_ALLOWED_TARGETS="")
    require_destructive(target, "uncordon zone zone-a", undo=True, env={})
    assert target.live.gets == ["/api/v1/namespaces/kube-system"]


def test_an_undo_on_another_cluster_is_still_refused():
    target = staging()
    target.live.uid = "another-cluster-uid"
    with pytest.raises(SafetyRefused, match="not the pinned"):
        require_destructive(target, "uncordon zone zone-a", undo=True, env=CONFIRMED)


def test_half_a_pin_does_not_load():
    with pytest.raises(ConfigError, match="must be set together") as refused:
        load_settings(env={**STAGING, "DRILL_PINNED_KUBE_SYSTEM_UID": ""})
    assert "sentinel-drill target pin" in (refused.value.fix or "")


@pytest.mark.parametrize("spelling", ["sentinel.example.com", "Sentinel.Example.com.", "  SENTINEL.EXAMPLE.COM\n"])
def test_record_names_compare_as_normalised_fqdns(spelling: str):
    assert fqdn(spelling) == "sentinel.example.com."
    assert same_record(spelling, "sentinel.example.com.")
    assert not same_record(spelling, "dr-drill.sentinel.example.com")
