"""Every drill on the sandbox, through the CLI as an SRE runs it, and the verdicts a breach earns."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from harness.platform.client import connect, namespaced
from harness.sandbox.state import SandboxPaths, load_state

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]

ALL_SCENARIOS = {"scenario-1", "scenario-2", "scenario-3", "scenario-4", "monthly", "daily", "coverage"}


def test_every_drill_passes_on_the_sandbox_and_reports_its_rto_and_rpo(all_drills):
    run, _ = all_drills

    assert run.code == 0, run.output[-3000:]
    assert set(run.verdicts().values()) == {"PASS"}, run.verdicts()
    assert len(run.verdicts()) == 11  # 7 scenarios + the 4 rows of backup coverage
    # kwok has no machine to stop and runs no Gateway: the hard zone failure and the integration smoke are
    # listed as not run, with the reason, and no verdict
    not_run = {s["name"]: s["reason"] for s in run.results["meta"]["not_run"]}
    hard = next(name for name in not_run if name.startswith("zone-a stops hard"))
    assert "kwok" in not_run.pop(hard)
    assert set(not_run) == {"A session stored through the Gateway is served back by every Gateway replica",
                            "The rate limit counts each request in Redis"}
    assert all("no Gateway serves requests" in why for why in not_run.values())
    assert "NOT RUN  zone-a stops hard" in run.output
    assert ALL_SCENARIOS <= {t for s in run.results["scenarios"] for t in s["tags"]}
    for tag in ("scenario-1", "scenario-2", "scenario-3", "scenario-4"):
        names = {m["name"] for m in run.scenario(tag)["measurements"]}
        assert "RTO" in names, (tag, names)
    scenario_3 = run.scenario("scenario-3")
    rpo = next(m for m in scenario_3["measurements"] if m["name"] == "RPO")
    parts, boundary = scenario_3["details"]["rpo"], scenario_3["details"]["canary_boundary"]
    point = scenario_3["details"]["restore_point"]
    # the backup restored is the one the pipeline wrote when asked before the fault, and the RPO is observed at
    # the boundary it draws through the canary's writes
    assert point["origin"] == "pipeline" and point["requested"] is True
    assert scenario_3["details"]["redis_restore"]["backup_id"] == point["backup_id"] == parts["backup_id"] \
        == boundary["backup_id"]
    assert parts["how"].startswith("observed") and boundary["origin"] == "pipeline"
    assert boundary["present_before_boundary"] > 0 and boundary["absent_after_boundary"] > 0
    assert boundary["missing_before_boundary"] == [] and boundary["present_after_boundary"] == []
    assert rpo["measured_s"] == pytest.approx(boundary["loss_window_s"], abs=0.01)
    assert 0 < rpo["measured_s"] < 3600
    assert scenario_3["details"]["restored_keyspace"]["short"] == []
    gap = next(m for m in scenario_3["measurements"] if m["name"] == "worst backup gap (48 h)")
    assert gap["ended_at"] <= parts["fault_injected_at"] and parts["worst_gap_48h"]["seconds"] == gap["measured_s"]
    coverage = [s["details"]["coverage"] for s in run.results["scenarios"] if "coverage" in s["tags"]]
    assert [c["component"] for c in coverage] == ["Redis", "Configuration", "Logs", "Prometheus"]
    assert all(c["verdict"] == "PASS" and not c["problems"] for c in coverage)
    # scenario 3 restored the pipeline's configuration export and a day of audit logs; scenario 4 re-exported
    assert scenario_3["details"]["config_restored"]["export_id"] == scenario_3["details"]["config_export"]["export_id"]
    assert scenario_3["details"]["audit_logs_restored"]["passed"] and scenario_3["details"]["audit_logs_restored"]["files"]
    assert {"secrets_restored", "logs_restored"} <= {e["name"] for e in scenario_3["timeline"]["events"]}
    assert run.scenario("scenario-4")["details"]["config_backup_after_rotation"]["export_id"]
    scenario_4 = run.scenario("scenario-4")
    assert scenario_4["details"]["restore_point"]["origin"] == "pipeline"
    assert scenario_4["details"]["redis_restore"]["backup_id"] == scenario_4["details"]["restore_point"]["backup_id"]
    monthly_backup = next(s for s in run.results["scenarios"] if s["tags"] == ["monthly"])
    for scenario in (scenario_3, scenario_4, monthly_backup):
        assert scenario["details"]["pipeline_backup"]["id"], scenario["name"]
    assert re.search(r"RTO\s+measured\s+\d+\.\d+s", run.output)
    assert re.search(r"RPO\s+measured\s+\d+\.\d+s", run.output)
    results = [json.loads(p.read_text()) for p in run.allure_dir.glob("*-result.json")]
    measured = {p["name"] for r in results for p in r.get("parameters", [])}
    assert {"measured RTO (s)", "measured RPO (s)"} <= measured, measured
    assert all(r.get("attachments") for r in results if r["status"] != "skipped")


def test_scenario_3_fails_and_names_an_rto_breach(run_drill):
    run = run_drill("scenario-3", DRILL_RTO_SECONDS="1")

    assert run.code == 1
    scenario = run.scenario("scenario-3")
    assert scenario["verdict"] == "FAIL"
    assert re.search(r"RTO measured \d+\.\d+s vs target 1s: BREACHED by \d+\.\d+s", scenario["reason"])
    assert "BREACHED" in run.output
    # every CI reads the same verdict from reports/junit.xml: scenario 3 is a failed test naming the breach
    suite = ET.parse(run.allure_dir.parent / "junit.xml").getroot()
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    not_run = {s["name"] for s in run.results["meta"].get("not_run", [])}
    assert set(cases) == set(run.verdicts()) | not_run
    failure = cases[scenario["name"]].find("failure")
    assert failure is not None and failure.get("type") == "FAIL"
    assert re.search(r"RTO measured \d+\.\d+s vs target 1s: BREACHED by \d+\.\d+s", failure.get("message", ""))


def test_an_rpo_target_of_zero_refuses_scenario_3_before_any_fault(run_drill):
    run = run_drill("scenario-3", DRILL_RPO_SECONDS="0")

    assert run.code == 1
    scenario = run.scenario("scenario-3")
    assert scenario["verdict"] == "FAIL"
    assert re.search(r"PipelineBackupUnfit: .* older than the RPO target 0s", scenario["reason"])
    assert "fault_injected" not in {e["name"] for e in scenario["timeline"]["events"]}


def test_an_experiment_whose_label_matches_nothing_is_invalid_not_passed(run_drill):
    run = run_drill("scenario-1", "-k", "half", DRILL_BRAIN_SELECTOR="app=no-such-pods")

    assert run.code == 1
    assert run.verdicts() == {"Brain loses half of its pods": "INVALID"}
    # the experiment's own verdict counts: its fault action failed, so nothing was proven
    assert "fault action terminate-brain-pods ended failed" in run.scenario("scenario-1")["reason"]


def test_a_bad_target_setting_exits_2_with_one_line(run_drill):
    run = run_drill("monthly", DRILL_RTO_SECONDS="soon")

    assert run.code == 2
    assert run.output.strip().count("\n") == 0, run.output
    assert "rto_seconds" in run.output


def test_scenario_4_names_a_changed_image_tag_and_stops_a_clean_deploy_it_cannot_prove_known_good(
        run_drill, drill_sandbox):
    info = load_state(SandboxPaths(drill_sandbox.state_dir))
    assert info is not None
    cluster = connect(info.kubeconfig, info.context)
    # the Gateway's (a changed Brain would start a rollout, and the scenario needs a healthy Brain to begin)
    gateway = namespaced("apps/v1", "deployments", info.namespace, "sentinel-gateway")
    image = cluster.get(gateway)["spec"]["template"]["spec"]["containers"][0]["image"]
    cluster.request("PATCH", gateway, content_type="application/merge-patch+json", body={"spec": {"template": {
        "spec": {"containers": [{"name": "gateway", "image": f"{image}-changed"}]}}}})
    known_good = json.dumps({"ghcr.io/sentinel-platform/sentinel-brain:2.4.1": "sha256:" + "0" * 64})

    run = run_drill("scenario-4", DRILL_KNOWN_GOOD_IMAGES=known_good)

    assert run.code == 1
    scenario = run.scenario("scenario-4")
    assert scenario["verdict"] == "FAIL"
    changed = scenario["details"]["assessment"]["changed_images"]
    assert f"Deployment/sentinel-gateway gateway: runs {image}-changed, the clean deploy {image}" in changed
    # "changed" since the newest configuration export, or "created" after it where an earlier scenario 4 of this
    # sandbox left a clean namespace younger than that export
    assert any(o.startswith(("Deployment/sentinel-gateway: changed", "Deployment/sentinel-gateway: created"))
               for o in scenario["details"]["assessment"]["changed_objects"])
    assert "the clean deploy stopped: " in scenario["reason"]
    assert "ghcr.io/sentinel-platform/sentinel-brain:2.4.1: its digest cannot be resolved" in scenario["reason"]
    assert "ghcr.io/sentinel-platform/sentinel-gateway:2.4.1 (digest unknown) has no known-good digest" \
        in scenario["reason"]
    assert "infra_ready" not in {e["name"] for e in scenario["timeline"]["events"]}
