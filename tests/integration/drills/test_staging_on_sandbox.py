"""The real-target path, end to end: a `target: staging` config on the sandbox's control plane runs every scenario
through ClusterTarget, and scenarios 3 and 4 leave production exactly as they found it.

Scenarios 1 and 2 break production on purpose (pods killed, a zone drained), so
"unchanged" is asserted around the scenario 3 + 4 run: those restore into the
DR environment and must never write to production's namespace, Redis (canary
keys aside: the canary writer is the RPO measurement) or DNS record.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.sandbox import SandboxInfo
from harness.signing import generate_keypair
from tests.integration.drills.conftest import DrillRun
from tests.integration.drills.staging import (
    DR_NAMESPACE,
    Staging,
    dns_value,
    dump_results,
    production_state,
    start_staging,
)

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def staging(drill_sandbox: SandboxInfo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Staging]:
    """The module's own sandbox as production, plus a DR environment beside it."""
    yield from start_staging(drill_sandbox, tmp_path_factory.mktemp("staging-dr"))


def _child_env(staging: Staging, **env: str) -> dict[str, str]:
    child_env = {k: v for k, v in os.environ.items()
                 if not k.startswith(("DRILL_", "AWS_", "KUBE", "REDIS_", "DR_"))}
    child_env.update(staging.env(), **env)
    return child_env


def run_staging(staging: Staging, selection: str, reports: Path, *args: str, **env: str) -> DrillRun:
    child_env = _child_env(staging, DRILL_REPORTS_DIR=str(reports), **env)
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "drill", selection, "--results", str(reports / "allure-results"), *args],
        check=False, cwd=REPO_ROOT, env=child_env, capture_output=True, text=True, timeout=900,
    )
    import json

    results_file = reports / "drill-results.json"
    results: dict[str, Any] = json.loads(results_file.read_text()) if results_file.exists() else {}
    return DrillRun(proc.returncode, proc.stdout + proc.stderr, results, reports / "allure-results")


#: secrets a user's shell holds beside the drill's own (moto accepts any AWS credentials)
EXTRA_SECRETS = {"AWS_SECRET_ACCESS_KEY": f"aws-{secrets.token_hex(8)}", "AWS_SESSION_TOKEN": f"tok-{secrets.token_hex(8)}",
                 "DRILL_EVIDENCE_SIGNING_KEY": generate_keypair().private_pem}
HEALTH_TOKEN = f"health-{secrets.token_hex(8)}"


def secrets_in_urls(staging: Staging) -> dict[str, str]:
    """The DR Redis password inside its URL and a token in the DR health URL's query, as some users configure them."""
    password = staging.dr_redis.password or ""
    return {"DR_REDIS_PASSWORD": "", "DRILL_DR_REDIS_URL": f"redis://:{password}@127.0.0.1:{staging.dr_redis.port}/0",
            "DRILL_DR_HEALTH_URL": f"{staging.dr_health_url}?password={HEALTH_TOKEN}"}


def leaked(staging: Staging, directory: Path, output: str) -> list[str]:
    """Every configured secret value found in any file under `directory` or in the drill's own output."""
    values = {**{k: v for k, v in staging.env().items() if k in ("REDIS_PASSWORD", "DR_REDIS_PASSWORD",
                                                                 "DRILL_CONFIG_KEY")},
              **EXTRA_SECRETS, "health URL token": HEALTH_TOKEN}
    found = [f"{name} in the drill's output" for name, value in values.items() if value in output]
    for path in directory.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            found += [f"{name} in {path.relative_to(directory)}" for name, v in values.items() if v.encode() in raw]
    return found


