"""report / evidence bundle / evidence verify / evidence upload / evidence pdf commands."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

import click

from harness.cli.app import app, config_option, emit_json, json_option, settings_from
from harness.errors import CheckFailed, ConfigError, UsageError
from harness.evidence.bundle import build_bundle
from harness.evidence.chain import ChainReport
from harness.evidence.chain_store import verify_chain_at
from harness.evidence.clock_check import DEFAULT_CLOCK_TOLERANCE_S
from harness.evidence.integrity import RUN_JSON
from harness.evidence.pdf import build_pdf
from harness.evidence.recompute import RecomputeReport, recompute_run
from harness.evidence.report import build_report
from harness.evidence.trend import write_trend
from harness.evidence.upload import DEFAULT_RETAIN_DAYS, LockMode, UploadResult, upload_bundle
from harness.evidence.verify import verify_bundle

RESULTS_DIR = Path("reports/allure-results")
REPORT_DIR = Path("reports/allure-report")
DRILL_RESULTS = Path("reports/drill-results.json")
EVIDENCE_ROOT = Path("reports/evidence")

store_option = click.option("--store", "store", default=None,
                            help="s3://bucket/prefix or file:///dir (default: store_url from the settings).")
retain_option = click.option("--retain-days", type=click.IntRange(min=1), default=None,
                             help="Object-lock retention of the bundle and its chain head when the bucket has object "
                                  f"lock (default: evidence_retention_days, {DEFAULT_RETAIN_DAYS}).")
lock_option = click.option("--lock-mode", type=click.Choice(get_args(LockMode)), default=None,
                           help="Object-lock mode (default: the bucket's default retention mode, else GOVERNANCE).")


@app.command("report")
@click.option("--results", "results", type=click.Path(path_type=Path), default=RESULTS_DIR, show_default=True,
              help="Allure results directory.")
@click.option("--out", "out", type=click.Path(path_type=Path), default=REPORT_DIR, show_default=True,
              help="HTML report directory (the single file goes to <out>-single/index.html).")
@click.option("--single-file/--no-single-file", default=True, show_default=True,
              help="Also write a one-file HTML report for archiving.")
@click.option("--evidence", "evidence_root", type=click.Path(path_type=Path), default=Path("reports/evidence"),
              show_default=True, help="Evidence bundles the RTO/RPO trend page is drawn from.")
@json_option
def report_command(results: Path, out: Path, single_file: bool, evidence_root: Path, as_json: bool) -> None:
    """Build the Allure HTML report (history carried for trends) and the RTO/RPO trend page."""
    info = build_report(results, out, single_file=single_file)
    trend_runs = write_trend(evidence_root, out / "rto-rpo-trend.html")
    if as_json:
        emit_json({**info.to_json(), "rto_rpo_trend_runs": trend_runs})
        return
    if trend_runs:
        click.echo(f"RTO/RPO trend: {out}/rto-rpo-trend.html ({trend_runs} run(s))")
    click.echo(f"report: {info.report_dir}/index.html ({info.results} results, "
               f"{info.report_bytes / 1e6:.1f} MB, {info.generate_seconds:.1f}s; "
               f"{info.history_runs} run(s) in the trend)")
    if info.single_file:
        click.echo(f"single file: {info.single_file} ({(info.single_file_bytes or 0) / 1e6:.1f} MB, "
                   f"{info.single_file_seconds:.1f}s)")


@app.group("evidence")
def evidence() -> None:
    """Tamper-evident evidence bundles: build, verify, upload, and the auditor's PDF."""


def _upload(bundle: Path, store: str | None, retain_days: int | None, lock_mode: LockMode | None,
            config: str | None) -> UploadResult:
    settings = settings_from(config)
    url = store or settings.store_url
    if not url:
        raise ConfigError("no evidence store given", fix="pass --store s3://bucket/prefix or set DRILL_STORE_URL")
    return upload_bundle(bundle, url, retain_days=retain_days or settings.evidence_retention_days,
                         lock_mode=lock_mode, trusted_keys=settings.evidence_public_keys)


