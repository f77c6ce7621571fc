"""`drill --dry-run` names the target, the safety verdict and what every fault would hit."""

from __future__ import annotations

from harness.config import load_settings
from harness.drills.plan import SELECTION_TAGS, describe_plan, faults


def test_every_selection_plans_and_all_covers_the_four_faults():
    settings = load_settings(env={})
    for selection in SELECTION_TAGS:
        assert describe_plan(selection, settings)[0].startswith(f"drill {selection}")
    assert [f.experiment for f in faults("all", settings)] == ["pod-kill", "zone-drain", "cluster-loss", "compromise"]
    assert faults("daily", settings) == []


def test_a_production_target_shows_the_refusal_and_never_its_password():
    settings = load_settings(env={"DRILL_TARGET": "production", "DRILL_REDIS_URL": "redis://:hunter2@redis.prod:6379/0"})
    text = "\n".join(describe_plan("quarterly", settings))
    assert "faults REFUSED on 'production'" in text
    assert "production is not touched" in text
    assert "hunter2" not in text
