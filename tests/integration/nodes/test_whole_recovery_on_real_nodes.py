"""Scenarios 4 and 3 on running software, last in the session (named so: scenario 3 replaces the cluster).

Scenario 4 must prove the isolation by a refused connection and get a clean namespace
serving with rotated secrets; scenario 3 must rebuild a control plane, have the
host's nodes rejoin it and restore Redis into the new cluster's volume.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from harness.sandbox import SandboxInfo


def _passed(real_drill, selection: str, reports: Path) -> dict:  # type: ignore[no-untyped-def,type-arg]
    _, results = real_drill(selection, reports)
    (record,) = results["scenarios"]
    assert record["verdict"] == "PASS"
    return record  # type: ignore[no-any-return]


def test_scenario_4_isolates_by_a_refused_connection_and_the_clean_namespace_serves(real_sandbox: SandboxInfo,
                                                                                     real_drill, tmp_path: Path) -> None:
    record = _passed(real_drill, "scenario-4", tmp_path)
    isolation = record["details"]["isolation"]
    assert isolation["connection_attempt"]["connected"] is False
    assert isolation["enforcement"].startswith("proven")
    assert record["details"]["clean_namespace"] != real_sandbox.namespace
    # the rotated Secrets are the pipeline's newest export now: a later restore cannot bring the old ones back
    assert record["details"]["config_backup_after_rotation"]["origin"] == "pipeline"
    assert record["details"]["config_backup_after_rotation"]["export_id"]
    # restored from the backup the backup CronJob's own Job wrote when asked before the fault, assessed first
    point = record["details"]["restore_point"]
    assert point["origin"] == "pipeline" and re.match(r"job sentinel[-0-9a-z]*/redis-backup-manual-", point["how"])
    assert record["details"]["redis_restore"]["backup_id"] == point["backup_id"]
    assessment = record["details"]["assessment"]
    assert assessment["compared_backup"] and assessment["keys_not_compared"] is None


def test_scenario_3_restores_into_a_new_cluster_that_the_nodes_rejoin(real_drill, tmp_path: Path) -> None:
    record = _passed(real_drill, "scenario-3", tmp_path)
    phases = [p["name"] for p in record["timeline"]["phases"]]
    assert phases[:3] == ["fault_confirmed", "infra_ready", "secrets_restored"]  # Secrets before Redis
    assert record["details"]["redis_restore"]["keys"] > 1_000
    # the backup restored is the one the backup CronJob's own Job wrote when asked before the fault, and the
    # canary's writes show its boundary: those it holds came back, later ones did not
    point, boundary = record["details"]["restore_point"], record["details"]["canary_boundary"]
    assert point["origin"] == "pipeline" and re.match(r"job sentinel[-0-9a-z]*/redis-backup-manual-", point["how"])
    assert record["details"]["redis_restore"]["backup_id"] == point["backup_id"] == boundary["backup_id"]
    assert boundary["present_before_boundary"] > 0 and boundary["absent_after_boundary"] > 0
    assert record["details"]["rpo"]["how"].startswith("observed")
    assert record["details"]["restored_keyspace"]["short"] == []
    # restored from the pipeline's export (scenario 4's, with the rotated values) and a day of audit logs
    assert record["details"]["config_export"]["drift_from_live"] == []
    assert record["details"]["config_restored"]["export_id"] == record["details"]["config_export"]["export_id"]
    assert record["details"]["audit_logs_restored"]["passed"]
    # the restored Gateway served the session written before the backup; the rate-limit counter kept its count
    smoke = record["details"]["integration_smoke"]
    assert smoke["counter_now"] == smoke["counter_seeded"] + 1 and smoke["session_served_by"]
    assert {"logs_restored", "smoke_passed"} <= set(phases)
    rto = next(m for m in record["measurements"] if m["name"] == "RTO")
    print("\nscenario 3 on real nodes:", json.dumps({  # what the closing note quotes
        "backup": {k: point.get(k) for k in ("backup_id", "origin", "how", "point_in_time")},
        "canary_boundary": {k: boundary.get(k) for k in ("backup_canary_high_water", "present_before_boundary",
                                                         "absent_after_boundary", "missing_before_boundary",
                                                         "present_after_boundary", "loss_window_s")},
        "rpo": {k: record["details"]["rpo"].get(k) for k in ("rpo_s", "how")},
        "rto_s": rto["measured_s"], "phases": {p["name"]: p["seconds"] for p in record["timeline"]["phases"]}},
        indent=1))