def _echo_upload(result: UploadResult) -> None:
    if result.already_present:
        click.echo(f"uploaded: already present, identical: {result.location}")
        return
    lock = f"object lock {result.lock_mode} until {result.retain_until}" if result.locked else "no object lock"
    click.echo(f"uploaded: {result.objects} objects ({result.bytes} bytes) to {result.location} ({lock})")
    if result.head:
        click.echo(f"chain head: {result.head}")
    if result.fork_warning:
        click.echo(f"warning: {result.fork_warning}", err=True)


@evidence.command("bundle")
@click.option("--results", "results", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              default=DRILL_RESULTS, show_default=True, help="The drill's records (drill-results.json).")
@click.option("--out", "out", type=click.Path(path_type=Path), default=EVIDENCE_ROOT, show_default=True,
              help="Directory holding one bundle per run (the chain).")
@click.option("--artifact", "artifacts", multiple=True, type=click.Path(path_type=Path),
              help="Extra file or directory to include (repeatable).")
@click.option("--run-id", "run_id", default=None, help="Run id (default: from the results, else time + target).")
@click.option("--upload", "upload", is_flag=True, help="Also upload the bundle to the store.")
@click.option("--pdf/--no-pdf", "pdf", default=True, show_default=True,
              help="Also write the auditor's PDF beside the chain: <out>/../evidence-pdf/<run-id>.pdf (reports/evidence-pdf/).")
@store_option
@retain_option
@lock_option
@config_option
@json_option
def bundle_command(results: Path, out: Path, artifacts: tuple[Path, ...], run_id: str | None, upload: bool,
                   pdf: bool, store: str | None, retain_days: int | None, lock_mode: LockMode | None,
                   config: str | None, as_json: bool) -> None:
    """Build reports/evidence/<run-id>/ from a drill-results.json, and recompute it from its raw observations
    (exit 1 when a stated figure or verdict differs; the bundle is kept: it is what the run said)."""
    written = write_evidence(results, out, artifacts=artifacts, run_id=run_id, pdf=pdf, upload=upload, store=store,
                             retain_days=retain_days, lock_mode=lock_mode, config=config, say=not as_json)
    if as_json:
        emit_json({"bundle": str(written.bundle), "pdf": str(written.pdf) if written.pdf else None,
                   "upload": written.upload.to_json() if written.upload else None,
                   "recompute": written.recompute.to_json()})
    if not written.recompute.ok:
        raise CheckFailed(f"evidence bundle {written.bundle} does not recompute from its raw observations: "
                          f"{written.recompute.problems[0]}",
                          fix="the drill stated a figure its observations do not give: a harness bug; keep the bundle "
                              "and report it (evidence verify --recompute names every difference)")


@dataclass(frozen=True)
class WrittenEvidence:
    bundle: Path
    pdf: Path | None
    upload: UploadResult | None
    recompute: RecomputeReport


def write_evidence(results: Path, out: Path, *, artifacts: tuple[Path, ...] = (), run_id: str | None = None,
                   pdf: bool = True, upload: bool = False, store: str | None = None, retain_days: int | None = None,
                   lock_mode: LockMode | None = None, config: str | None = None, say: bool = True) -> WrittenEvidence:
    """The bundle, its recomputation, then its PDF (beside the chain, in evidence-pdf/), then the upload: each said as
    soon as it exists, so a later failure cannot hide what was already written. Every bundle is recomputed as it is
    built, so a drill whose stated figures do not follow from its observations is caught by its own run, not by an
    auditor a year later."""
    path = build_bundle(results, out_root=out, artifacts=list(artifacts), meta={"run_id": run_id} if run_id else None)
    recomputed = recompute_run(path, json.loads((path / RUN_JSON).read_text()))
    if say:
        click.echo(f"bundle: {path}")
        for problem in recomputed.problems:
            click.echo(f"problem: {problem}", err=True)
        click.echo(f"recomputed: {recomputed.summary()}")
    pdf_path = build_pdf(path) if pdf else None
    if say and pdf_path:
        click.echo(f"pdf: {pdf_path}")
    uploaded = _upload(path, store, retain_days, lock_mode, config) if upload else None
    if say and uploaded:
        _echo_upload(uploaded)
    return WrittenEvidence(path, pdf_path, uploaded, recomputed)


