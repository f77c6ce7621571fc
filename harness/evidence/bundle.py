"""The evidence bundle: one directory per drill run that an auditor can check offline.

`reports/evidence/<run-id>/` holds `run.json` (verdicts, measured values,
targets, times, operator, host, commit, config hash, tool versions, the
runbook's contacts, the clock sources), the journals, timelines and
verification reports, each scenario's raw observations as JSON Lines
(`observations/<stream>.jsonl`, what `evidence verify --recompute` derives the
figures from), `summary.md`, `metrics.prom`, `previous` (the hash chain) and
`SHA256SUMS` (+ its Ed25519 signature when the pipeline's evidence key is set). Every file
is scrubbed of secrets before it is written, and the bundle appears under its
final name only once it is complete.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.errors import UsageError
from harness.evidence import attestation, integrity, provenance
from harness.evidence.label import evidence_label
from harness.evidence.links import chain_tip, read_links
from harness.evidence.metrics import render_metrics
from harness.evidence.naming import scenario_key, slug
from harness.evidence.record import ScenarioRecord, Verdict, read_records
from harness.evidence.summary import render_summary
from harness.evidence.tables import target_rows, targets_csv, timeline_text
from harness.redaction import Redactor
from harness.safe_paths import path_under, write_under
from harness.signing import key_id, public_key_text, signer_from_env

log = logging.getLogger(__name__)

SCHEMA = "sentinel-drill/evidence/v1"
#: meta keys that have a place of their own in run.json; the rest go under "extra"
_META_KEYS = {"run_id", "target", "context", "namespace", "started_at", "ended_at", "settings", "config",
              "versions", "git_sha", "operator", "host", "contacts", "clock_sources"}
#: where a scenario's raw observations go, below its folder
OBSERVATIONS_DIR = "observations"
#: worst first: a breach outranks a broken harness, which outranks an unproven fault
_VERDICT_ORDER = (Verdict.FAIL, Verdict.ERROR, Verdict.INVALID, Verdict.PASS)


def overall_verdict(verdicts: Sequence[str]) -> str:
    """The run's verdict: the worst scenario verdict; ERROR when nothing ran."""
    for verdict in _VERDICT_ORDER:
        if verdict.value in verdicts:
            return verdict.value
    return Verdict.ERROR.value


def _safe_component(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._+\-@]+", "-", name).strip("-.")
    return cleaned or "file"


class _Writer:
    """Writes files into the bundle being built, scrubbing each and remembering redactions."""

    def __init__(self, root: Path, scrubber: Redactor) -> None:
        self.root = root
        self.scrubber = scrubber
        self.redactions: list[dict[str, Any]] = []

    def unique(self, rel: str) -> str:
        path = Path(rel)
        candidate, n = rel, 1
        while path_under(self.root, candidate, what="bundle file").exists():
            n += 1
            candidate = (path.parent / f"{path.stem}-{n}{path.suffix}").as_posix()
        return candidate

    def put(self, rel: str, data: bytes | str) -> str:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        clean, count = self.scrubber.scrub_bytes(raw, name=rel)
        if count:
            log.warning("redacted %d secret occurrence(s) from %s", count, rel)
            self.redactions.append({"file": rel, "count": count})
        write_under(self.root, rel, clean, what="bundle file")
        return rel

    def copy_in(self, source: Path, under: str) -> list[str]:
        """Copy a file or a directory tree under `under/`; return the bundle paths written."""
        if source.is_dir():
            written: list[str] = []
            for path in sorted(p for p in source.rglob("*") if p.is_file()):
                parts = [_safe_component(p) for p in path.relative_to(source).parts]
                rel = self.unique("/".join([under, _safe_component(source.name), *parts]))
                written.append(self.put(rel, path.read_bytes()))
            return written
        return [self.put(self.unique(f"{under}/{_safe_component(source.name)}"), source.read_bytes())]


