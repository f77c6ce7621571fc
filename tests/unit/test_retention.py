"""The retention table as configuration, and every way a bucket's lifecycle can differ from it."""

from __future__ import annotations

import pytest

from harness.config import load_settings
from harness.errors import ConfigError
from harness.retention import RUNBOOK_RETENTION, RetentionPolicy, lifecycle_rules, retention_mismatches


def test_the_runbooks_rules_match_the_runbooks_table():
    rules = lifecycle_rules(RUNBOOK_RETENTION)
    assert [r["Filter"]["Prefix"] for r in rules] == ["logs/audit/", "logs/application/", "logs/access/"]
    assert rules[0]["Transitions"] == [{"Days": 90, "StorageClass": "GLACIER"}]
    assert rules[0]["Expiration"] == {"Days": 2555}
    assert retention_mismatches(rules, RUNBOOK_RETENTION) == []


def test_audit_expiring_after_30_days_names_both_values():
    rules = lifecycle_rules(RUNBOOK_RETENTION)
    rules[0]["Expiration"] = {"Days": 30}
    (found,) = retention_mismatches(rules, RUNBOOK_RETENTION)
    assert found.describe() == "audit logs: expiration expected 2555 days (7 years), actual 30 days"


def test_a_missing_or_disabled_rule_and_a_wrong_storage_class_are_named():
    rules = lifecycle_rules(RUNBOOK_RETENTION)
    rules[1]["Status"] = "Disabled"
    rules[2]["Transitions"] = [{"Days": 7, "StorageClass": "STANDARD_IA"}]
    found = [m.describe() for m in retention_mismatches(rules[1:], RUNBOOK_RETENTION)]
    assert found == [
        ("audit logs: lifecycle rule for logs/audit/ expected transition to GLACIER at 90 days, expiration at "
        "2555 days (7 years), actual no enabled rule"),
        ("application logs: lifecycle rule for logs/application/ expected transition to GLACIER at 30 days, "
        "expiration at 365 days (1 year), actual no enabled rule"),
        "access logs: transition to Glacier expected 7 days, actual none",
    ]


def test_a_bucket_wide_rule_covers_every_type_and_a_store_prefix_is_honoured():
    rules = lifecycle_rules({"audit": RUNBOOK_RETENTION["audit"]}, store_prefix="sentinel/")
    assert rules[0]["Filter"]["Prefix"] == "sentinel/logs/audit/"
    assert retention_mismatches(rules, {"audit": RUNBOOK_RETENTION["audit"]}, store_prefix="sentinel/") == []
    wide = [dict(rules[0], Filter={})]
    assert retention_mismatches(wide, {"audit": RUNBOOK_RETENTION["audit"]}) == []


def test_the_table_is_configuration_and_nonsense_is_refused(tmp_path):
    config = tmp_path / "drill.yaml"
    config.write_text("log_retention:\n  audit: {hot_days: 7, warm_days: 90, cold_days: 3650}\n")
    assert load_settings(config, env={}).log_retention == {"audit": RetentionPolicy(hot_days=7, warm_days=90,
                                                                                    cold_days=3650)}
    config.write_text("log_retention:\n  debug: {hot_days: 1, warm_days: 2, cold_days: 3}\n")
    with pytest.raises(ConfigError, match="log_retention"):
        load_settings(config, env={})
    config.write_text("log_retention:\n  audit: {hot_days: 1, warm_days: 90, cold_days: 30}\n")
    with pytest.raises(ConfigError, match="log_retention"):
        load_settings(config, env={})