public_key_option = click.option(
    "--public-key", "public_keys", multiple=True, metavar="BASE64",
    help="A trusted evidence public key (repeatable; default: evidence_public_keys / DRILL_EVIDENCE_PUBLIC_KEYS). "
         "With one, every bundle must carry a valid signature by it.")


def _trusted(public_keys: tuple[str, ...], config: str | None) -> tuple[str, ...]:
    return public_keys or settings_from(config).evidence_public_keys


def _verify_chain(chain: str, trusted: tuple[str, ...], *, allow_unanchored: bool, recompute: bool,
                  clock_tolerance: float, as_json: bool) -> None:
    """`verify --chain`: the report, then one verdict line that says what could not be checked."""
    report = verify_chain_at(chain, trusted=trusted, recompute=recompute, clock_tolerance_s=clock_tolerance)
    if as_json:
        emit_json(report.to_json())
    else:
        _echo_chain(report)
    not_checked = f"; truncation not checked: {report.unanchored}" if report.unanchored else ""
    if not report.ok:
        raise CheckFailed(f"evidence chain {report.location} failed verification: {report.problems[0]}{not_checked}",
                          fix="do not trust this chain; every problem is listed above")
    intact = f"{len(report.bundles)} bundle(s) intact and linked first to newest"
    if report.unanchored and not allow_unanchored:
        raise CheckFailed(f"evidence chain {report.location}: {intact}, but truncation not checked: "
                          f"{report.unanchored}",
                          fix="verify the store's copy on a bucket with object lock (its chain heads locked), or pass "
                              "--allow-unanchored to accept a chain whose newest bundles could be gone unseen")
    if as_json:
        return
    if report.unanchored:
        click.echo(f"ok (unanchored): chain {report.location}: {intact}{not_checked}")
    else:
        click.echo(f"ok: chain {report.location}: {intact}; every chain head object-locked")


def _echo_chain(report: ChainReport) -> None:
    click.echo(f"chain: {report.location} — {len(report.bundles)} bundle(s)")
    for status in report.bundles:
        number = f"#{status.sequence}" if status.sequence is not None else "#?"
        recomputed = f"  recomputed: {status.recomputed}" if status.recomputed != "not asked" else ""
        click.echo(f"  {number:>4} {status.run_id}  {'ok' if status.ok else 'FAILED'}  signature: {status.signature}"
                   f"{recomputed}")
    click.echo(f"chain head: {report.head}")
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    for problem in report.problems:
        click.echo(f"problem: {problem}", err=True)


@evidence.command("verify")
@click.argument("bundle", required=False, type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--chain", "chain", default=None, metavar="DIR|s3://bucket/prefix",
              help="Verify every bundle and every link from the first to the newest, against the store's locked "
                   "chain heads: names each deleted, reordered, edited or forked bundle.")
@click.option("--allow-unanchored", "allow_unanchored", is_flag=True,
              help="With --chain: pass a chain whose truncation cannot be checked (no chain heads, or heads not "
                   "object-locked: a local copy, a file:// store, a bucket without object lock); the verdict still "
                   "says what was not checked.")
@click.option("--recompute", "recompute", is_flag=True,
              help="Also derive every scenario's RTO, phases, RPO, availability and verdict again from the bundle's "
                   "raw observations and the targets recorded there, and name every difference from the stated "
                   "results (exit 1). Needs nothing but the bundle.")
