"""The sandbox at scale: 300 kwok nodes in 3 zones, ~3,000 Brain pods; what a zone drain and a pod kill cost us.

`make bench-scale` (not part of `make test`). Brings a kwok-only sandbox up in its
own state dir, then runs scenario 1's pod kill and scenario 2's zone drain through
the same chaos activities the drills run (harness.chaos.kubernetes_actions.terminate_pods,
harness.chaos.actions.drain_zone ↔ uncordon_zone, harness.chaos.probes.seconds_until_available),
and reports for each step: recovery seconds, the Kubernetes API requests the
harness sent (by verb, counted at its one transport) and the harness's CPU seconds.
Output: reports/bench/scale-<timestamp>.json and a Markdown table (stdout and .md beside it).

Brain's budget (maxUnavailable 1, written for 3 replicas) would make a 1,000-pod
drain evict one pod per replacement-Ready cycle (~2 s each: half an hour); at this
size the bench sets it to --pdb-max-unavailable (10 %, what a 3,000-replica service
would run with) and says so in the report.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

from harness.chaos import actions, kubernetes_actions, probes
from harness.config import load_settings
from harness.drills.experiments import BRAIN, BRAIN_SELECTOR
from harness.platform.api_requests import REQUESTS
from harness.platform.client import MERGE_PATCH, namespaced
from harness.platform.pods import list_pods, wait_for_pods_gone
from harness.sandbox import sandbox_down, sandbox_up
from harness.sandbox.processes import rss_bytes
from harness.target import open_target


def measured(name: str, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one step; its own result plus wall seconds, harness CPU seconds and API requests by verb."""
    before, cpu, wall = REQUESTS.snapshot(), time.process_time(), time.monotonic()
    result = action()
    requests = REQUESTS.since(before)
    step = {"step": name, "wall_s": round(time.monotonic() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2),
            "requests": requests, "requests_total": sum(requests.values()), **result}
    print(f"  {name}: {json.dumps(step)}", file=sys.stderr, flush=True)
    return step


def bring_up(state_dir: Path, *, per_zone: int, replicas: int, timeout: float) -> dict[str, Any]:
    info = sandbox_up(state_dir, nodes="kwok", nodes_per_zone=per_zone, brain_replicas=replicas, keys=1000,
                      timeout=timeout)
    rss = sum(rss_bytes(pid) or 0 for pid in info.pids.values())
    return {"nodes": 3 * per_zone, "brain_replicas": replicas, "sandbox_rss_mib": round(rss / 2**20),
            "sandbox_processes": len(info.pids)}


def kill_pods(config: dict[str, Any], target: Any, *, share: float, timeout: float) -> dict[str, Any]:
    """Scenario 1: terminate a share of Brain's pods, prove their UIDs gone, wait until Brain is fully available."""
    cluster, ns = target.cluster(), target.namespace
    before = {p.name: p.uid for p in list_pods(cluster, namespace=ns, selector=BRAIN_SELECTOR, with_zones=False)}
    count = max(1, math.floor(len(before) * share))
    start = time.monotonic()
    names = kubernetes_actions.terminate_pods(BRAIN_SELECTOR, ns, qty=count, rand=True, grace_period=0,
                                              configuration=config)
    wait_for_pods_gone(cluster, namespace=ns, selector=BRAIN_SELECTOR,
                       uids=frozenset(before[n] for n in names if n in before), timeout=timeout)
    confirmed = time.monotonic() - start
    probes.seconds_until_available(BRAIN, ns, timeout_s=timeout, configuration=config)
    return {"killed": len(names), "fault_confirmed_s": round(confirmed, 2),
            "recovery_s": round(time.monotonic() - start, 2)}


def drain(config: dict[str, Any], target: Any, *, zone: str, timeout: float) -> dict[str, Any]:
    """Scenario 2 (drain): cordon + evict the zone, wait until Brain is fully available elsewhere, uncordon."""
    ns = target.namespace
    start = time.monotonic()
    out = actions.drain_zone(zone, timeout_s=timeout, configuration=config)
    drained = time.monotonic() - start
    probes.seconds_until_available(BRAIN, ns, timeout_s=timeout, configuration=config)
    recovered = time.monotonic() - start
    uncordoned = actions.uncordon_zone(zone, configuration=config)
    return {"zone": zone, "nodes": len(out["nodes"]), "evicted": len(out["evicted"]),
            "pdb_refusals": out["pdb_refusals"], "drain_s": round(drained, 2), "recovery_s": round(recovered, 2),
            "uncordoned": len(uncordoned)}


def table(report: dict[str, Any]) -> str:
    rows = ["| step | recovery s | wall s | harness CPU s | API requests | by verb |", "|---|---:|---:|---:|---:|---|"]
    for s in report["steps"]:
        verbs = ", ".join(f"{v} {n}" for v, n in sorted(s["requests"].items(), key=lambda kv: -kv[1]))
        rows.append(f"| {s['step']} | {s.get('recovery_s', '–')} | {s['wall_s']} | {s['cpu_s']} | "
                    f"{s['requests_total']} | {verbs} |")
    up = report["steps"][0]
    rows.append(f"\n{up['nodes']} kwok nodes, {up['brain_replicas']} Brain replicas; sandbox up "
                f"{up['wall_s']} s, sandbox processes' RSS {up['sandbox_rss_mib']} MiB, harness peak RSS "
                f"{report['harness_peak_rss_mib']} MiB; Brain PDB maxUnavailable {report['pdb_max_unavailable']}.")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes-per-zone", type=int, default=100)
    parser.add_argument("--brain-replicas", type=int, default=3000)
    parser.add_argument("--kill-share", type=float, default=0.5, help="share of Brain's pods the pod kill deletes")
    parser.add_argument("--zone", default="zone-a")
    parser.add_argument("--pdb-max-unavailable", default="10%")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds allowed per step")
    parser.add_argument("--state-dir", type=Path, default=REPO / ".sandbox-scale")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "bench")
    parser.add_argument("--label", default="", help="a word kept in the report (e.g. before/after)")
    parser.add_argument("--keep", action="store_true", help="leave the sandbox running afterwards")
    args = parser.parse_args(argv)

    steps: list[dict[str, Any]] = []
    try:
        steps.append(measured("sandbox up", lambda: bring_up(args.state_dir, per_zone=args.nodes_per_zone,
                                                             replicas=args.brain_replicas, timeout=args.timeout)))
        settings = load_settings(overrides={"sandbox_dir": str(args.state_dir), "target": "sandbox"})
        with open_target(settings, start_sandbox=False) as target:
            config = {"target": target}
            target.cluster().request(
                "PATCH", namespaced("policy/v1", "poddisruptionbudgets", target.namespace, BRAIN),
                body={"spec": {"maxUnavailable": args.pdb_max_unavailable}}, content_type=MERGE_PATCH)
            steps.append(measured("pod kill", lambda: kill_pods(config, target, share=args.kill_share,
                                                                timeout=args.timeout)))
            steps.append(measured("zone drain", lambda: drain(config, target, zone=args.zone,
                                                              timeout=args.timeout)))
    finally:
        if not args.keep:
            sandbox_down(args.state_dir)
    report = {"bench": "scale", "label": args.label, "at": datetime.now(UTC).isoformat(timespec="seconds"),
              "pdb_max_unavailable": args.pdb_max_unavailable, "kill_share": args.kill_share,
              "harness_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
              "steps": steps}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"scale-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    markdown = table(report)
    stem.with_suffix(".md").write_text(markdown + "\n")
    print(markdown)
    print(f"\nreport: {stem.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
