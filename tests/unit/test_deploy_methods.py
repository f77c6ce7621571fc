"""Every deploy method renders SENTINEL's objects for the namespace asked for; the chart renders the reference stack.

Real tools, no fakes: `helm template` with the helm `make helm-bin` built (or the one on PATH), and
`kubectl kustomize` from the sandbox's kubectl. Without them the tests skip and say which make target builds them.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from harness.config import Settings
from harness.errors import ConfigError
from harness.platform.client import Obj
from harness.platform.deploy_methods import (
    REFERENCE_STACK,
    HelmStack,
    KustomizeStack,
    ManifestsStack,
    deploy_record,
    parse_objects,
    place_in,
    stack_source,
)
from harness.platform.stack import DEPLOY_DIR, stack_in
from harness.platform.tool_bins import helm_command, kustomize_command

CHART = str(DEPLOY_DIR / "chart")
HELM_LABELS = ("app.kubernetes.io/managed-by", "app.kubernetes.io/instance", "helm.sh/chart")


def _tool(find: Any) -> None:
    try:
        find()
    except ConfigError as exc:
        pytest.skip(exc.one_line())


def _without_helm_labels(obj: Obj) -> Obj:
    obj = copy.deepcopy(obj)
    metas = [obj["metadata"], *([obj["spec"]["template"]["metadata"]] if "template" in obj.get("spec", {}) else []),
             *[t["metadata"] for t in obj.get("spec", {}).get("volumeClaimTemplates", [])]]
    for meta in metas:
        for label in HELM_LABELS:
            (meta.get("labels") or {}).pop(label, None)
    return obj


def _by_kind_name(objects: list[Obj]) -> dict[tuple[str, str], Obj]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def _summary(objects: list[Obj]) -> set[tuple[str, str, str, tuple[Any, ...], tuple[Any, ...]]]:
    """kind, name, namespace, images, ports: the normalised shape two renderings must share."""
    out = set()
    for o in objects:
        pod = o.get("spec", {}).get("template", {}).get("spec", {})
        images = tuple(sorted(c["image"] for c in pod.get("containers", [])))
        ports = tuple(sorted(str(p.get("containerPort") or p.get("port"))
                             for c in pod.get("containers", []) for p in c.get("ports", [])))
        ports += tuple(sorted(str(p["port"]) for p in o.get("spec", {}).get("ports", []) if o["kind"] == "Service"))
        out.add((o["kind"], o["metadata"]["name"], o["metadata"].get("namespace", ""), images, ports))
    return out


def test_the_chart_renders_the_reference_stack_with_helms_labels() -> None:
    _tool(helm_command)
    rendered = HelmStack(CHART, release="sentinel").render("sentinel-dr")
    reference = stack_in("sentinel-dr")
    assert _summary(rendered) == _summary(reference)
    assert len(_summary(reference)) == len(reference) >= 12  # namespace, config, 2 secrets, redis, brain, gateway…
    # object for object the same, once Helm's own labels are set aside
    helm_objects, ref_objects = _by_kind_name(rendered), _by_kind_name(reference)
    assert helm_objects.keys() == ref_objects.keys()
    for key, ref in ref_objects.items():
        assert _without_helm_labels(helm_objects[key]) == ref, key
    for obj in rendered:
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm", obj["metadata"]["name"]
        assert obj["metadata"]["labels"]["app.kubernetes.io/instance"] == "sentinel"
    assert not any(o.get("data") for o in rendered if o["kind"] == "Secret")  # no secret value ever rendered


def test_values_files_and_the_release_name_reach_the_rendering(tmp_path: Path) -> None:
    _tool(helm_command)
    values = tmp_path / "values.yaml"
    values.write_text("images:\n  brain: registry.example/brain:9.9\nnamespace:\n  create: false\n")
    rendered = HelmStack(CHART, release="drill", values=(str(values),)).render("ns-x")
    brain = _by_kind_name(rendered)[("Deployment", "sentinel-brain")]
    assert brain["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/brain:9.9"
    assert brain["metadata"]["labels"]["app.kubernetes.io/instance"] == "drill"
    # the chart left the Namespace out: the deploy adds a bare one so the apply has somewhere to go
    assert rendered[0] == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns-x"}}
    record = deploy_record(HelmStack(CHART, release="drill", values=(str(values),)), rendered)
    assert record["method"] == "helm" and record["managed_by"] == ["Helm"] and record["release"] == "drill"


def test_a_chart_that_does_not_render_is_a_config_error_naming_helm(tmp_path: Path) -> None:
    _tool(helm_command)
    with pytest.raises(ConfigError, match="helm template sentinel .*failed"):
        HelmStack(str(tmp_path / "no-such-chart")).render("ns")
    with pytest.raises(ConfigError, match="values file .* does not exist"):
        HelmStack(CHART, values=(str(tmp_path / "missing.yaml"),)).render("ns")


def test_kustomize_and_manifests_render_deploy_as_the_reference_does(tmp_path: Path) -> None:
    reference = REFERENCE_STACK.render("ns-k")
    assert REFERENCE_STACK.describe() == {"method": "reference", "source": str(DEPLOY_DIR)}
    (tmp_path / "app.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: other}\n"
                                       "data: {k: v}\n")
    manifests = ManifestsStack(tmp_path)
    assert manifests.render("ns-k") == [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns-k"}},
                                        {"apiVersion": "v1", "kind": "ConfigMap",
                                         "metadata": {"name": "app", "namespace": "ns-k"}, "data": {"k": "v"}}]
    assert manifests.describe() == {"method": "manifests", "source": str(tmp_path)}
    _tool(kustomize_command)
    assert _by_kind_name(KustomizeStack(DEPLOY_DIR).render("ns-k")) == _by_kind_name(reference)


def test_place_in_moves_objects_and_adds_a_namespace_when_none_rendered() -> None:
    objects = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "other"}},
               {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}]
    placed = place_in(objects, "here")
    assert [o["kind"] for o in placed] == ["Namespace", "ConfigMap", "Service"]
    assert placed[1]["metadata"]["namespace"] == "here" and objects[0]["metadata"]["namespace"] == "other"
    assert "namespace" not in placed[2]["metadata"]  # left to the apply, which places namespaced kinds


def test_settings_choose_the_method_and_name_what_is_missing() -> None:
    assert stack_source(Settings()) == REFERENCE_STACK
    helm = stack_source(Settings(deploy_method="helm", helm_chart="deploy/chart", helm_values=("a.yaml",),
                                 helm_chart_version="0.1.0"))
    assert isinstance(helm, HelmStack) and helm.release == "sentinel" and helm.version == "0.1.0"
    assert isinstance(stack_source(Settings(deploy_method="kustomize", deploy_dir="k")), KustomizeStack)
    assert isinstance(stack_source(Settings(deploy_method="manifests", deploy_dir="m")), ManifestsStack)
    with pytest.raises(ConfigError, match="deploy_method helm needs helm_chart"):
        Settings(deploy_method="helm")
    with pytest.raises(ConfigError, match="deploy_method kustomize needs deploy_dir"):
        Settings(deploy_method="kustomize")


def test_doctor_has_one_row_for_the_deploy_method(tmp_path: Path) -> None:
    from harness.doctor.service_checks import deploy_method_row
    from harness.target.cluster import ClusterTarget

    ok = deploy_method_row(ClusterTarget(Settings(target="staging")), ("scenario-1", "scenario-3"))
    assert ok.ok and "deploy_method reference" in ok.checked and "Deployment" in ok.result
    (tmp_path / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: only}\n")
    wrong = deploy_method_row(ClusterTarget(Settings(target="staging", deploy_method="manifests",
                                                     deploy_dir=str(tmp_path))), ("scenario-1", "scenario-3"))
    assert not wrong.ok and "Deployment/sentinel-brain" in wrong.result and wrong.blocks == ("scenario-3",)


def test_kustomize_falls_back_to_the_sandbox_kubectl_where_the_sandbox_finds_it(tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """DRILL_SANDBOX_BIN_DIR names the sandbox's binaries for `sandbox up`; `kubectl kustomize` looks there too."""
    bins = tmp_path / "bins"
    bins.mkdir()
    (bins / "kubectl").write_text("#!/bin/sh\n")
    (bins / "kubectl").chmod(0o755)
    (bins / ".complete").write_text("")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # neither kustomize nor kubectl on PATH
    monkeypatch.setenv("DRILL_SANDBOX_BIN_DIR", str(bins))
    assert kustomize_command() == [str(bins / "kubectl"), "kustomize"]


def test_a_rendered_stream_that_is_not_yaml_is_named_by_position_without_quoting_the_line() -> None:
    with pytest.raises(ConfigError) as err:
        parse_objects("kind: Secret\nstringData:\n  password: s3cr3t-value: [oops\n", what="helm template x")
    assert "did not render valid YAML at line 3" in err.value.one_line()
    assert "s3cr3t-value" not in err.value.one_line()