def _json_text(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"


def find_previous(out_root: Path, *, exclude: str) -> tuple[str, str, int] | None:
    """(run_id, sha256 of its SHA256SUMS, sequence) of the chain's tip in `out_root`, if any bundle is there."""
    tip = chain_tip(read_links(out_root, exclude=exclude))
    if tip is None:
        return None
    return tip.run_id, tip.sums_sha256, tip.sequence or 0


def jsonl_text(lines: Sequence[Mapping[str, Any]]) -> str:
    """JSON Lines: one record per line, keys sorted, floats as Python writes them (exact round trip)."""
    return "".join(json.dumps(line, sort_keys=True, default=str) + "\n" for line in lines)


def _observation_files(writer: _Writer, record: ScenarioRecord, folder: str) -> list[str]:
    return [writer.put(f"{folder}/{OBSERVATIONS_DIR}/{stream}.jsonl", jsonl_text(lines))
            for stream, lines in record.observations.items() if lines]


def _scenario_files(writer: _Writer, record: ScenarioRecord, folder: str) -> tuple[list[str], list[str]]:
    files: list[str] = []
    missing: list[str] = []
    if record.timeline:
        files.append(writer.put(f"{folder}/timeline.json", _json_text(record.timeline)))
        files.append(writer.put(f"{folder}/timeline.txt", timeline_text(record.timeline)))
    files.append(writer.put(f"{folder}/targets.csv", targets_csv(target_rows(record.measurements))))
    if record.verification:
        files.append(writer.put(f"{folder}/verification.json", _json_text(record.verification)))
    for artifact in record.artifacts:
        path = Path(artifact)
        if path.exists():
            files += writer.copy_in(path, folder)
        else:
            missing.append(str(artifact))
    return files, missing


def build_bundle(
    records: Path | Sequence[ScenarioRecord],
    *,
    out_root: Path,
    artifacts: Sequence[Path] = (),
    meta: Mapping[str, Any] | None = None,
    secrets_to_scrub: Sequence[str] = (),
    signing_key: Ed25519PrivateKey | None = None,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Path:
    """Build `out_root/<run-id>/` from a drill-results.json (or records) and return its path.

    `meta` overrides the file's meta (run_id, target, context, namespace,
    started_at, ended_at, settings, versions, git_sha, operator, host). The
    signing key defaults to DRILL_EVIDENCE_SIGNING_KEY (PEM), whose text is
    scrubbed like a password. The bundle follows the chain's tip in `out_root`. Raises
    UsageError if the run id already has a bundle, SafetyRefused if a binary
    artifact holds a secret.
    """
    env = os.environ if env is None else env
    if isinstance(records, (str, Path)):
        file_meta, scenario_records = read_records(Path(records))
        meta = {**file_meta, **(meta or {})}
    else:
        scenario_records, meta = list(records), dict(meta or {})
    if signing_key is None:
        signing_key = signer_from_env(env, env_name=integrity.SIGNING_KEY_ENV)
    pem = env.get(integrity.SIGNING_KEY_ENV, "").strip()
    scrubber = Redactor.from_env([*secrets_to_scrub, *([pem] if pem else [])], env=env)
    created = now or provenance.utc_now()
    target = str(meta.get("target") or "unknown")
    run_id = _safe_component(str(meta.get("run_id") or f"{created:%Y%m%dT%H%M%SZ}-{slug(target, max_length=30)}"))
    out_root = Path(out_root)
    final = path_under(out_root, run_id, what="run id")
    if final.exists():
        raise UsageError(f"evidence bundle {final} already exists", fix="use a new run id or another --out")
    out_root.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".building-{run_id}-", dir=out_root))
    try:
        _fill(building, writer=_Writer(building, scrubber), records=scenario_records, artifacts=artifacts,
              meta=meta, run_id=run_id, created=created, target=target, env=env,
              previous=find_previous(out_root, exclude=run_id), signing_key=signing_key)
        building.rename(final)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return final