def test_scenarios_3_and_4_pass_through_the_cluster_target_and_leave_production_untouched(
        staging: Staging, tmp_path: Path) -> None:
    before = production_state(staging)
    run = run_staging(staging, "all", tmp_path, "-k", "cluster or compromise", **EXTRA_SECRETS,
                      **secrets_in_urls(staging))
    verdicts = run.verdicts()
    assert run.code == 0, f"{dump_results(run.results)}\n{run.output[-4000:]}"
    assert len(verdicts) == 2 and set(verdicts.values()) == {"PASS"}, dump_results(run.results)
    assert run.results["meta"]["target"] == "staging"
    after = production_state(staging)
    assert before.differences(after) == []
    assert before.redis_keys > 10_000  # the digest covered the seeded data, not an empty server
    s3 = run.scenario("scenario-3")
    assert s3["details"]["loss"]["details"]["dr_namespace"] == DR_NAMESPACE
    assert dns_value(staging.sandbox, staging.dr_record) == f"lb-dr.{staging.sandbox.hosted_zone_name.rstrip('.')}."
    s4 = run.scenario("scenario-4")
    assert s4["details"]["clean_namespace"] == DR_NAMESPACE
    # the isolation was still in force when the recovery was verified; the drill lifted it at the end
    assert s4["details"]["isolation_lifted"]["was_present"] is True
    assert "isolations" not in s4["details"] and not _policies(staging)
    # the tampered copy lives in a quarantine prefix, never in the store's normal layout
    assert "drill-quarantine/" in s4["details"]["tampered_backup"]["quarantine"]
    # the DR environment was torn down afterwards: the next drill starts from an empty one
    assert int(staging.dr_redis.client().dbsize()) == 0
    # no configured secret in the records, journals, Allure results, the evidence bundle or the drill's log
    bundle = subprocess.run(
        [sys.executable, "-m", "harness.cli", "evidence", "bundle", "--results", str(tmp_path / "drill-results.json"),
         "--out", str(tmp_path / "evidence"), "--artifact", str(tmp_path / "journals")],
        check=False, cwd=REPO_ROOT, env=_child_env(staging, **EXTRA_SECRETS), capture_output=True, text=True)
    assert bundle.returncode == 0, bundle.stderr
    assert leaked(staging, tmp_path, run.output + bundle.stdout + bundle.stderr) == []


def _policies(staging: Staging) -> list[str]:
    path = f"/apis/networking.k8s.io/v1/namespaces/{staging.sandbox.namespace}/networkpolicies"
    return [p["metadata"]["name"] for p in staging.cluster().list_items(path)]


def test_scenarios_1_2_and_the_monthly_drill_pass_through_the_cluster_target(
        staging: Staging, tmp_path: Path) -> None:
    run = run_staging(staging, "all", tmp_path, "-k", "not cluster and not compromise")
    verdicts = run.verdicts()
    assert run.code == 0, f"{dump_results(run.results)}\n{run.output[-4000:]}"
    assert len(verdicts) >= 5 and set(verdicts.values()) == {"PASS"}, dump_results(run.results)


def test_scenario_3_deploys_the_new_environment_through_the_helm_chart(staging: Staging, tmp_path: Path) -> None:
    """`deploy_method: helm`: the DR environment is what `helm template` of deploy/chart renders, applied server-side."""
    import yaml

    config = yaml.safe_load(staging.config_file.read_text())
    config.update(deploy_method="helm", helm_chart="deploy/chart", helm_release="sentinel-dr-drill")
    helm_config = tmp_path / "staging-helm.yaml"
    helm_config.write_text(yaml.safe_dump(config, sort_keys=False))
    run = run_staging(staging, "all", tmp_path, "-k", "cluster", DRILL_CONFIG=str(helm_config))
    assert run.code == 0, f"{dump_results(run.results)}\n{run.output[-4000:]}"
    assert set(run.verdicts().values()) == {"PASS"}, dump_results(run.results)
    deploy = run.scenario("scenario-3")["details"]["deploy"]
    assert (deploy["method"], deploy["source"], deploy["release"]) == ("helm", "deploy/chart", "sentinel-dr-drill")
    assert deploy["managed_by"] == ["Helm"]
    assert {"Deployment/sentinel-brain", "Deployment/sentinel-gateway", "StatefulSet/redis"} <= set(deploy["objects"])
    assert not any(o.startswith("Secret/") for o in deploy["objects"])  # Secrets come from the export
