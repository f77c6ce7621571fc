"""Scenario 4: compromise. Isolate, scan the pipeline's backups, restore the newest clean one, rotate every secret.

Clock: fault_injected (isolation starts) → fault_confirmed (deny-all policy in
force) → assessed (what changed: harness.drills.assessment) → backups_scanned → infra_ready (clean namespace) → secrets_rotated →
data_restored → verified (health 200). Secrets come before the data: the clean
namespace's Redis reads its (new) password from a Secret and cannot start without it. The audit timeline is the clock plus
what each step decided.
"""

from __future__ import annotations

import secrets as pysecrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from harness.backup.catalog import find_backup, list_backups, origin_of, read_manifest
from harness.backup.layout import manifest_key, new_backup_id, rdb_key
from harness.backup.manifest import PIPELINE
from harness.backup.store import BackupStore
from harness.backup.verify import VerificationReport, verify_backup
from harness.chaos.kubernetes_actions import HELD_UNTIL_VERIFIED
from harness.drills.assessment import require_known_good_images
from harness.drills.experiments import ISOLATE_NAMESPACE, run_for_drill
from harness.drills.scenario import DrillScenario
from harness.errors import DrillError, TargetMissed, VerificationFailed
from harness.measure.clock import FAULT_INJECTED
from harness.platform.client import ObjectNotFound, namespaced
from harness.platform.network import connection_attempt
from harness.redaction import register_secret
from harness.redis_client import auth_reply
from harness.safety import require_destructive
from harness.secrets import rotate_secrets
from harness.target.base import Target
from harness.undo import lift_own_policy

POLICY = "drill-isolate-compromise"
#: what the isolation probe pod tries to reach from inside the isolated namespace
PROBE_HOST, PROBE_PORT = "sentinel-gateway", 80
TAMPER_NOTE = "sentinel-drill: deliberately tampered copy planted by scenario 4"


QUARANTINE_PREFIX = "drill-quarantine"
#: how many of the newest backups the quarantine copies beside the tampered one (the scan's depth)
SCAN_DEPTH = 2


@dataclass(frozen=True)
class Quarantine:
    """A copy of the store as the attacker left it: the newest backups plus one tampered "newer" one.

    The drill never writes into the store's normal layout (a tampered copy there
    would be `--latest` for everyone); the quarantine lives under its own prefix
    and stays for the audit.
    """

    store: BackupStore
    tampered_id: str
    copied: tuple[str, ...]


def _copy_backup(source: BackupStore, dest: BackupStore, backup_id: str) -> bytes:
    """Copy one backup (RDB + manifest) from `source` to `dest`; return the RDB's bytes."""
    entry = find_backup(source, backup_id)
    assert entry.rdb_key is not None
    data = source.get_bytes(entry.rdb_key)
    dest.put_bytes(rdb_key(backup_id), data)
    dest.put_bytes(manifest_key(backup_id), read_manifest(source, backup_id).to_json())
    return data