@click.option("--clock-tolerance", "clock_tolerance", type=click.FloatRange(min=0), metavar="SECONDS",
              default=DEFAULT_CLOCK_TOLERANCE_S, show_default=True,
              help="How far the drill's wall clock may be from the store's clock (Last-Modified and Date, read "
                   "during the run) beyond their 1 s resolution before the bundle fails.")
@public_key_option
@config_option
@json_option
def verify_command(bundle: Path | None, chain: str | None, allow_unanchored: bool, recompute: bool,
                   clock_tolerance: float, public_keys: tuple[str, ...], config: str | None, as_json: bool) -> None:
    """Recompute a bundle's hashes, chain link and signature — or a whole chain's (exit 1 naming what changed).

    A chain whose newest bundles could have been deleted with their chain heads unseen fails too (exit 1),
    unless --allow-unanchored. With --recompute, the figures and verdicts are derived again from the raw
    observations and every difference from the stated ones fails the bundle.
    """
    if (bundle is None) == (chain is None):
        raise UsageError("give either a BUNDLE directory or --chain DIR|s3://bucket/prefix",
                         fix="e.g. `evidence verify reports/evidence/<run-id>` or `evidence verify --chain s3://bucket/prefix`")
    if allow_unanchored and chain is None:
        raise UsageError("--allow-unanchored applies to --chain only", fix="drop it, or verify --chain")
    trusted = _trusted(public_keys, config)
    if chain is not None:
        _verify_chain(chain, trusted, allow_unanchored=allow_unanchored, recompute=recompute,
                      clock_tolerance=clock_tolerance, as_json=as_json)
        return
    assert bundle is not None
    report = verify_bundle(bundle, trusted_keys=trusted, recompute=recompute, clock_tolerance_s=clock_tolerance)
    if as_json:
        emit_json(report.to_json())
    else:
        for note in report.notes:
            click.echo(f"note: {note}", err=True)
        for problem in report.problems:
            click.echo(f"problem: {problem}", err=True)
        if recompute and not report.ok:
            click.echo(f"recomputed: {report.recomputed}", err=True)
    if not report.ok:
        raise CheckFailed(f"evidence bundle {bundle} failed verification: {report.problems[0]}",
                          fix="do not trust this bundle; compare it with the copy in the evidence store")
    if not as_json:
        recomputed = f"; recomputed: {report.recomputed}" if recompute else ""
        click.echo(f"ok: {bundle}: {report.files_checked} files intact; chain: {report.chain}; "
                   f"signature: {report.signature}; clock: {report.clock}{recomputed}")


@evidence.command("upload")
@click.argument("bundle", type=click.Path(path_type=Path, exists=True, file_okay=False))
@store_option
@retain_option
@lock_option
@config_option
@json_option
def upload_command(bundle: Path, store: str | None, retain_days: int | None, lock_mode: LockMode | None,
                   config: str | None, as_json: bool) -> None:
    """Verify a bundle and store it under <store>/evidence/<run-id>/ (object-locked when enabled)."""
    result = _upload(bundle, store, retain_days, lock_mode, config)
    if as_json:
        emit_json(result.to_json())
    else:
        _echo_upload(result)


@evidence.command("pdf")
@click.argument("bundle", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The PDF to write (default: beside the chain, reports/evidence-pdf/<run-id>.pdf for reports/evidence/; never inside the bundle).")
@click.option("--evidence-root", "evidence_root", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Bundles the trend is drawn from (default: the bundle's parent directory).")
@json_option
def pdf_command(bundle: Path, out: Path | None, evidence_root: Path | None, as_json: bool) -> None:
    """Write the auditor's PDF of a bundle: identity, verdicts, RTO/RPO vs targets, phases, trend, integrity."""
    path = build_pdf(bundle, out, evidence_root=evidence_root)
    if as_json:
        emit_json({"bundle": str(bundle), "pdf": str(path), "bytes": path.stat().st_size})
        return
    click.echo(f"pdf: {path} ({path.stat().st_size / 1e3:.0f} kB)")
