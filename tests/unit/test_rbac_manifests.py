"""deploy/rbac/ grants exactly what harness/doctor/permissions.py says the scenarios need: no less, and
nothing beyond reading plus those verbs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.doctor.permissions import READ_VERBS, SCENARIO_NEEDS, SELF_REVIEW, Need, all_needs
from harness.platform.manifests import load_manifests

RBAC = Path(__file__).resolve().parents[2] / "deploy" / "rbac"
#: the namespaces the shipped manifests are written for (docs/doctor.md: edit them to yours)
SCOPES = {"namespace": ("Role", "sentinel"), "dr_namespace": ("Role", "sentinel-dr"), "cluster": ("ClusterRole", None)}
Grant = tuple[str, str, str]  # (group, resource[/subresource], verb)


def _grants(kind: str, namespace: str | None) -> set[Grant]:
    objects = load_manifests(RBAC)
    [role] = [o for o in objects if o["kind"] == kind and o["metadata"].get("namespace") == namespace]
    return {(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


def _needed(scope: str) -> set[Grant]:
    return {(n.group, n.resource_path, n.verb) for n in all_needs() if n.scope == scope}


@pytest.mark.parametrize("scope", sorted(SCOPES))
def test_every_needed_verb_is_granted(scope: str) -> None:
    kind, namespace = SCOPES[scope]
    missing = _needed(scope) - _grants(kind, namespace)
    assert not missing, f"deploy/rbac {kind} {namespace or ''} lacks {sorted(missing)}"


@pytest.mark.parametrize("scope", sorted(SCOPES))
def test_nothing_beyond_reading_and_the_needed_verbs_is_granted(scope: str) -> None:
    kind, namespace = SCOPES[scope]
    extra = {g for g in _grants(kind, namespace) if g[2] not in READ_VERBS} - _needed(scope)
    assert not extra, f"deploy/rbac {kind} {namespace or ''} grants more than the scenarios need: {sorted(extra)}"


def test_no_wildcards_and_every_role_is_bound_to_the_drill_service_account() -> None:
    objects = load_manifests(RBAC)
    for role in (o for o in objects if o["kind"] in ("Role", "ClusterRole")):
        for rule in role["rules"]:
            assert "*" not in rule["apiGroups"] + rule["resources"] + rule["verbs"], role["metadata"]["name"]
    bindings = [o for o in objects if o["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    assert {(b["kind"], b["metadata"].get("namespace")) for b in bindings} == {
        ("RoleBinding", "sentinel"), ("RoleBinding", "sentinel-dr"), ("ClusterRoleBinding", None)}
    for binding in bindings:
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "sentinel-drill",
                                        "namespace": "sentinel-drill"}]
    [account] = [o for o in objects if o["kind"] == "ServiceAccount"]
    assert account["metadata"] == {"name": "sentinel-drill", "namespace": "sentinel-drill"}


def test_the_table_names_what_the_code_sends() -> None:
    """Spot checks against the platform code: scenario 1 deletes pods, scenario 2 cordons and evicts."""
    assert Need("", "pods", "", "delete", "namespace") in SCENARIO_NEEDS["scenario-1"]
    assert Need("", "nodes", "", "patch", "cluster") in SCENARIO_NEEDS["scenario-2"]
    assert Need("", "pods", "eviction", "create", "cluster") in SCENARIO_NEEDS["scenario-2"]
    assert Need("apps", "deployments", "", "create", "dr_namespace") in SCENARIO_NEEDS["scenario-3"]
    assert Need("networking.k8s.io", "networkpolicies", "", "create", "namespace") in SCENARIO_NEEDS["scenario-4"]
    assert all(n.scope != "dr_namespace" for n in SCENARIO_NEEDS["scenario-1"] + SCENARIO_NEEDS["scenario-2"])
    assert SELF_REVIEW in all_needs()


#: the one namespace deploy/rbac/ expects to exist: production, where SENTINEL already runs
PRODUCTION_NAMESPACE = "sentinel"


def test_apply_creates_every_namespace_it_uses_but_production() -> None:
    """`kubectl apply -k deploy/rbac/` on a cluster without the DR namespace must not stop at
    `namespaces "sentinel-dr" not found`: the manifests ship every namespace but production's."""
    objects = load_manifests(RBAC)
    shipped = {o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"}
    used = {o["metadata"]["namespace"] for o in objects if o["metadata"].get("namespace")}
    assert used - shipped == {PRODUCTION_NAMESPACE}
    first = {o["metadata"]["name"]: i for i, o in reversed(list(enumerate(objects)))}
    for i, obj in enumerate(objects):  # in order, for an applier that does not sort (apply_objects)
        assert obj["metadata"].get("namespace") not in shipped or first[obj["metadata"]["namespace"]] < i, obj


def test_the_kustomization_lists_every_manifest() -> None:
    listed = set(yaml.safe_load((RBAC / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in RBAC.glob("*.yaml")} - {"kustomization.yaml"}
