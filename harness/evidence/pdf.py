"""The auditor's PDF of one evidence bundle, laid out by reportlab from the bundle's run.json.

The PDF is written outside the bundle (reports/evidence-pdf/<run-id>.pdf by
default): the bundle is fixed by its SHA256SUMS once built, and the PDF is a
reading of it, not part of it. Everything shown comes from run.json, the
verification of the bundle, and the run.json of the bundles before it in the
same evidence root (the trend).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from harness.errors import CheckFailed, UsageError
from harness.evidence import integrity
from harness.evidence.chain import verify_chain
from harness.evidence.charts import measure_chart, timeline_chart
from harness.evidence.label import labelled
from harness.evidence.tables import fmt_seconds, phase_rows, target_rows
from harness.evidence.trend_data import scenario_name, series_by_scenario, trend_points
from harness.evidence.verify import verify_bundle

#: beside the chain's directory: reports/evidence/<run-id>/ → reports/evidence-pdf/<run-id>.pdf
PDF_DIR = "evidence-pdf"
LABEL_COLOUR = colors.HexColor("#b35900")
_STYLES = getSampleStyleSheet()
_BODY = _STYLES["BodyText"]
_LABEL = ParagraphStyle("label", parent=_BODY, textColor=LABEL_COLOUR, fontName="Helvetica-Bold")
_GRID = TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("FONTSIZE", (0, 0), (-1, -1), 8),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"), ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)])


def default_pdf_path(bundle: Path) -> Path:
    """<chain's parent>/evidence-pdf/<run-id>.pdf (reports/evidence-pdf/ for reports/evidence/): beside the
    chain wherever it is, never inside a hashed bundle, never wherever the process happens to run."""
    return bundle.parent.parent / PDF_DIR / f"{bundle.name}.pdf"


def _p(text: Any, style: ParagraphStyle = _BODY) -> Paragraph:
    return Paragraph(escape("—" if text in (None, "") else str(text)), style)


def _image(png: bytes, width_cm: float = 17.0) -> Image:
    image = Image(io.BytesIO(png))
    scale = width_cm * cm / image.imageWidth
    image.drawWidth, image.drawHeight = image.imageWidth * scale, image.imageHeight * scale
    return image


def _table(rows: list[list[Any]], widths: list[float] | None = None) -> Table:
    table = Table([[_p(cell) if not isinstance(cell, Flowable) else cell for cell in row] for row in rows],
                  colWidths=widths, hAlign="LEFT", repeatRows=1)
    table.setStyle(_GRID)
    return table


def _identity_section(run: Mapping[str, Any]) -> list[Flowable]:
    prev = run.get("previous") or {}
    versions = ", ".join(f"{k} {v}" for k, v in sorted((run.get("tool_versions") or {}).items()))
    rows: list[list[Any]] = [["Run id", run.get("run_id")], ["Target", run.get("target")],
            ["Context / namespace", f"{run.get('context') or '—'} / {run.get('namespace') or '—'}"],
            ["Operator", run.get("operator")], ["Host", run.get("host")],
            ["Git commit", f"{run.get('git_sha') or '—'}{' (modified work tree)' if run.get('git_dirty') else ''}"],
            ["Started (UTC)", run.get("started_at")], ["Ended (UTC)", run.get("ended_at")],
            ["Config sha256", run.get("config_sha256")], ["Tool versions", versions],
            ["Previous bundle", f"{prev.get('run_id') or '—'} (SHA256SUMS sha256 {prev.get('sha256') or '—'})"]]
    return [Paragraph("Run identity", _STYLES["Heading2"]), _table(rows, [4 * cm, 13 * cm])]


def _scenario_section(scenario: Mapping[str, Any], label: str | None) -> list[Flowable]:
    name = str(scenario.get("name") or scenario_name(dict(scenario)))
    parts: list[Flowable] = [Paragraph(escape(f"{name} — {scenario.get('verdict')}"), _STYLES["Heading3"]),
                             _p(labelled(f"Verdict: {scenario.get('verdict')}", label),
                                _LABEL if label else _BODY)]
    if scenario.get("reason"):
        parts.append(_p(f"Reason: {scenario['reason']}"))
    rows: list[list[Any]] = [["measure", "target (s)", "measured (s)", "margin (s)", "verdict"]]
    rows += [[r.name, fmt_seconds(r.target), fmt_seconds(r.measured), fmt_seconds(r.margin), r.verdict]
             for r in target_rows(scenario.get("measurements", []))]
    parts += [Spacer(1, 4), _table(rows, [5 * cm, 2.5 * cm, 2.5 * cm, 2.5 * cm, 4.5 * cm])]
    phases = phase_rows(scenario.get("timeline"))
    if phases:
        parts += [Spacer(1, 4), _image(timeline_chart(phases, title=f"Recovery phases — {name}", label=label,
                                                      fmt="png"))]
    else:
        parts.append(_p("No recovery timeline was recorded for this scenario."))
    parts.append(_p(f"Controls evidenced: {', '.join(scenario.get('controls', [])) or '—'}"))
    return [KeepTogether(parts[:3]), *parts[3:]]


def _trend_section(bundle: Path, evidence_root: Path) -> list[Flowable]:
    points = trend_points(evidence_root, up_to=bundle.name)
    runs = len({p.run_id for p in points})
    parts: list[Flowable] = [Paragraph("Trend over the evidence chain", _STYLES["Heading2"]),
                             _p(f"{runs} run(s) in {evidence_root}, up to and including this one.")]
    for items in series_by_scenario(points).values():
        parts += [_image(measure_chart(items, "png")), Spacer(1, 6)]
    return parts


def _integrity_section(bundle: Path) -> list[Flowable]:
    """Hashes, link and signature of this bundle, then the whole chain it stands in, as `evidence verify` sees them."""
    report = verify_bundle(bundle)
    chain = verify_chain(bundle.parent)
    rows: list[list[Any]] = [["check", "result"], ["verified", "ok" if report.ok else "FAILED"],
                             ["files checked", str(report.files_checked)], ["link", report.chain],
                             ["signature", report.signature],
                             ["whole chain", (f"{'ok' if chain.ok else 'FAILED'}: {len(chain.bundles)} bundle(s) in "
                                             f"{bundle.parent.name}/, first to newest; chain head: {chain.head}")]]
    rows += [["problem", problem] for problem in report.problems]
    rows += [["chain problem", problem] for problem in chain.problems if problem not in
             {f"{bundle.name}: {p}" for p in report.problems}]
    rows += [["note", note] for note in report.notes]
    return [Paragraph("Signatures and chain", _STYLES["Heading2"]), _table(rows, [4 * cm, 13 * cm])]


def _read_run(bundle: Path) -> dict[str, Any]:
    if not bundle.is_dir():
        raise UsageError(f"{bundle} is not a directory", fix="pass an evidence bundle: reports/evidence/<run-id>")
    run_json = bundle / integrity.RUN_JSON
    if not run_json.is_file():
        raise CheckFailed(f"{bundle} has no {integrity.RUN_JSON}: it is not an evidence bundle",
                          fix="pass reports/evidence/<run-id>, built by `sentinel-drill evidence bundle`")
    run: dict[str, Any] = json.loads(run_json.read_text())
    return run


def build_pdf(bundle: Path, out: Path | None = None, *, evidence_root: Path | None = None) -> Path:
    """Write the auditor's PDF of `bundle` to `out` (default: reports/evidence-pdf/<run-id>.pdf); return its path.

    The trend is drawn from the bundles in `evidence_root` (default: the
    bundle's parent directory, i.e. its chain) up to and including this run.
    """
    run = _read_run(bundle)
    label = run.get("label")
    out = out or default_pdf_path(bundle)
    if out.resolve().is_relative_to(bundle.resolve()):
        raise UsageError(f"{out} is inside the bundle {bundle}: it would break the bundle's SHA256SUMS",
                         fix=f"write it elsewhere, e.g. --out {default_pdf_path(bundle)}")
    title = labelled(f"DR drill evidence — run {run.get('run_id')}", label)
    story: list[Flowable] = [Paragraph(escape(title), _STYLES["Title"]),
                             _p(labelled(f"Overall verdict: {run.get('verdict')}", label),
                                _LABEL if label else _STYLES["Heading2"])]
    story += _identity_section(run)
    story.append(Paragraph("Scenarios", _STYLES["Heading2"]))
    for scenario in run.get("scenarios", []):
        story += _scenario_section(scenario, label)
    story += _trend_section(bundle, evidence_root or bundle.parent)
    story += _integrity_section(bundle)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = SimpleDocTemplate(str(out), pagesize=A4, title=title, author="sentinel-drill",
                            leftMargin=2 * cm, rightMargin=2 * cm, topMargin=1.8 * cm, bottomMargin=1.8 * cm)
    doc.build(story)
    return out
