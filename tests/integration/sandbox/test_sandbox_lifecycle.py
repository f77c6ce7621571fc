"""up is idempotent, status tells everything a drill needs, down leaves nothing, a failed up cleans up."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import boto3
import pytest
import yaml

from harness.cli import main
from harness.platform.client import ApiRejected
from harness.redis_client import connect as redis_connect
from harness.redis_process import pid_alive
from harness.sandbox import SandboxInfo, processes, sandbox_down, sandbox_status, sandbox_up
from harness.sandbox.cluster import kwokctl_env, write_kwok_config
from harness.sandbox.state import REPO_ROOT, SandboxPaths

pytestmark = [pytest.mark.integration, pytest.mark.sandbox]

STATUS_FIELDS = {"kubeconfig", "context", "namespace", "redis_url", "health_url", "s3_endpoint", "bucket",
                 "hosted_zone_id", "record_name", "state_dir", "pids", "running"}


def test_up_again_reports_the_running_sandbox_without_restarting_it(sandbox: SandboxInfo) -> None:
    started = time.monotonic()
    again = sandbox_up(sandbox.state_dir, cluster_name="drill-test")
    assert time.monotonic() - started < 2.0
    assert again.already_running and again.running
    assert again.pids == sandbox_status(sandbox.state_dir).pids  # type: ignore[union-attr]
    assert again.redis_port == sandbox.redis_port and again.api_server == sandbox.api_server


def test_status_json_has_every_field_and_no_secret(sandbox: SandboxInfo, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "status", "--json", "--state-dir", str(sandbox.state_dir)]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert STATUS_FIELDS <= data.keys()
    assert data["running"] is True and data["redis_url"].startswith("redis://127.0.0.1:")
    assert {"redis", "moto", "health", "drill-test/kube-apiserver", "drill-test/etcd"} <= data["pids"].keys()
    assert sandbox.redis_password() not in out


def test_sandbox_env_exports_the_target_without_printing_the_password(
    sandbox: SandboxInfo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sandbox", "env", "--state-dir", str(sandbox.state_dir)]) == 0
    exports = capsys.readouterr().out
    assert sandbox.redis_password() not in exports
    shown = subprocess.run(
        ["bash", "-c", exports + 'python3 -c \'import os,sys; sys.stdout.write(os.environ["REDIS_PASSWORD"])\''],
        capture_output=True, text=True, check=True, env={"PATH": os.environ["PATH"]},
    ).stdout
    assert shown == sandbox.redis_password()  # eval gives the child the real password
    env = dict(line.removeprefix("export ").split("=", 1) for line in exports.splitlines() if "$(" not in line)
    assert env["DRILL_STORE_URL"] == "s3://sentinel-backups/" and env["KUBECONFIG"] == str(sandbox.kubeconfig)


def test_the_sandbox_redis_moto_and_dns_are_what_the_drills_expect(sandbox: SandboxInfo) -> None:
    settings = sandbox.to_settings()
    client = redis_connect(settings.redis_url or "", settings.redis_password.get_secret_value()  # type: ignore[union-attr]
                           if settings.redis_password else None)
    assert client.dbsize() >= 10_000
    types = {client.type(k).decode() for k in client.scan_iter(count=2000)}
    assert {"hash", "string", "list", "set", "zset"} <= types
    assert 0 < client.ttl(next(client.scan_iter(match="session:*"))) <= 7 * 86400

    s3 = boto3.client("s3", **_aws(sandbox))
    assert s3.get_bucket_versioning(Bucket=sandbox.bucket)["Status"] == "Enabled"
    assert s3.get_object_lock_configuration(Bucket=sandbox.bucket)["ObjectLockConfiguration"][
        "ObjectLockEnabled"] == "Enabled"
    r53 = boto3.client("route53", **_aws(sandbox))
    records = r53.list_resource_record_sets(HostedZoneId=sandbox.hosted_zone_id)["ResourceRecordSets"]
    cname = next(r for r in records if r["Name"] == sandbox.record_name)
    assert cname["Type"] == "CNAME" and cname["ResourceRecords"][0]["Value"] == sandbox.record_target


def processes_using(directory: Path) -> dict[int, str]:
    """Live processes with a cwd, executable or open file under `directory` (what a leak would hold)."""
    found: dict[int, str] = {}
    prefix = str(directory)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or not pid_alive(int(proc.name)):
            continue
        try:
            links = [proc / "cwd", proc / "exe", *(proc / "fd").iterdir()]
            hits = [str(link.readlink()) for link in links if str(link.readlink()).startswith(prefix)]
        except OSError:
            continue
        if hits:
            found[int(proc.name)] = hits[0]
    return found


def _aws(sandbox: SandboxInfo) -> dict[str, str]:
    return {"endpoint_url": sandbox.s3_endpoint, "region_name": sandbox.region,
            "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def test_down_leaves_no_process_and_no_listening_port(spare_state_dir: Path) -> None:
    info = sandbox_up(spare_state_dir, cluster_name="drill-spare", keys=100, nodes_per_zone=1)
    assert info.running and len(info.pids) == 8
    recorded_ports = dict(info.ports)
    assert all(processes.port_listening(p) for p in recorded_ports.values())

    result = sandbox_down(spare_state_dir)

    assert set(result.stopped) == set(info.pids)
    assert [n for n, pid in info.pids.items() if pid_alive(pid)] == []
    assert {n: p for n, p in recorded_ports.items() if processes.port_listening(p)} == {}
    assert sandbox_status(spare_state_dir) is None
    assert processes_using(spare_state_dir) == {}
    assert sandbox_down(spare_state_dir).stopped == {}  # idempotent


def test_a_failed_up_stops_everything_it_had_started(spare_state_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "deploy"
    broken.mkdir()
    for f in (REPO_ROOT / "deploy").glob("*.yaml"):
        (broken / f.name).write_text(f.read_text())
    bad = yaml.safe_load((broken / "namespace.yaml").read_text())
    (broken / "bad.yaml").write_text(yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "no-selector", "namespace": bad["metadata"]["name"]},
        "spec": {"template": {"spec": {"containers": []}}},
    }))
    kustomization = yaml.safe_load((broken / "kustomization.yaml").read_text())
    kustomization["resources"].append("bad.yaml")
    (broken / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))

    with pytest.raises(ApiRejected):
        sandbox_up(spare_state_dir, cluster_name="drill-broken", keys=100, nodes_per_zone=1, deploy_dir=broken)

    assert sandbox_status(spare_state_dir) is None
    assert processes_using(spare_state_dir) == {}
    assert not (spare_state_dir / "kwok" / "clusters").exists()


def test_kwokctl_lists_only_local_binaries_so_it_downloads_nothing(sandbox_bin_dir: Path, tmp_path: Path) -> None:
    paths = SandboxPaths(tmp_path)
    bins = sandbox_bin_dir
    out = subprocess.run(
        [str(bins / "kwokctl"), "get", "artifacts", "--runtime", "binary", "--config", str(write_kwok_config(paths))],
        env=kwokctl_env(bins, paths), capture_output=True, text=True, check=True, timeout=30,
    ).stdout.split()
    assert out and all(a.startswith(str(bins)) for a in out), out
