"""Store URLs pick the implementation; the file store is atomic; S3 failures map to the error tree."""

from __future__ import annotations

import io

import pytest
from botocore import exceptions as bx

from harness.backup.progress import transfer_progress, wants_progress
from harness.backup.s3 import S3Store, s3_error
from harness.backup.store import FileStore, open_store
from harness.errors import AuthFailed, ConfigError, ConnectionFailed, StoreError
from harness.safe_paths import UnsafeName


def test_urls_choose_the_implementation(tmp_path):
    s3 = open_store("s3://sentinel-backups/prod/redis-drill")
    assert isinstance(s3, S3Store) and (s3.bucket, s3.prefix) == ("sentinel-backups", "prod/redis-drill")
    assert s3.location("redis/x.rdb") == "s3://sentinel-backups/prod/redis-drill/redis/x.rdb"
    assert open_store("s3://sentinel-backups").location("k") == "s3://sentinel-backups/k"
    fs = open_store(f"file://{tmp_path}")
    assert isinstance(fs, FileStore) and fs.root == tmp_path


@pytest.mark.parametrize(
    "url", ["", "backups", "http://x/y", "s3:///prefix", "s3://UPPER/x", "s3://a/x", "file://host/dir", "file:relative"]
)
def test_malformed_urls_are_config_errors_with_a_fix(url):
    with pytest.raises(ConfigError) as exc:
        open_store(url)
    assert exc.value.fix and ("s3://" in exc.value.fix or "file:///" in exc.value.fix)


def test_file_store_round_trip(tmp_path):
    store = FileStore(tmp_path)
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 3000)
    store.put_file("redis/2026/11/26/a.rdb", src)
    store.put_bytes("redis/2026/11/26/a.manifest.json", b"{}")
    assert store.exists("redis/2026/11/26/a.rdb") and not store.exists("redis/nope")
    assert [(o.key, o.size) for o in store.list("redis/")] == [
        ("redis/2026/11/26/a.manifest.json", 2),
        ("redis/2026/11/26/a.rdb", 3000),
    ]
    out = tmp_path / "out.bin"
    store.get_file("redis/2026/11/26/a.rdb", out)
    assert out.read_bytes() == b"x" * 3000
    assert store.get_bytes("redis/2026/11/26/a.manifest.json") == b"{}"
    assert not [p for p in tmp_path.rglob(".*")]  # no temp files left behind


def test_file_store_child_is_a_store_inside(tmp_path):
    child = FileStore(tmp_path).child("snapshots")
    assert child.root == tmp_path / "snapshots" and child.url == f"file://{tmp_path}/snapshots"


def test_missing_directory_is_like_a_missing_bucket(tmp_path):
    store = FileStore(tmp_path / "absent")
    with pytest.raises(StoreError, match="does not exist"):
        store.list("redis/")
    with pytest.raises(StoreError, match="does not exist"):
        store.put_bytes("k", b"")


def test_missing_object_is_a_store_error(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        FileStore(tmp_path).get_bytes("redis/x.rdb")


def test_keys_cannot_escape_the_store(tmp_path):
    with pytest.raises(UnsafeName, match=r"refused store key '\.\./outside': it climbs out with '\.\.'"):
        FileStore(tmp_path / "store").exists("../outside")


def _client_error(code: str, status: int = 400) -> bx.ClientError:
    return bx.ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


@pytest.mark.parametrize(
    ("exc", "kind", "words"),
    [
        (bx.NoCredentialsError(), AuthFailed, "no AWS credentials"),
        (bx.EndpointConnectionError(endpoint_url="http://x"), ConnectionFailed, "unreachable"),
        (_client_error("NoSuchBucket", 404), StoreError, "bucket b does not exist"),
        (_client_error("InvalidAccessKeyId", 403), AuthFailed, "refused our credentials"),
        (_client_error("SignatureDoesNotMatch", 403), AuthFailed, "refused our credentials"),
        (_client_error("NoSuchKey", 404), StoreError, "no such object"),
        (_client_error("SlowDown", 503), StoreError, "SlowDown"),
    ],
)
def test_s3_failures_map_to_one_line_errors(exc, kind, words):
    err = s3_error(exc, what="list s3://b/x", bucket="b", endpoint="http://127.0.0.1:1")
    assert isinstance(err, kind) and words in err.one_line() and "\n" not in err.one_line()
    assert err.fix


def test_head_bucket_404_means_missing_bucket():
    err = s3_error(_client_error("404", 404), what="open bucket b", bucket="b", endpoint="e")
    assert isinstance(err, StoreError) and "does not exist" in err.message


def test_progress_stays_off_without_a_terminal(monkeypatch):
    fake = io.StringIO()
    monkeypatch.setattr("sys.stderr", fake)
    assert not wants_progress(10**9)
    with transfer_progress("x", 10**9) as advance:
        advance(10**9)
    assert fake.getvalue() == ""


def test_progress_only_for_large_transfers_on_a_terminal(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stderr", Tty())
    assert wants_progress(10**9) and wants_progress(None) and not wants_progress(1024)
