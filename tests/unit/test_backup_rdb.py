"""The RDB header check names empty, short and foreign files; AUX fields give version and ctime."""

from __future__ import annotations

import pytest

from harness.backup.rdb import HeaderInvalid, file_digest, read_header


def _aux(key: bytes, value: bytes) -> bytes:
    return b"\xfa" + bytes([len(key)]) + key + bytes([len(value)]) + value


def test_header_gives_version_and_aux_fields(tmp_path):
    path = tmp_path / "x.rdb"
    ctime_int32 = b"\xc2" + (1795674289).to_bytes(4, "little")  # int-encoded string
    path.write_bytes(b"REDIS0010" + _aux(b"redis-ver", b"7.0.15") + b"\xfa\x05ctime" + ctime_int32 + b"\xfe\x00")
    header = read_header(path)
    assert header.version == 10
    assert header.aux["redis-ver"] == "7.0.15"
    assert header.ctime == 1795674289


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty"),
        (b"REDIS", "only 5 bytes"),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00", "not an RDB file"),
        (b"REDIS00A0xxxx", "not an RDB file"),
        (b"redis0010xxxx", "not an RDB file"),
    ],
)
def test_bad_headers_are_named(tmp_path, raw, message):
    path = tmp_path / "x.rdb"
    path.write_bytes(raw)
    with pytest.raises(HeaderInvalid, match=message):
        read_header(path)


def test_a_damaged_aux_section_still_yields_the_version(tmp_path):
    path = tmp_path / "x.rdb"
    path.write_bytes(b"REDIS0011\xfa\xff\xff")
    assert read_header(path).version == 11 and read_header(path).ctime is None


def test_file_digest(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"abc")
    assert file_digest(path) == (3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
