"""Run the bench: build the dataset, measure every step N times beside its floor, write JSON + Markdown.

Each repetition of a harness step is followed by one of its floor, so a load
spike on this shared machine hits both. The harness runs in this process; its
peak RSS is sampled (bench.rss). Exit 0 even when a target is missed (this is a
measurement), unless --strict.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from bench import dataset, floors, rto
from bench.report import Figure, markdown, rounded, spread, targets_for, write
from bench.rss import METHOD, PeakRss
from bench.stores import KINDS, Transport, transport
from harness.backup import layout, take_backup, verify_backup
from harness.backup.dataset import loaded_scratch
from harness.backup.store import BackupStore
from harness.redis_process import RedisProcess
from harness.restore import restore_backup
from harness.restore.network import stream_restore
from harness.signing import VERIFIER_KEY_ENV, generate_keypair

NOTE = "2 cores shared with other sessions: figures are noisy, compare ratios"


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=sorted(dataset.SIZES), default="1m",
                   help="quick ≈ 20 k keys (CI), 1m ≈ 1 M keys / 100 MB RDB, 2g ≈ 2 GB RDB of larger values")
    p.add_argument("--quick", action="store_const", const="quick", dest="size", help="same as --size quick")
    p.add_argument("--runs", type=int, default=None, help="repetitions per step (default 3; 1 for 2g)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply the size's key count (try the 2g builder small)")
    p.add_argument("--outage", type=float, default=2.13, help="seconds the health endpoint is down for the RTO clock (not a multiple of the probe interval)")
    p.add_argument("--store", choices=KINDS, default=None,
                   help="where backups go: s3 = moto's server over HTTP (default), file = a directory (2g's default: "
                        "moto reads the whole object for every ranged GET)")
    p.add_argument("--out", type=Path, default=Path("reports/bench"), help="where <timestamp>.json/.md go")
    p.add_argument("--profile", action="store_true", help="pyinstrument the first run of each step (bench extra)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return p.parse_args(argv)


class Runner:
    """Holds the servers and files of one bench run; each `bench_*` method fills one Figure."""

    def __init__(self, args: argparse.Namespace, work: Path, transport: Transport, stamp: str) -> None:
        self.args, self.work, self.transport, self.stamp = args, work, transport, stamp
        self.runs: int = args.runs or (1 if args.size == "2g" else 3)
        self.source = RedisProcess(work / "source", password=secrets.token_hex(12)).start()
        self.target = RedisProcess(work / "target", password=secrets.token_hex(12)).start()
        self.floor_rdb = work / "floor.rdb"
        self.resp = work / "restore.resp"
        self.keys = 0
        self.backup_id = ""
        self.store: BackupStore | None = None
        # the verify job's key, as a configured pipeline has it: restores trust its signed records (without a
        # verifier key every restore would verify the backup again, which the floors do not)
        self.verifier = generate_keypair()
        os.environ[VERIFIER_KEY_ENV] = self.verifier.private_pem

    def close(self) -> None:
        self.source.stop()
        self.target.stop()

    def timed(self, step: str, rep: int, fn: Callable[[], Any]) -> tuple[float, Any, PeakRss]:
        """(seconds, result, peak RSS) of one harness run; the first is profiled under --profile."""
        with ExitStack() as stack:
            if self.args.profile and rep == 0:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.001)
                stack.callback(self._save_profile, step, profiler)
                stack.enter_context(profiler)
            with PeakRss() as peak:
                t = time.monotonic()
                result = fn()
                seconds = time.monotonic() - t
        return seconds, result, peak

    def _save_profile(self, step: str, profiler: Any) -> None:
        path = self.args.out / f"{self.stamp}-{step.replace(' ', '-')}.profile.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(profiler.output_text(unicode=True, color=False))

    def build(self) -> dict[str, Any]:
        size = dataset.SIZES[self.args.size]
        t = time.monotonic()
        self.keys = dataset.seed_server(self.source, size, scale=self.args.scale)
        seeded = time.monotonic() - t
        return {"size": size.name, "keys": self.keys, "scale": self.args.scale, "seed_s": round(seeded, 2)}

    def bench_backup(self) -> Figure:
        fig = Figure("backup", f"redis-cli --rdb + {self.transport.upload_floor}")
        phases: list[dict[str, float]] = []
        for rep in range(self.runs):
            store = self.transport.store(f"run{rep}")
            seconds, result, peak = self.timed("backup", rep, partial(
                take_backup, self.source.url, store, password=self.source.password, work_dir=self.work))
            fig.record(seconds, peak)
            phases.append(result.phases)
            if self.store is not None:
                self.transport.purge(self.store)
            self.store, self.backup_id = store, result.id
            fetch = floors.rdb_fetch_seconds(self.source, self.floor_rdb)
            fig.floor_runs.append(fetch + self.transport.upload_seconds(self.floor_rdb))
        fig.extra["phases"] = {k: round(spread([p[k] for p in phases])["median"], 4) for k in phases[0]}
        return fig

    def _rdb_location(self) -> str:
        assert self.store is not None
        return self.store.location(layout.rdb_key(self.backup_id))

    def download_and_load(self, load_runs: list[float]) -> float:
        """The floor of the steps that start from the store: a plain download + redis-server load until PING."""
        download = self.transport.download_seconds(self._rdb_location(), self.work / "floor-download.rdb")
        load_runs.append(floors.load_seconds(self.floor_rdb))
        return download + load_runs[-1]

    def bench_verify(self, load_runs: list[float]) -> tuple[Figure, Figure]:
        """End to end (download, every level) beside download + load; the levels alone beside the load."""
        assert self.store is not None
        fig = Figure("verify", f"{self.transport.download_floor} + redis-server load until PING")
        levels = Figure("verify: levels only (after the download)", "redis-server load until PING")
        checks: list[dict[str, float]] = []
        for rep in range(self.runs):
            seconds, report, peak = self.timed("verify", rep, lambda: verify_backup(
                self.store, self.backup_id, min_keys=self.keys, work_dir=self.work))  # type: ignore[arg-type]
            if not report.passed:
                raise RuntimeError(f"verify failed at {report.failed_check}")
            fig.record(seconds, peak)
            levels.record(seconds - report.download_seconds, peak)
            checks.append({c.name: c.seconds for c in report.checks})
            fig.floor_runs.append(self.download_and_load(load_runs))
        levels.floor_runs = list(load_runs)
        fig.extra["checks"] = {k: round(spread([c[k] for c in checks])["median"], 4) for k in checks[0]}
        return fig, levels

    def _restore(self, strategy: str) -> Any:
        assert self.store is not None
        return restore_backup(self.store, self.backup_id, target_url=self.target.url,
                              target_password=self.target.password, strategy=strategy,  # type: ignore[arg-type]
                              managed=self.target if strategy == "file" else None, work_dir=self.work,
                              trusted_keys=(self.verifier.public,))

    def bench_file_restore(self, load_runs: list[float]) -> Figure:
        fig = Figure("file restore", f"{self.transport.download_floor} + redis-server load until PING")
        for rep in range(self.runs):
            self.target.client().flushall()
            seconds, result, peak = self.timed("file restore", rep, lambda: self._restore("file"))
            fig.record(seconds, peak)
            fig.extra["keys_restored"] = result.keys_restored
            fig.floor_runs.append(self.download_and_load(load_runs))
        fig.extra["load_floor"] = rounded(spread(load_runs))
        return fig

    def bench_network_restore(self, rdb_bytes: int) -> tuple[Figure, Figure]:
        """End to end (restore_backup) and the DUMP/RESTORE stream alone, both beside `redis-cli --pipe`."""
        with loaded_scratch(self.floor_rdb) as scratch:
            resp_keys, resp_bytes = dataset.write_restore_resp(scratch, self.resp)
            whole = Figure("network restore", "redis-cli --pipe of RESTORE commands")
            stream = Figure("network restore: DUMP/RESTORE stream only", "redis-cli --pipe of RESTORE commands")
            for rep in range(self.runs):
                self.target.client().flushall()
                seconds, _, peak = self.timed("network restore", rep, lambda: self._restore("network"))
                whole.record(seconds, peak)
                self.target.client().flushall()
                seconds, _, peak = self.timed("network stream", rep, lambda: stream_restore(
                    scratch, self.target.url, password=self.target.password, replace=False))
                stream.record(seconds, peak)
                pipe = floors.pipe_seconds(self.target, self.resp)
                whole.floor_runs.append(pipe)
                stream.floor_runs.append(pipe)
        for fig in (whole, stream):
            median = spread(fig.runs)["median"]
            floor = spread(fig.floor_runs)["median"]
            fig.extra.update(keys_per_s=round(self.keys / median), mb_per_s=round(rdb_bytes / 1e6 / median, 1),
                             floor_keys_per_s=round(resp_keys / floor), floor_mb_per_s=round(rdb_bytes / 1e6 / floor, 1),
                             resp_bytes=resp_bytes)
        return whole, stream

    def bench_rto(self) -> dict[str, Any]:
        samples = [rto.outage_error(self.args.outage) for _ in range(self.runs)]
        return {"outage_s": self.args.outage, "probe_interval_s": samples[0]["probe_interval_s"],
                "measured_s": spread([s["measured_s"] for s in samples]),
                "error_s": spread([s["error_s"] for s in samples]), "runs": samples}


def machine(runner: Runner) -> dict[str, Any]:
    info = runner.source.client().info("server")
    return {"cores": os.cpu_count(), "python": platform.python_version(), "redis": info.get("redis_version"),
            "platform": platform.platform(), "note": NOTE}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole bench; returns the document written as JSON."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    load_start = os.getloadavg()
    store_kind = args.store or ("file" if args.size == "2g" else "s3")
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, transport(store_kind, Path(tmp)) as store:
        runner = Runner(args, Path(tmp), store, stamp)
        try:
            facts = runner.build()
            load_runs: list[float] = []
            backup = runner.bench_backup()
            facts["rdb_bytes"] = runner.floor_rdb.stat().st_size
            verify, levels = runner.bench_verify(load_runs)
            file_restore = runner.bench_file_restore(load_runs)
            network, stream = runner.bench_network_restore(facts["rdb_bytes"])
            clock = runner.bench_rto()
            doc_machine = machine(runner)
        finally:
            runner.close()
    figures = {f.name: f for f in (backup, verify, levels, file_restore, network, stream)}
    targets = targets_for(figures, clock)
    doc_machine.update(loadavg_start=load_start, loadavg_end=os.getloadavg())
    return {"schema_version": 1, "stamp": stamp, "size": args.size, "store": store_kind, "runs": runner.runs, "dataset": facts,
            "machine": doc_machine, "rss_method": METHOD, "figures": [f.to_json() for f in figures.values()],
            "rto": clock, "targets": [t.to_json() for t in targets],
            "all_targets_met": all(t.met for t in targets)}


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(143)  # unwinds through every `finally`: no redis-server or moto is left behind


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    doc = run(args)
    json_path, md_path = write(doc, args.out, doc["stamp"])
    print(markdown(doc))
    print(f"written: {json_path} and {md_path}")
    return 1 if args.strict and not doc["all_targets_met"] else 0
