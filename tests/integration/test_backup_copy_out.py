"""Backups where SYNC is out of reach: `backup --from docker://CONTAINER` (a real container on the local engine),
and the runbook's BGSAVE + LASTSAVE + copy-out fallback, chosen by itself when an ACL user lacks sync/psync."""

from __future__ import annotations

import secrets

import pytest

from harness.backup import open_store, read_manifest
from tests.containers import REDIS_BOOKWORM

pytestmark = pytest.mark.integration

BACKUP_USER = "backup"


def _no_sync_user(client, password: str) -> None:
    """A hardened backup user: everything but the replication commands."""
    client.acl_setuser(BACKUP_USER, enabled=True, passwords=[f"+{password}"], keys=["*"], channels=["*"],
                       commands=["+@all", "-sync", "-psync"])


def _backup(cli, *argv: str) -> tuple[int, str, str, str]:
    code, out, err = cli("backup", *argv)
    return code, out, err, (out.strip().splitlines() or [""])[-1]


def test_a_backup_from_a_docker_container_verifies(cli, clean_env, redis_in_container, file_store_url, data):
    container = redis_in_container(REDIS_BOOKWORM)
    data.seed(container.client(), n=30)
    keys = container.client().dbsize()
    clean_env.setenv("REDIS_PASSWORD", container.password)

    code, out, err, backup_id = _backup(cli, "--from", f"docker://{container.container_id[:12]}",
                                        "--store", file_store_url)

    assert code == 0, out + err
    manifest = read_manifest(open_store(file_store_url), backup_id)
    assert manifest.key_count == keys and manifest.fetch_method in ("sync", "sync-diskless")
    code, out, _ = cli("verify", backup_id, "--store", file_store_url, "--min-keys", "100")
    assert code == 0 and "PASSED" in out


def test_an_acl_user_without_sync_backs_up_through_bgsave_and_a_copy_out_of_the_container(
        cli, clean_env, redis_in_container, file_store_url, data):
    container = redis_in_container(REDIS_BOOKWORM)
    data.seed(container.client(), n=30)
    keys = container.client().dbsize()
    password = "bk-" + secrets.token_hex(12)
    _no_sync_user(container.client(), password)
    clean_env.setenv("REDIS_PASSWORD", password)

    code, out, err, backup_id = _backup(cli, "--from", f"docker://{BACKUP_USER}@{container.container_id[:12]}",
                                        "--store", file_store_url)

    assert code == 0, out + err
    manifest = read_manifest(open_store(file_store_url), backup_id)
    assert manifest.fetch_method == "bgsave-copy"
    assert manifest.copied_from is not None and manifest.copied_from.startswith("docker container ")
    assert manifest.key_count == keys
    code, out, _ = cli("verify", backup_id, "--store", file_store_url, "--min-keys", "100")
    assert code == 0 and "PASSED" in out
    assert password not in out + err


def test_sync_refused_with_no_file_to_copy_names_the_ways_out(cli, clean_env, redis_factory, file_store_url, data):
    server = redis_factory(password=data.target_password)
    data.seed(server.client(), n=5)
    password = "bk-" + secrets.token_hex(12)
    _no_sync_user(server.client(), password)
    clean_env.setenv("REDIS_PASSWORD", password)

    code, _, err, _ = _backup(cli, "--redis-url", f"redis://{BACKUP_USER}@127.0.0.1:{server.port}/0",
                              "--store", file_store_url)

    assert code == 1
    line = err.strip().splitlines()[-1]
    assert "refused SYNC" in line and "docker://CONTAINER" in line and "k8s://NAMESPACE/pod/NAME:PORT" in line


def test_from_takes_only_docker_sources(cli, clean_env, file_store_url):
    code, _, err, _ = _backup(cli, "--from", "redis://127.0.0.1:6379", "--store", file_store_url)

    assert code == 2 and "docker://" in err
