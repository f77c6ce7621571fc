"""The runbook's log retention table, as configuration, and the S3 lifecycle rules that enforce it.

Retention Policy (runbook "Log Archival"): Hot (local) · Warm (S3) · Cold
(Glacier). Read as object ages in the bucket: an archive stays in S3 Standard
for `warm_days`, then moves to Glacier, and expires when it is `cold_days` old
(7 years = 2555 days: audit logs are kept that long in all). The hot period is
the log shipper's local disk; nothing in the bucket can show it, so it is
reported as not checkable here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

LOG_TYPES = ("audit", "application", "access")
GLACIER_CLASSES = ("GLACIER", "DEEP_ARCHIVE", "GLACIER_IR")
RULE_ID_PREFIX = "sentinel-logs-"


class RetentionPolicy(BaseModel):
    """One row of the retention table, in days."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hot_days: int = Field(ge=0, description="on the log shipper's disk (not in the bucket)")
    warm_days: int = Field(ge=0, description="in S3 Standard before the transition to Glacier")
    cold_days: int = Field(ge=1, description="age at which the archive expires")

    @model_validator(mode="after")
    def _ordered(self) -> RetentionPolicy:
        if self.cold_days <= self.warm_days:
            raise ValueError("cold_days (expiration) must be later than warm_days (transition to Glacier)")
        return self


#: the runbook's table: audit 7 d / 90 d / 7 y, application 3 d / 30 d / 1 y, access 1 d / 7 d / 90 d
RUNBOOK_RETENTION: dict[str, RetentionPolicy] = {
    "audit": RetentionPolicy(hot_days=7, warm_days=90, cold_days=7 * 365),
    "application": RetentionPolicy(hot_days=3, warm_days=30, cold_days=365),
    "access": RetentionPolicy(hot_days=1, warm_days=7, cold_days=90),
}


def log_prefix(log_type: str, *, store_prefix: str = "") -> str:
    """Where a type's daily archives live in the bucket (what its lifecycle rule filters on)."""
    return f"{store_prefix}logs/{log_type}/"


def lifecycle_rules(table: Mapping[str, RetentionPolicy], *, store_prefix: str = "") -> list[dict[str, Any]]:
    """S3 lifecycle rules, one per log type: Glacier at `warm_days`, expiration at `cold_days`."""
    return [{
        "ID": f"{RULE_ID_PREFIX}{log_type}",
        "Filter": {"Prefix": log_prefix(log_type, store_prefix=store_prefix)},
        "Status": "Enabled",
        "Transitions": [{"Days": policy.warm_days, "StorageClass": "GLACIER"}],
        "Expiration": {"Days": policy.cold_days},
    } for log_type, policy in table.items()]


@dataclass(frozen=True)
class RetentionMismatch:
    """One way the bucket's lifecycle differs from the table: what, the expected and the actual value."""

    log_type: str
    what: str
    expected: str
    actual: str

    def describe(self) -> str:
        return f"{self.log_type} logs: {self.what} expected {self.expected}, actual {self.actual}"

    def to_json(self) -> dict[str, str]:
        return {"log_type": self.log_type, "what": self.what, "expected": self.expected, "actual": self.actual}


def _rule_prefix(rule: Mapping[str, Any]) -> str | None:
    flt = rule.get("Filter")
    if isinstance(flt, Mapping):
        if "Prefix" in flt:
            return str(flt["Prefix"])
        if isinstance(flt.get("And"), Mapping) and "Prefix" in flt["And"]:
            return str(flt["And"]["Prefix"])
        return "" if not flt else None  # an empty filter covers the whole bucket
    return str(rule["Prefix"]) if "Prefix" in rule else None


def _covering_rules(rules: Sequence[Mapping[str, Any]], prefix: str) -> list[Mapping[str, Any]]:
    """Enabled rules whose prefix covers every key under `prefix`, the most specific first."""
    found = [r for r in rules if r.get("Status") == "Enabled" and (p := _rule_prefix(r)) is not None
             and prefix.startswith(p)]
    return sorted(found, key=lambda r: len(_rule_prefix(r) or ""), reverse=True)


def _days(value: int | None) -> str:
    if value is None:
        return "none"
    n = value // 365
    years = f" ({n} year{'s' if n > 1 else ''})" if value >= 365 and value % 365 == 0 else ""
    return f"{value} days{years}"


def retention_mismatches(rules: Sequence[Mapping[str, Any]], table: Mapping[str, RetentionPolicy], *,
                         store_prefix: str = "") -> list[RetentionMismatch]:
    """Every difference between the bucket's lifecycle rules and the table, per log type."""
    out: list[RetentionMismatch] = []
    for log_type, policy in table.items():
        prefix = log_prefix(log_type, store_prefix=store_prefix)
        covering = _covering_rules(rules, prefix)
        if not covering:
            out.append(RetentionMismatch(log_type, f"lifecycle rule for {prefix}",
                                         f"transition to GLACIER at {_days(policy.warm_days)}, expiration at "
                                         f"{_days(policy.cold_days)}", "no enabled rule"))
            continue
        rule = covering[0]
        glacier = [t for t in rule.get("Transitions") or [] if t.get("StorageClass") in GLACIER_CLASSES]
        actual_transition = glacier[0].get("Days") if glacier else None
        if actual_transition != policy.warm_days:
            out.append(RetentionMismatch(log_type, "transition to Glacier", _days(policy.warm_days),
                                         _days(actual_transition)))
        actual_expiry = (rule.get("Expiration") or {}).get("Days")
        if actual_expiry != policy.cold_days:
            out.append(RetentionMismatch(log_type, "expiration", _days(policy.cold_days), _days(actual_expiry)))
    return out
