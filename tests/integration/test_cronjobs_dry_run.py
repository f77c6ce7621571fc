"""deploy/cronjobs: the backup and verify CronJobs are what the runbook asks for, minus its flaws.

Static checks always run (schedule, no password on a command line, no fixed
sleep, non-root matching the Dockerfile, resources, flags the CLI really has).
The server-side dry run needs the sandbox control plane: it reuses a `cluster`
fixture when one is visible, else starts its own sandbox in a temporary state
directory; without the binaries it skips (and fails under CI=true, like the
sandbox suite).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from harness.cli.app import app

REPO = Path(__file__).resolve().parents[2]
CRONJOBS = REPO / "deploy" / "cronjobs"
DOCKERFILE = REPO / "Dockerfile"
EXPECTED = {
    "redis-backup-cronjob.yaml": ("0 * * * *", [["backup", "--redis-url", "redis://redis.sentinel.svc:6379/0",
                                                 "--store", "s3://sentinel-backups/"]]),
    "backup-verify-cronjob.yaml": ("0 6 * * *", [["verify", "pipeline", "--min-keys", "100", "--budget", "3000"]]),
    "config-backup-cronjob.yaml": ("*/15 * * * *", [["backup", "config", "--store", "s3://sentinel-backups/"]]),
    "log-archive-cronjob.yaml": ("30 0 * * *", [
        ["backup", "logs", "--type", t, "--from", f"/logs/{t}", "--store", "s3://sentinel-logs/"]
        for t in ("audit", "application", "access")]),
}


def _cronjob(name: str) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all((CRONJOBS / name).read_text()) if d]
    (job,) = [d for d in docs if d["kind"] == "CronJob"]
    assert job["apiVersion"] == "batch/v1"
    return job


def _dockerfile_uid() -> int:
    match = re.search(r"^USER (\d+)(?::\d+)?$", DOCKERFILE.read_text(), re.MULTILINE)
    assert match, "the Dockerfile must switch to a numeric non-root USER"
    return int(match.group(1))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_cronjob_runs_the_harness_on_schedule_without_overlap(name: str) -> None:
    job = _cronjob(name)
    schedule, args = EXPECTED[name]
    spec = job["spec"]
    assert job["metadata"]["namespace"] == "sentinel"
    assert spec["schedule"] == schedule and spec["concurrencyPolicy"] == "Forbid"
    assert isinstance(spec["jobTemplate"]["spec"]["backoffLimit"], int)
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert [c["args"] for c in pod["containers"]] == args
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == _dockerfile_uid()
    for container in pod["containers"]:
        assert "command" not in container, "the image's ENTRYPOINT is sentinel-drill"
        assert container["image"].split("/")[-1].startswith("sentinel-drill:")
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["resources"]["requests"]["memory"] and container["resources"]["limits"]["memory"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_secret_or_sleep_on_any_command_line(name: str) -> None:
    for container in _cronjob(name)["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]:
        argv = " ".join(container.get("command", []) + container["args"])
        assert "sleep" not in argv and " -a " not in f" {argv} " and "password" not in argv.lower()
        assert "$(" not in argv and "${" not in argv, "no shell expansion of secrets into argv"
        for env in container["env"]:
            if env["name"] in ("REDIS_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DRILL_CONFIG_KEY"):
                assert "secretKeyRef" in env["valueFrom"] and "value" not in env


def test_the_backup_job_reads_the_redis_password_from_the_sentinel_redis_secret() -> None:
    container = _cronjob("redis-backup-cronjob.yaml")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "sentinel-redis", "key": "password"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_flag_in_a_cronjob_exists_on_the_cli(name: str) -> None:
    for args in EXPECTED[name][1]:
        command: Any = app
        rest = list(args)
        while isinstance(command, click.Group):  # `backup config`: the group, then its subcommand (or default)
            with click.Context(command) as ctx:
                sub = command.get_command(ctx, rest[0]) if rest and not rest[0].startswith("-") else None
            if sub is None:
                sub = command.get_command(ctx, getattr(command, "default", ""))
            else:
                rest = rest[1:]
            assert sub is not None, f"sentinel-drill has no command for {args}"
            command = sub
        known = {opt for param in command.params for opt in getattr(param, "opts", [])}
        assert {a for a in rest if a.startswith("--")} <= known, args


def test_the_kustomization_lists_every_manifest() -> None:
    resources = yaml.safe_load((CRONJOBS / "kustomization.yaml").read_text())["resources"]
    assert sorted(resources) == sorted(p.name for p in CRONJOBS.glob("*.yaml") if p.name != "kustomization.yaml")


def test_the_dockerfile_builds_a_non_root_cli_image_with_redis_tools() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM local/debian:bookworm", text, re.MULTILINE)  # no registry: tools/build-images.sh builds the base
    assert "redis-server" in text and "redis-tools" in text and "pip install ." in text
    assert _dockerfile_uid() != 0
    assert re.search(r'^ENTRYPOINT \["sentinel-drill"\]$', text, re.MULTILINE)
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert not ({"harness", "pyproject.toml", "README.md"} & ignored), "the build context needs these"


@pytest.fixture
def dry_run_cluster(cluster: Any) -> Any:
    """The session sandbox's cluster: server-side dry runs change nothing."""
    return cluster


@pytest.mark.sandbox
@pytest.mark.integration
def test_the_api_server_accepts_the_cronjobs_in_a_dry_run(dry_run_cluster: Any) -> None:
    from harness.platform.manifests import apply_manifests

    applied = apply_manifests(dry_run_cluster, CRONJOBS, dry_run=True)
    assert {(a.kind, a.name) for a in applied} == {
        ("Secret", "sentinel-backup-s3"), ("CronJob", "redis-backup"), ("CronJob", "backup-verify"),
        ("Secret", "sentinel-backup-verifier-key"), ("Secret", "sentinel-backup-verifier-s3"),
        ("ServiceAccount", "config-backup"), ("Role", "config-backup"), ("RoleBinding", "config-backup"),
        ("CronJob", "config-backup"), ("CronJob", "log-archive")}
    assert all(a.dry_run for a in applied)


@pytest.mark.sandbox
@pytest.mark.integration
def test_the_dry_run_really_validates(dry_run_cluster: Any) -> None:
    from harness.errors import DrillError
    from harness.platform.manifests import apply_objects

    broken = _cronjob("redis-backup-cronjob.yaml")
    broken["spec"]["concurrencyPolicy"] = "Sometimes"
    with pytest.raises(DrillError, match="concurrencyPolicy"):
        apply_objects(dry_run_cluster, [broken], dry_run=True)
