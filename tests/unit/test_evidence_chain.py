"""`evidence verify --chain`: a clean chain passes, and each tampering is named.

Every tampering here is done the way an attacker without the evidence key
would: files rewritten, `previous` relinked, SHA256SUMS regenerated so each
bundle is consistent on its own. Only the chain (and the signatures, and the
locked heads) can tell.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.cli import main
from harness.evidence import integrity
from harness.evidence.bundle import build_bundle, seal
from harness.evidence.chain import verify_chain
from harness.evidence.chain_store import read_local_heads
from harness.evidence.metrics import render_metrics
from harness.evidence.record import ScenarioRecord
from harness.evidence.summary import render_summary
from harness.evidence.upload import upload_bundle
from harness.signing import generate_keypair, load_private_key

KEY = generate_keypair()
OTHER = generate_keypair()
T0 = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
RUNS = ("run-1", "run-2", "run-3", "run-4")


def _private(pair_pem: str) -> Ed25519PrivateKey:
    return load_private_key(pair_pem)


def _build(root: Path, run_id: str, day: int, *, signed: bool = True) -> Path:
    record = ScenarioRecord(name="Brain pods are killed", feature="Scenario 1 — pod failure", tags=("scenario-1",),
                            measurements=[{"name": "RTO", "target_s": 900, "measured_s": 30.0 + day, "met": True}])
    return build_bundle([record], out_root=root, meta={"run_id": run_id, "target": "staging", "git_sha": "0" * 40,
                                                      "operator": "sre", "host": "ci"},
                        env={}, signing_key=_private(KEY.private_pem) if signed else None,
                        now=T0 + timedelta(days=day))


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    root = tmp_path / "evidence"
    for day, run_id in enumerate(RUNS):
        _build(root, run_id, day)
    return root


@pytest.fixture
def unsigned_chain(tmp_path: Path) -> Path:
    root = tmp_path / "unsigned"
    for day, run_id in enumerate(RUNS):
        _build(root, run_id, day, signed=False)
    return root


def _rewrite(bundle: Path, change: dict[str, object]) -> None:
    """Edit run.json, re-render what derives from it and regenerate SHA256SUMS: self-consistent, unsigned-for."""
    run = json.loads((bundle / integrity.RUN_JSON).read_text())
    run.update(change)
    (bundle / integrity.RUN_JSON).write_text(json.dumps(run, indent=2, sort_keys=True) + "\n")
    (bundle / "summary.md").write_text(render_summary(run))
    (bundle / "metrics.prom").write_text(render_metrics(run))
    (bundle / integrity.SUMS).write_text(integrity.render_sums(bundle))


def _relink(bundle: Path, previous: Path) -> None:
    sha = integrity.sha256_file(previous / integrity.SUMS)
    (bundle / integrity.PREVIOUS).write_text(integrity.format_previous(previous.name, sha))
    _rewrite(bundle, {"previous": {"run_id": previous.name, "sha256": sha}})


def test_a_clean_signed_chain_verifies_first_to_newest(chain: Path) -> None:
    report = verify_chain(chain, trusted_keys=[KEY.public])
    assert report.ok, report.problems
    assert [(b.run_id, b.sequence) for b in report.bundles] == [(r, n) for n, r in enumerate(RUNS, start=1)]
    assert all(b.signature.startswith("valid") for b in report.bundles)


def test_each_new_bundle_follows_the_chain_tip_not_the_newest_created_at(tmp_path: Path) -> None:
    root = tmp_path / "evidence"
    _build(root, "run-1", 5)
    second = _build(root, "run-2", 1)  # a clock set back does not put it first
    assert integrity.parse_previous((second / integrity.PREVIOUS).read_text())[0] == "run-1"  # type: ignore[index]
    assert json.loads((second / integrity.RUN_JSON).read_text())["sequence"] == 2


def test_a_bundle_deleted_from_the_middle_is_named(chain: Path) -> None:
    shutil.rmtree(chain / "run-2")
    report = verify_chain(chain, trusted_keys=[KEY.public])
    assert "deleted: bundle run-2 is missing — run-3 links to it" in report.problems


def test_a_bundle_deleted_and_relinked_over_is_named_by_the_gap(unsigned_chain: Path) -> None:
    shutil.rmtree(unsigned_chain / "run-2")
    _relink(unsigned_chain / "run-3", unsigned_chain / "run-1")
    _relink(unsigned_chain / "run-4", unsigned_chain / "run-3")
    report = verify_chain(unsigned_chain, trusted_keys=[])
    assert report.problems == (("deleted: 1 bundle(s) missing between run-1 (#1) and run-3 (#3), which was relinked "
                               "over the gap"),)


def test_two_bundles_reordered_are_named(unsigned_chain: Path) -> None:
    _relink(unsigned_chain / "run-3", unsigned_chain / "run-1")
    _relink(unsigned_chain / "run-2", unsigned_chain / "run-3")
    _relink(unsigned_chain / "run-4", unsigned_chain / "run-2")
    problems = verify_chain(unsigned_chain, trusted_keys=[]).problems
    assert "reordered: run-2 (#2) follows run-3 (#3), which comes later in the chain" in problems


def test_an_old_bundle_edited_with_its_sums_regenerated_is_named(chain: Path) -> None:
    _rewrite(chain / "run-1", {"operator": "someone-else"})
    problems = verify_chain(chain, trusted_keys=[KEY.public]).problems
    assert any(p.startswith("edited: bundle run-1 changed after run-2 was linked to it") for p in problems)
    assert any(p.startswith(f"run-1: signature: {integrity.ATTESTATION}: run.json has sha256 ") for p in problems)
    assert (f"run-1: signature: {integrity.ATTESTATION}: the signed predicate (run identity, verdicts, targets) "
            "differs from run.json") in problems


def test_a_forked_chain_is_named(chain: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    for run_id in ("run-1", "run-2"):
        shutil.copytree(chain / run_id, elsewhere / run_id)
    shutil.move(_build(elsewhere, "run-3b", 2), chain / "run-3b")
    problems = verify_chain(chain, trusted_keys=[KEY.public]).problems
    assert any(p.startswith("forked: ") and "both follow run-2" in p and "run-3b" in p and "run-3 " in p + " "
               for p in problems)


def test_a_second_first_bundle_is_a_fork(chain: Path, tmp_path: Path) -> None:
    shutil.move(_build(tmp_path / "new-chain", "run-0", 9), chain / "run-0")
    problems = verify_chain(chain, trusted_keys=[KEY.public]).problems
    assert "forked: run-1 and run-0 each claim to be the first bundle of the chain" in problems


def test_a_stripped_signature_is_named_when_a_public_key_is_configured(chain: Path) -> None:
    (chain / "run-2" / integrity.ATTESTATION).unlink()
    problems = verify_chain(chain, trusted_keys=[KEY.public]).problems
    assert problems == ((f"run-2: stripped signature: {integrity.ATTESTATION} is missing, but run.json says the bundle "
                         f"was signed with it (key {KEY.key_id})"),)
    _rewrite(chain / "run-2", {"signed": False, "signing_key_id": None, "signature_format": None})  # claim removed too
    problems = verify_chain(chain, trusted_keys=[KEY.public]).problems
    assert any(p.startswith(f"run-2: not signed: no {integrity.ATTESTATION} (nor an older {integrity.SIGNATURE}), "
                            "but evidence public keys are configured") for p in problems)


def test_a_signature_by_another_key_is_named(chain: Path) -> None:
    bundle = chain / "run-3"
    seal(bundle, _private(OTHER.private_pem))  # SHA256SUMS unchanged, the envelope signed by another key
    problems = verify_chain(chain, trusted_keys=[KEY.public]).problems
    assert problems == (f"run-3: signature: signed by key {OTHER.key_id}, which is not a configured evidence key",)


def test_the_locked_heads_catch_a_consistent_rewrite_and_a_deleted_newest_bundle(unsigned_chain: Path,
                                                                                 tmp_path: Path) -> None:
    store = tmp_path / "store"
    for run_id in RUNS:
        upload_bundle(unsigned_chain / run_id, store.as_uri(), trusted_keys=[])
    stored = store / "evidence"
    assert verify_chain(stored, trusted_keys=[], heads=read_local_heads(stored, trusted=())).ok
    # rewrite history from run-3 on, every hash regenerated: the links alone agree again
    _rewrite(stored / "run-3", {"operator": "someone-else"})
    _relink(stored / "run-4", stored / "run-3")
    assert verify_chain(stored, trusted_keys=[]).ok
    problems = verify_chain(stored, trusted_keys=[], heads=read_local_heads(stored, trusted=())).problems
    assert any(p.startswith("edited: bundle run-3 differs from the chain head 00000003-run-3.json")
               for p in problems)
    shutil.rmtree(stored / "run-4")
    problems = verify_chain(stored, trusted_keys=[], heads=read_local_heads(stored, trusted=())).problems
    assert "deleted: bundle run-4 (#4) is recorded by the chain head 00000004-run-4.json but is not in " \
           "the chain" in problems


def test_cli_chain_exit_codes_and_output(chain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    local = ["evidence", "verify", "--chain", str(chain), "--public-key", KEY.public]
    assert main([*local, "--allow-unanchored"]) == 0
    out = capsys.readouterr().out
    assert "#4 run-4  ok  signature: valid" in out
    assert out.splitlines()[-1] == (f"ok (unanchored): chain {chain}: 4 bundle(s) intact and linked first to newest; "
                                    "truncation not checked: no chain heads at this location (a local copy); verify "
                                    "the store's copy")
    assert main(local) == 1  # a local copy has no chain heads: it cannot show a deleted newest bundle
    assert "but truncation not checked: no chain heads at this location" in capsys.readouterr().err
    shutil.rmtree(chain / "run-3")
    assert main([*local, "--allow-unanchored"]) == 1
    err = capsys.readouterr().err
    assert "problem: deleted: bundle run-3 is missing — run-4 links to it" in err
    assert main(["evidence", "verify"]) == 2
    assert main(["evidence", "verify", str(chain / "run-1"), "--allow-unanchored"]) == 2


def test_deleting_the_newest_bundle_with_its_head_on_a_file_store_fails_unless_allowed(
        unsigned_chain: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    for run_id in RUNS:
        upload_bundle(unsigned_chain / run_id, store.as_uri(), trusted_keys=[])
    shutil.rmtree(store / "evidence" / "run-4")  # the newest bundle and its (unlocked) head: a clean truncation
    (store / "evidence" / "_heads" / "00000004-run-4.json").unlink()

    assert main(["evidence", "verify", "--chain", store.as_uri()]) == 1
    captured = capsys.readouterr()
    verdict = captured.out.strip().splitlines()[-1] if captured.out.strip() else ""
    assert not verdict.startswith("ok:"), verdict
    assert "truncation" in captured.err and "not object-locked" in captured.err

    assert main(["evidence", "verify", "--chain", store.as_uri(), "--allow-unanchored"]) == 0
    verdict = capsys.readouterr().out.strip().splitlines()[-1]
    assert verdict.startswith("ok (unanchored): chain ") and "truncation not checked" in verdict


def test_a_chain_is_anchored_only_while_every_head_is_locked(unsigned_chain: Path) -> None:
    from harness.evidence.chain import ChainHead
    from harness.evidence.links import read_links

    links = read_links(unsigned_chain)
    now = T0 + timedelta(days=10)

    def heads(until: str | None) -> list[ChainHead]:
        return [ChainHead(link.run_id, link.sequence or 0, link.sums_sha256,
                          f"{link.sequence:08d}-{link.run_id}.json", until) for link in links.values()]

    later, earlier = (now + timedelta(days=1)).isoformat(), (now - timedelta(days=1)).isoformat()
    locked = verify_chain(unsigned_chain, trusted_keys=[], heads=heads(later), now=now)
    assert locked.ok and locked.anchored and locked.head.startswith("newest locked head #4 is run-4, locked until")
    expired = verify_chain(unsigned_chain, trusted_keys=[], heads=heads(earlier), now=now)
    assert expired.ok and expired.unanchored == "the object lock of 4 of 4 chain head(s) has run out"
    unlocked = verify_chain(unsigned_chain, trusted_keys=[], heads=heads(None), now=now)
    assert (unlocked.unanchored or "").startswith("4 of 4 chain head(s) are not object-locked")
    assert unlocked.head == "newest chain head #4 is run-4, not locked"
    none_yet = verify_chain(unsigned_chain, trusted_keys=[], heads=[], now=now)
    assert none_yet.unanchored == "the store holds no chain head yet"
    assert verify_chain(unsigned_chain, trusted_keys=[]).to_json()["anchored"] is False
