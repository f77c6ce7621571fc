"""The network restore's packing: RESTORE commands as RESP, gone keys dropped, SCAN repeats sent once."""

from __future__ import annotations

import hiredis

from harness.resp import encode_command
from harness.restore.network import _fresh, _restore_commands


def test_restore_commands_are_resp_with_ttls_and_drop_gone_keys() -> None:
    keys = [b"a", b"\x00b\r\n", b"gone", b"expired"]
    answers = [b"P1", -1, b"\r\n$2", 1500, None, -2, b"P4", -2]
    written, blob = _restore_commands(keys, answers, replace=False)
    assert written == [b"a", b"\x00b\r\n"]
    assert blob == encode_command(b"RESTORE", b"a", b"0", b"P1") + encode_command(b"RESTORE", b"\x00b\r\n", b"1500", b"\r\n$2")
    _, replacing = _restore_commands([b"a"], [b"P1", 7], replace=True)
    reader = hiredis.Reader()
    reader.feed(replacing)
    assert reader.gets() == [b"RESTORE", b"a", b"7", b"P1", b"REPLACE"]


def test_scan_repeats_within_and_across_batches_are_sent_once() -> None:
    seen: set[bytes] = set()
    assert _fresh([b"a", b"b"], seen) == [b"a", b"b"]
    assert _fresh([b"c", b"a", b"c", b"d"], seen) == [b"c", b"d"]
    assert _fresh([b"e"], seen) == [b"e"]
