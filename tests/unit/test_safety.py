"""Destructive actions: the sandbox always, anything else only allow-listed and confirmed."""

from __future__ import annotations

import pytest

from harness.config import load_settings
from harness.errors import SafetyRefused
from harness.safety import require_destructive


def test_the_sandbox_may_be_broken():
    require_destructive(load_settings(env={}), "destroy the cluster", env={})


def test_a_target_not_allow_listed_is_refused():
    settings = load_settings(env={"DRILL_TARGET": "production"})
    with pytest.raises(SafetyRefused, match="not in safety allowed_targets"):
        require_destructive(settings, "destroy the cluster", env={"DRILL_CONFIRM_DESTRUCTIVE": "production"})


def test_an_allow_listed_target_still_needs_this_runs_confirmation():
    settings = load_settings(env={"DRILL_TARGET": "staging", "DRILL_ALLOWED_TARGETS": "staging"})
    with pytest.raises(SafetyRefused) as refused:
        require_destructive(settings, "destroy the cluster", env={})
    assert "set DRILL_CONFIRM_DESTRUCTIVE=staging" in refused.value.one_line()
    require_destructive(settings, "destroy the cluster", env={"DRILL_CONFIRM_DESTRUCTIVE": "staging"})
