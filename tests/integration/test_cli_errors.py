"""Expected failures exit 2 with one line naming the problem and the fix, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from harness.redis_process import free_port

pytestmark = pytest.mark.integration


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and " — " in lines[0], lines[0]  # the problem — the fix
    return lines[0]


def test_wrong_password_exits_2(cli, clean_env, file_store_url, source):
    clean_env.setenv("REDIS_PASSWORD", "not-the-password")
    code, out, err = cli("backup", "--redis-url", source.url, "--store", file_store_url)
    assert code == 2 and out == ""
    assert "rejected the password" in _one_line(err) or "password" in _one_line(err)


def test_missing_password_exits_2(cli, clean_env, file_store_url, source):
    code, _, err = cli("backup", "--redis-url", source.url, "--store", file_store_url)
    assert code == 2 and "REDIS_PASSWORD" in _one_line(err)


def test_unreachable_redis_exits_2(cli, clean_env, file_store_url):
    code, _, err = cli("backup", "--redis-url", f"redis://127.0.0.1:{free_port()}/0", "--store", file_store_url)
    assert code == 2 and "cannot reach Redis" in _one_line(err)


def test_missing_bucket_exits_2(cli, aws_env, clean_env, source, data):
    clean_env.setenv("REDIS_PASSWORD", data.source_password)
    code, out, err = cli("backup", "--redis-url", source.url, "--store", "s3://no-such-bucket-here/x")
    assert code == 2 and out == ""
    line = _one_line(err)
    assert "bucket no-such-bucket-here does not exist" in line and "create the bucket" in line


@pytest.mark.parametrize("url", ["ftp://host/dir", "file://relative/dir", "s3://", "s3://Bad_Bucket/x", "nonsense"])
def test_bad_store_url_exits_2(cli, clean_env, url):
    code, _, err = cli("backups", "--store", url)
    assert code == 2 and "store" in _one_line(err).lower()


def test_missing_store_directory_exits_2(cli, clean_env, tmp_path):
    code, _, err = cli("backups", "--store", f"file://{tmp_path}/absent")
    assert code == 2 and "does not exist" in _one_line(err)


def test_unreachable_s3_endpoint_exits_2(cli, aws_env, clean_env):
    clean_env.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    code, _, err = cli("backups", "--store", "s3://some-bucket/x")
    assert code == 2 and "unreachable" in _one_line(err)


def test_no_aws_credentials_exits_2(cli, aws_env, clean_env):
    clean_env.delenv("AWS_ACCESS_KEY_ID")
    clean_env.delenv("AWS_SECRET_ACCESS_KEY")
    clean_env.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, _, err = cli("backups", "--store", "s3://some-bucket/x")
    assert code == 2 and "credentials" in _one_line(err)


def test_unknown_backup_id_exits_2(cli, clean_env, file_store_url):
    code, _, err = cli("verify", "20261126T061500Z-abcdef", "--store", file_store_url)
    assert code == 2 and "not found" in _one_line(err)
    code, _, err = cli("verify", "latest.rdb", "--store", file_store_url)  # a file: the runbook's manual path
    assert code == 2 and "is not named as the runbook names a backup (redis-YYYYMMDD-HHMM.rdb" in _one_line(err)


def test_id_and_latest_together_is_a_usage_error(cli, clean_env, file_store_url):
    code, _, err = cli("verify", "20261126T061500Z-abcdef", "--latest", "--store", file_store_url)
    assert code == 2 and "either a backup ID or --latest" in _one_line(err)


def test_no_store_configured_exits_2(cli, clean_env):
    code, _, err = cli("backups")
    assert code == 2 and "DRILL_STORE_URL" in _one_line(err)


def test_the_installed_command_reports_one_line_too(clean_env, source, file_store_url):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_PASSWORD"} | {"REDIS_PASSWORD": "wrong"}
    proc = subprocess.run(
        [sys.executable, "-c", "from harness.cli import entry; entry()", "backup",
         "--redis-url", source.url, "--store", file_store_url],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    _one_line(proc.stderr)
