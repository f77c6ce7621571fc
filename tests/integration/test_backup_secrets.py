"""The Redis password never reaches stdout/stderr, manifests, store objects, or a child's argv or environment."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


class _Recorder:
    """Wraps subprocess.Popen to keep every child's argv and environment."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, str] | None]] = []

    def wrap(self, real: type[subprocess.Popen]) -> type[subprocess.Popen]:
        recorder = self

        class Recording(real):  # type: ignore[misc, valid-type]
            def __init__(self, args, *a, **kw):  # type: ignore[no-untyped-def]
                recorder.calls.append(([str(x) for x in args], kw.get("env")))
                super().__init__(args, *a, **kw)

        return Recording

    def leaks(self, secret: str) -> list[str]:
        found = []
        for argv, env in self.calls:
            if any(secret in arg for arg in argv):
                found.append(f"argv: {argv[0]}")
            if env is None:
                found.append(f"inherited environment (holds REDIS_PASSWORD): {argv[0]}")
            elif any(secret in v for v in env.values()):
                found.append(f"env: {argv[0]}")
        return found


def _store_bytes(store_url: str, s3) -> list[bytes]:  # type: ignore[no-untyped-def]
    if store_url.startswith("file://"):
        return [p.read_bytes() for p in Path(store_url[7:]).rglob("*") if p.is_file()]
    bucket = store_url[5:].split("/")[0]
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys
    return [s3.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys]


def test_password_reaches_no_output_object_argv_or_child_env(
    store_url, s3, cli, clean_env, monkeypatch, source, redis_factory, data
):
    secret = data.source_password
    clean_env.setenv("REDIS_PASSWORD", secret)
    clean_env.setenv("DRILL_STORE_URL", store_url)
    data.seed(source.client(), n=3)
    source.client().set("not-a-secret", "plain")
    recorder = _Recorder()
    monkeypatch.setattr(subprocess, "Popen", recorder.wrap(subprocess.Popen))

    outputs = []
    code, out, err = cli("backup", "--redis-url", f"redis://:{secret}@127.0.0.1:{source.port}/0")
    assert code == 0, err
    backup_id = out.strip().splitlines()[-1]
    outputs += [out, err]
    for argv in (["backups"], ["verify", backup_id, "--min-keys", "1"], ["verify", "--latest", "--json", "--min-keys", "1"]):
        code, out, err = cli(*argv)
        assert code == 0, err
        outputs += [out, err]
    # a non-empty target with the same password (via REDIS_PASSWORD): --replace snapshots it first
    target = redis_factory(password=secret)
    target.client().set("old", "data")
    for strategy in ("network", "file"):
        code, out, err = cli("restore", backup_id, "--to", target.url, "--replace", "--strategy", strategy)
        assert code == 0, err
        outputs += [out, err]
    code, out, err = cli("backup", "--redis-url", "redis://127.0.0.1:1/0")  # an error message, too
    assert code == 2
    outputs += [out, err]

    assert all(secret not in text for text in outputs)
    objects = _store_bytes(store_url, s3)
    assert len(objects) >= 4 and all(secret.encode() not in raw for raw in objects)
    programs = {Path(argv[0]).name for argv, _ in recorder.calls}
    assert {"redis-server", "redis-check-rdb"} <= programs, programs  # the recorder saw the children
    assert recorder.leaks(secret) == []


def test_the_recorder_would_catch_a_leak(data):
    recorder = _Recorder()
    recorder.calls.append((["redis-cli", "-a", data.source_password, "--rdb", "x"], {}))
    recorder.calls.append((["redis-server", "conf"], None))
    assert len(recorder.leaks(data.source_password)) == 2