def plant_tampered_backup(drill: DrillScenario, target: Target, source_id: str) -> Quarantine:
    """Copy the pipeline's newest backups into a quarantine prefix and plant there a newer copy of `source_id`
    (the pipeline backup the scenario restores) with one byte flipped (the attacker's work).

    Only pipeline backups are copied: what a compromise leaves to restore from is what the pipeline wrote.
    """
    require_destructive(target, "plant a tampered backup in the quarantine copy of the store")
    store = target.store()
    now = datetime.now(UTC)
    quarantine = store.child(f"{QUARANTINE_PREFIX}/{target.settings.run_id or f'{now:%Y%m%dT%H%M%S}'}")
    newest = sorted((e for e in list_backups(store) if e.complete and e.layout == "manifest"
                     and origin_of(store, e) == PIPELINE),
                    key=lambda e: e.point_in_time, reverse=True)[:SCAN_DEPTH]
    copied = tuple(dict.fromkeys([source_id, *(e.id for e in newest)]))
    rdbs = {backup_id: _copy_backup(store, quarantine, backup_id) for backup_id in copied}
    data = bytearray(rdbs[source_id])
    data[len(data) // 2] ^= 0xFF
    tampered_id = new_backup_id(now)
    quarantine.put_bytes(rdb_key(tampered_id), bytes(data))
    forged = read_manifest(store, source_id).model_copy(update={"id": tampered_id, "point_in_time": now})
    quarantine.put_bytes(manifest_key(tampered_id), forged.to_json())
    drill.note("tampered_backup", {"id": tampered_id, "copied_from": source_id, "note": TAMPER_NOTE,
                                   "quarantine": quarantine.url, "copied": list(copied)})
    return Quarantine(quarantine, tampered_id, copied)


def isolate_namespace(drill: DrillScenario, target: Target) -> dict[str, Any]:
    """Run the compromise experiment; the hook checks the deny-all policy while it is in force."""
    cluster = target.cluster()
    ns = target.namespace
    proof: dict[str, Any] = {"namespace": ns, "policy": POLICY}

    def isolated(_: str, __: Any) -> None:
        try:
            policy = cluster.get(namespaced("networking.k8s.io/v1", "networkpolicies", ns, POLICY))
        except (ObjectNotFound, DrillError) as exc:
            proof["error"] = str(exc)
            return
        spec = policy.get("spec") or {}
        proof.update(pod_selector=spec.get("podSelector"), policy_types=sorted(spec.get("policyTypes") or []),
                     ingress_rules=len(spec.get("ingress") or []), egress_rules=len(spec.get("egress") or []))
        if not (spec.get("podSelector") in ({}, None) and proof["policy_types"] == ["Egress", "Ingress"]
                and not proof["ingress_rules"] and not proof["egress_rules"]):
            return
        image = target.settings.isolation_probe_image
        if image:  # the cluster enforces NetworkPolicy: prove it with a connection that must fail
            try:
                attempt = connection_attempt(cluster, namespace=ns, image=image, host=PROBE_HOST, port=PROBE_PORT,
                                             labels=target.owner_labels())
            except DrillError as exc:
                proof["error"] = f"isolation probe: {exc.one_line()}"
                return
            proof["connection_attempt"] = attempt.to_json()
            if attempt.connected:
                return
        drill.clock.mark("fault_confirmed")

    def lift() -> None:
        """The isolation ends when the scenario does: after the recovery was verified, or on any failure."""
        lifted = lift_own_policy(target, ns, POLICY, how="lifted by the drill after the recovery")
        drill.note("isolation_lifted", {"namespace": ns, "policy": POLICY, "was_present": lifted})

    drill.on_finish(lift)  # registered before the fault: even an interrupted experiment is lifted
    # an enforced isolation cuts the namespace's traffic, so "healthy" is checked before the fault only
    # (on kwok, whose policies nobody enforces, the old namespace kept answering and hid this)
    run = run_for_drill(drill, target, "compromise", hypothesis_after_method=False,
                        configuration={"policy_name": POLICY, "isolation_held_until": HELD_UNTIL_VERIFIED},
                        on_start={ISOLATE_NAMESPACE: lambda *_: drill.clock.mark(FAULT_INJECTED)},
                        on_end={ISOLATE_NAMESPACE: isolated})
    proof["rolled_back"] = run.rollback_statuses()
    proof["held_until"] = HELD_UNTIL_VERIFIED
    proof["enforcement"] = (
        f"proven: a probe pod could not reach {PROBE_HOST}:{PROBE_PORT}" if "connection_attempt" in proof else
        "spec only: the drill read the policy's spec; whether the cluster's network plugin enforces NetworkPolicy "
        "was not proven by a connection attempt (set isolation_probe_image where it does)")
    drill.note("isolation", proof)
    return proof


def confirm_isolated(drill: DrillScenario, proof: dict[str, Any]) -> None:
    drill.confirm_fault(drill.clock.has("fault_confirmed"),
                        f"deny-all policy {proof['policy']} in {proof['namespace']}: "
                        f"selector {proof.get('pod_selector')}, types {proof.get('policy_types')}"
                        + (f", error {proof['error']}" if "error" in proof else "")
                        + (", but a probe pod still connected: the cluster does not enforce it"
                           if (proof.get("connection_attempt") or {}).get("connected") else ""), proof)


@dataclass
class ScanResult:
    reports: list[VerificationReport] = field(default_factory=list)

    @property
    def rejected(self) -> list[VerificationReport]:
        return [r for r in self.reports if not r.passed]

    def newest_clean(self) -> VerificationReport:
        for report in self.reports:  # newest first
            if report.passed:
                return report
        raise VerificationFailed("no backup in the store passes verification",
                                 fix="restore from offline copies; the store is compromised")


def scan_backups(drill: DrillScenario, quarantine: Quarantine) -> ScanResult:
    """Verify every backup in the (quarantined) store, newest first (the runbook's "scan first")."""
    store = quarantine.store
    entries = sorted((e for e in list_backups(store) if e.complete), key=lambda e: e.point_in_time, reverse=True)
    scan = ScanResult([verify_backup(store, e.id, min_keys=drill.settings.min_keys) for e in entries])
    drill.clock.mark("backups_scanned")
    drill.note("scan", [{"id": r.backup_id, "passed": r.passed,
                         "failed_check": r.failed_check.name if r.failed_check else None} for r in scan.reports])
    return scan


def deploy_clean(drill: DrillScenario, target: Target) -> str:
    """Deploy SENTINEL into a fresh namespace (the compromised one stays for forensics); return the old one.

    Stopped before anything is applied when an image it would run is not known-good (harness.drills.assessment).
    """
    old = str(target.namespace)
    fresh = f"sentinel-clean-{datetime.now(UTC):%H%M%S}"
    require_known_good_images(drill, target, target.stack_as_deployed(fresh))  # before anything is applied
    drill.on_finish(target.end_recovery)  # on a real target: tear the DR environment down afterwards
    target.deploy_clean_namespace(fresh)
    drill.note("clean_namespace", target.namespace)
    drill.note("deploy", target.last_deploy)  # which method (reference, manifests, kustomize, helm) and what it applied
    drill.clock.mark("infra_ready")
    return old


@dataclass(frozen=True)
class RotatedPasswords:
    """The Redis password before and after rotation, for the proof; never printed (reports record reprs)."""

    old: str = field(repr=False)
    new: str = field(repr=False)

    def __repr__(self) -> str:
        return "RotatedPasswords(old=***, new=***)"


def rotate_every_secret(drill: DrillScenario, target: Target, *, old_namespace: str) -> RotatedPasswords:
    """New values for every key of every Secret the old namespace had, in the current namespace,
    the Redis password included."""
    old_password = target.redis_password() or ""
    new_password = pysecrets.token_urlsafe(32)
    register_secret(old_password)
    register_secret(new_password)  # from here on, redacted from every log, journal and report
    target.rotate_redis_password(new_password)
    rotation = rotate_secrets(target.cluster(), source_namespace=old_namespace, namespace=target.namespace,
                              redis_password=new_password, labels=target.owner_labels())
    drill.note("rotation", {"rotated": list(rotation.rotated), "unchanged": list(rotation.unchanged),
                            "namespace": target.namespace})
    if rotation.unchanged or not rotation.rotated:
        raise TargetMissed(f"rotation incomplete: unchanged {list(rotation.unchanged)}",
                           fix="check the Secrets of the namespace")
    drill.clock.mark("secrets_rotated")
    return RotatedPasswords(old_password, new_password)


def password_proof(target: Target, *, old_password: str, new_password: str) -> dict[str, Any]:
    """AUTH with both passwords on fresh connections: the old must get WRONGPASS, the new +OK."""
    url = target.redis_url
    return {"old_password_reply": auth_reply(url, old_password).split(" ")[0],
            "new_password_reply": auth_reply(url, new_password).split(" ")[0]}


def require_tampered_rejected(scan: ScanResult, quarantine: Quarantine) -> VerificationReport:
    """The planted backup failed a check and the chosen one is the newest that passed."""
    rejected = {r.backup_id: r for r in scan.rejected}
    tampered_id = quarantine.tampered_id
    if tampered_id not in rejected:
        raise TargetMissed(f"the tampered backup {tampered_id} was not rejected by the scan",
                           fix="verification missed a flipped byte: the checksum level is broken")
    failed = rejected[tampered_id].failed_check
    if failed is None or failed.name != "checksum":
        raise TargetMissed(f"the tampered backup {tampered_id} failed {failed.name if failed else '?'}, "
                           "not the checksum", fix="the checksum level should catch a flipped byte first")
    return scan.newest_clean()


def require_password_rotated(drill: DrillScenario, target: Target, passwords: RotatedPasswords) -> None:
    proof = password_proof(target, old_password=passwords.old, new_password=passwords.new)
    drill.note("password_proof", proof)
    if proof["old_password_reply"] != "-WRONGPASS" or proof["new_password_reply"] != "+OK":
        raise TargetMissed(f"password rotation not proven: old password → {proof['old_password_reply']}, "
                           f"new password → {proof['new_password_reply']}", fix="check the rotation step")


AUDIT_PHASES = ("fault_injected", "fault_confirmed", "assessed", "backups_scanned", "infra_ready", "secrets_rotated",
                "data_restored", "config_backed_up", "healthy")


def audit_timeline(drill: DrillScenario) -> list[dict[str, Any]]:
    """The incident's timeline: each clock event with what the drill decided at that point."""
    details = drill.record.details
    what = {
        "fault_injected": f"isolation of namespace {details.get('isolation', {}).get('namespace')} started",
        "fault_confirmed": f"deny-all policy {details.get('isolation', {}).get('policy')} in force",
        "assessed": f"{len((details.get('assessment') or {}).get('changed_objects', []))} object(s) and "
                    f"{len((details.get('assessment') or {}).get('changed_images', []))} image(s) changed, "
                    f"{len((details.get('assessment') or {}).get('key_differences', []))} key prefix(es) differ",
        "backups_scanned": f"{len(details.get('scan', []))} backups scanned, "
                           f"{sum(1 for s in details.get('scan', []) if not s['passed'])} rejected",
        "infra_ready": f"clean namespace {details.get('clean_namespace')} deployed",
        "data_restored": f"Redis restored from {details.get('redis_restore', {}).get('backup_id')}",
        "secrets_rotated": f"{len(details.get('rotation', {}).get('rotated', []))} secret values rotated",
        "config_backed_up": "configuration export "
                            f"{(details.get('config_backup_after_rotation') or {}).get('export_id')} holds the "
                            "rotated values",
        "healthy": "health endpoint answered 200",
    }
    timeline = [{"at": e.at.isoformat(), "event": e.name, "what": what.get(e.name, e.name)}
                for e in drill.clock.events]
    missing = [p for p in AUDIT_PHASES if not drill.clock.has(p)]
    order = [e["event"] for e in timeline if e["event"] in AUDIT_PHASES]
    drill.note("audit_timeline", timeline)
    if missing or order != [p for p in AUDIT_PHASES if p in order]:
        raise TargetMissed(f"audit timeline incomplete or out of order: missing {missing}, order {order}",
                           fix="a recovery step did not run")
    return timeline
