"""Every experiment validates like `chaos validate` does, and our activity catalogue is exactly what it says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.chaos import actions, probes
from harness.chaos.runner import load_experiment
from harness.errors import ConfigError

EXPERIMENTS = sorted((Path(__file__).resolve().parents[2] / "experiments").glob("*.json"))


def test_the_five_experiments_exist():
    assert [p.stem for p in EXPERIMENTS] == ["cluster-loss", "compromise", "pod-kill", "zone-drain", "zone-outage"]


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_validates_with_chaoslib(path: Path):
    experiment = load_experiment(path)
    assert experiment["steady-state-hypothesis"]["probes"]
    assert experiment["method"] and experiment["rollbacks"]


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_passes_the_chaos_validate_command(path: Path, tmp_path: Path):
    chaos = Path(sys.executable).with_name("chaos")
    proc = subprocess.run([str(chaos), "--no-version-check", "--log-file", str(tmp_path / "chaos.log"),
                           "validate", str(path)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_python_activity_names_a_function_that_exists():
    for path in EXPERIMENTS:
        data = json.loads(path.read_text())
        for activity in data["method"] + data["rollbacks"] + data["steady-state-hypothesis"]["probes"]:
            provider = activity["provider"]
            if provider["type"] == "python":
                module = __import__(provider["module"], fromlist=[provider["func"]])
                assert callable(getattr(module, provider["func"])), (path.name, provider)


def test_our_activity_catalogue_is_exactly_the_published_one():
    assert sorted(actions.__all__) == ["drain_zone", "finish_cluster_teardown", "lose_cluster", "restart_zone",
                                       "stop_zone", "uncordon_zone"]
    assert sorted(probes.__all__) == ["count_pods_in_zone", "deployment_is_available", "namespace_is_isolated",
                                      "seconds_until_available", "seconds_until_evicted_from_zone",
                                      "seconds_until_healthy", "seconds_until_zone_not_ready"]


def test_a_malformed_experiment_is_a_config_error_naming_the_file(tmp_path: Path):
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps({"title": "no method"}))
    with pytest.raises(ConfigError, match="broken.json"):
        load_experiment(bad)


def test_a_missing_experiment_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_experiment(tmp_path / "nope.json")


def test_every_python_activity_is_ours_so_the_safety_guard_runs_under_plain_chaos_run():
    for path in EXPERIMENTS:
        data = json.loads(path.read_text())
        for activity in data["method"] + data["rollbacks"] + data["steady-state-hypothesis"]["probes"]:
            provider = activity["provider"]
            if provider["type"] == "python":
                assert provider["module"].startswith("harness.chaos."), (path.name, activity["name"], provider)


def test_the_guarded_kubernetes_catalogue_keeps_chaosk8s_argument_names():
    import inspect

    from harness.chaos import kubernetes_actions

    assert sorted(kubernetes_actions.__all__) == ["create_network_policy", "remove_network_policy",
                                                  "scale_deployment", "scale_deployment_back", "terminate_pods"]
    params = {name: list(inspect.signature(getattr(kubernetes_actions, name)).parameters)
              for name in kubernetes_actions.__all__}
    assert params["terminate_pods"][:4] == ["label_selector", "ns", "qty", "rand"]
    assert params["scale_deployment"][:3] == params["scale_deployment_back"][:3] == ["name", "replicas", "ns"]
    assert params["create_network_policy"][:2] == ["spec", "ns"]
    assert params["remove_network_policy"][:2] == ["name", "ns"]
