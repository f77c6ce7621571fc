"""Build the HTML report from Allure results with the Allure 2 command line.

The command line comes from the npm package `allure-commandline` (pinned
below, installed by `make allure-cli` into a cache outside the repo) and needs
Java 17. History is carried between runs so the trend graphs show pass rate and
durations over drills: the last report's `history/` (or the kept copy in
`reports/history/`) is copied into the results before generating, and the new
history is kept again afterwards, so cleaning results or reports loses no trend.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import CheckFailed, ConfigError
from harness.evidence.label import evidence_label, labelled
from harness.redaction import child_environment

#: the npm package version `make allure-cli` installs (keep in step with mk/report.mk)
ALLURE_VERSION = "2.46.1"
ALLURE_BIN_ENV = "ALLURE_BIN"
CACHE_ENV = "SENTINEL_DRILL_CACHE"
REPORT_NAME = "sentinel-drill DR evidence"
GENERATE_TIMEOUT_S = 600


@dataclass(frozen=True)
class ReportInfo:
    """What was generated, how long it took and how big it is."""

    report_dir: Path
    single_file: Path | None
    results: int
    generate_seconds: float
    single_file_seconds: float | None
    report_bytes: int
    single_file_bytes: int | None
    history_runs: int
    allure_version: str = ALLURE_VERSION

    def to_json(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get(CACHE_ENV) or Path.home() / ".cache" / "sentinel-drill")


def allure_binary(env: Mapping[str, str] | None = None) -> Path:
    """The pinned Allure command line; ConfigError naming `make setup` when it or Java is missing."""
    env = os.environ if env is None else env
    if shutil.which("java", path=env.get("PATH")) is None:
        raise ConfigError("java is not on PATH; the Allure command line needs Java 17",
                          fix="install a JDK 17 (apt-get install openjdk-17-jre-headless), then `make setup`")
    if env.get(ALLURE_BIN_ENV):
        path = Path(env[ALLURE_BIN_ENV])
    else:
        path = (cache_dir(env) / "npm" / f"allure-commandline-{ALLURE_VERSION}" / "node_modules"
                / "allure-commandline" / "dist" / "bin" / "allure")
    if not os.access(path, os.X_OK):
        raise ConfigError(f"the Allure command line {ALLURE_VERSION} is not installed at {path}",
                          fix="run `make setup` (or `make allure-cli`)")
    return path


def _tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _run_allure(binary: Path, args: list[str], env: Mapping[str, str]) -> float:
    started = time.monotonic()
    # Java decodes argv by the locale: under POSIX the report name's "—" would arrive as "???"
    run_env = child_environment({"ALLURE_NO_ANALYTICS": "true", "LC_ALL": "C.UTF-8"}, env=env)
    try:
        out = subprocess.run([str(binary), *args], capture_output=True, text=True, env=run_env,
                             timeout=GENERATE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"allure generate did not finish within {GENERATE_TIMEOUT_S}s",
                          fix="check the results directory size and the Java process") from None
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-5:]
        raise CheckFailed(f"allure generate failed (exit {out.returncode}): {' | '.join(tail)}",
                          fix="check the results directory; run the command by hand with -v")
    return time.monotonic() - started


def results_target(results_dir: Path) -> str | None:
    """The `target` the results' environment.properties names (written by the drill), or None."""
    path = Path(results_dir) / "environment.properties"
    if not path.is_file():
        return None
    for line in path.read_text(encoding="latin-1").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "target":
            value = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), value)
            return re.sub(r"\\(.)", r"\1", value).strip() or None
    return None


def report_name(results_dir: Path) -> str:
    """The report's title: labelled when the results come from the sandbox or do not say where they ran."""
    return labelled(REPORT_NAME, evidence_label(results_target(results_dir)))


def carry_history(results_dir: Path, report_dir: Path, kept_history: Path) -> None:
    """Put the newest known history into the results before generating."""
    source = report_dir / "history"
    if not (source / "history-trend.json").is_file():
        source = kept_history
    if (source / "history-trend.json").is_file():
        shutil.copytree(source, results_dir / "history", dirs_exist_ok=True)


def build_report(
    results_dir: Path,
    report_dir: Path,
    *,
    single_file: bool = True,
    single_file_dir: Path | None = None,
    kept_history: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> ReportInfo:
    """Generate `report_dir` (and a single-file copy) from `results_dir`; keep history for trends.

    Defaults: the single file goes to `<report_dir>-single/index.html`, the kept
    history to `<results_dir>/../history`. Raises ConfigError when Java or the
    Allure command line is missing, CheckFailed when there are no results or
    generation fails.
    """
    env = dict(os.environ if env is None else env)
    results_dir, report_dir = Path(results_dir), Path(report_dir)
    kept_history = kept_history or results_dir.parent / "history"
    single_file_dir = single_file_dir or report_dir.with_name(report_dir.name + "-single")
    results = sorted(results_dir.glob("*-result.json")) if results_dir.is_dir() else []
    if not results:
        raise CheckFailed(f"no Allure results in {results_dir}",
                          fix="run the drill first (pytest with --alluredir) or pass --results")
    binary = allure_binary(env)
    carry_history(results_dir, report_dir, kept_history)
    common = [str(results_dir), "--clean", "--name", report_name(results_dir)]
    generate_s = _run_allure(binary, ["generate", *common, "-o", str(report_dir)], env)
    if (report_dir / "history").is_dir():
        if kept_history.exists():
            shutil.rmtree(kept_history)
        shutil.copytree(report_dir / "history", kept_history)
    single_path: Path | None = None
    single_s: float | None = None
    if single_file:
        single_s = _run_allure(binary, ["generate", *common, "--single-file", "-o", str(single_file_dir)], env)
        single_path = single_file_dir / "index.html"
    trend = report_dir / "history" / "history-trend.json"
    runs = len(json.loads(trend.read_text())) if trend.is_file() else 0
    return ReportInfo(
        report_dir=report_dir,
        single_file=single_path,
        results=len(results),
        generate_seconds=round(generate_s, 2),
        single_file_seconds=round(single_s, 2) if single_s is not None else None,
        report_bytes=_tree_bytes(report_dir),
        single_file_bytes=single_path.stat().st_size if single_path and single_path.is_file() else None,
        history_runs=runs,
    )