def _fill(
    root: Path,
    *,
    writer: _Writer,
    records: Sequence[ScenarioRecord],
    artifacts: Sequence[Path],
    meta: Mapping[str, Any],
    run_id: str,
    created: datetime,
    target: str,
    env: Mapping[str, str],
    previous: tuple[str, str, int] | None,
    signing_key: Ed25519PrivateKey | None,
) -> None:
    scenarios: list[dict[str, Any]] = []
    cases: set[str] = set()
    for index, record in enumerate(records, start=1):
        case = slug(record.name)
        while case in cases:
            case = f"{case}-{index}"
        cases.add(case)
        folder = f"scenarios/{index:02d}-{slug(record.name, max_length=40)}"
        files, missing = _scenario_files(writer, record, folder)
        observed = _observation_files(writer, record, folder)
        entry = {**record.to_json(), "key": scenario_key(record.tags), "case": case, "dir": folder,
                 "files": files + observed, "missing_artifacts": missing, "observations": observed}
        scenarios.append(entry)
    run_files: list[str] = []
    run_missing: list[str] = []
    for artifact in artifacts:
        if Path(artifact).exists():
            run_files += writer.copy_in(Path(artifact), "artifacts")
        else:
            run_missing.append(str(artifact))
    writer.put(integrity.PREVIOUS, integrity.format_previous(*(previous[:2] if previous else (None, None))))
    config = dict(meta.get("settings") or meta.get("config") or {})
    started = [s["started_at"] for s in scenarios if s.get("started_at")]
    ended = [s["ended_at"] for s in scenarios if s.get("ended_at")]
    run: dict[str, Any] = {
        "schema": SCHEMA,
        "run_id": run_id,
        "created_at": provenance.iso(created),
        "started_at": meta.get("started_at") or (min(started) if started else None),
        "ended_at": meta.get("ended_at") or (max(ended) if ended else provenance.iso(created)),
        "verdict": overall_verdict([s["verdict"] for s in scenarios]),
        "target": target,
        "label": evidence_label(target),
        "context": meta.get("context"),
        "namespace": meta.get("namespace"),
        "operator": meta.get("operator") or provenance.operator(env),
        "host": meta.get("host") or provenance.host(),
        "git_sha": meta.get("git_sha") or provenance.git_sha(),
        "git_dirty": provenance.git_dirty() if not meta.get("git_sha") else meta.get("git_dirty", False),
        "config": config,
        "config_sha256": "",
        "tool_versions": {**provenance.local_tool_versions(), **dict(meta.get("versions") or {})},
        "contacts": list(meta.get("contacts") or []),
        "clock_sources": dict(meta.get("clock_sources") or {}),
        # records from a drill that kept none (an older drill-results.json) make a bundle that says so: it is
        # then not recomputed, rather than failing for what its drill could not have kept
        "raw_observations": any(s["observations"] for s in scenarios),
        "scenarios": scenarios,
        "artifacts": run_files,
        "missing_artifacts": run_missing,
        "previous": {"run_id": previous[0], "sha256": previous[1]} if previous else None,
        "sequence": (previous[2] + 1) if previous else 1,
        "signed": signing_key is not None,
        "signature_format": integrity.DSSE_FORMAT if signing_key is not None else None,
        "signing_key_id": key_id(public_key_text(signing_key.public_key())) if signing_key else None,
        "extra": {k: v for k, v in meta.items() if k not in _META_KEYS},
        "redactions": writer.redactions,
    }
    # scrub the run document as data, so summary.md and metrics.prom render from the clean copy
    clean_text, hits = writer.scrubber.scrub_text(json.dumps(run, default=str))
    run = json.loads(clean_text)
    run["config_sha256"] = provenance.config_sha256(run["config"])
    if hits:
        run["redactions"].append({"file": integrity.RUN_JSON, "count": hits})
    writer.put(integrity.RUN_JSON, _json_text(run))
    writer.put("summary.md", render_summary(run))
    writer.put("metrics.prom", render_metrics(run))
    seal(root, signing_key)


def seal(root: Path, signing_key: Ed25519PrivateKey | None) -> None:
    """Write SHA256SUMS for the bundle as it is on disk and, with a key, the DSSE attestation over every file.

    The run document the attestation's predicate is built from is the bundle's own run.json.
    """
    for stale in (integrity.ATTESTATION, integrity.SIGNATURE):
        (root / stale).unlink(missing_ok=True)
    sums = integrity.render_sums(root)
    (root / integrity.SUMS).write_text(sums)
    if signing_key is None:
        return
    run = json.loads((root / integrity.RUN_JSON).read_text())
    files = attestation.subjects(integrity.parse_sums(sums)[0], attestation.sums_sha256(sums.encode()))
    (root / integrity.ATTESTATION).write_text(attestation.envelope_text(files, run, signing_key))
