"""A PV's node affinity decides which zones can mount it: the pods a zone's loss strands."""

from __future__ import annotations

from harness.platform.volumes import _allowed_zones

ZONES = {"node-zone-a": "zone-a", "node-zone-b": "zone-b", "kwok-a-1": "zone-a"}


def pv(*terms: list[tuple[str, list[str]]]) -> dict:
    return {"spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": k, "operator": "In", "values": v} for k, v in term]} for term in terms]}}}}


def test_a_volume_on_one_node_is_pinned_to_that_nodes_zone() -> None:
    allowed, words = _allowed_zones(pv([("kubernetes.io/hostname", ["node-zone-a"])]), ZONES)
    assert allowed == {"zone-a"} and "node-zone-a" in words


def test_a_zonal_volume_is_pinned_to_its_zone_and_a_regional_one_to_both() -> None:
    assert _allowed_zones(pv([("topology.kubernetes.io/zone", ["zone-b"])]), ZONES)[0] == {"zone-b"}
    regional = pv([("topology.kubernetes.io/zone", ["zone-a"])], [("topology.kubernetes.io/zone", ["zone-b"])])
    assert _allowed_zones(regional, ZONES)[0] == {"zone-a", "zone-b"}


def test_a_volume_without_affinity_or_with_an_unrelated_term_can_go_anywhere() -> None:
    assert _allowed_zones({"spec": {}}, ZONES)[0] is None
    assert _allowed_zones(pv([("disk-type", ["ssd"])]), ZONES)[0] is None
