"""Read what an RDB file says about itself: `REDIS` + 4-digit version, then AUX fields.

Cheap enough to run before anything expensive, so an empty file or a foreign one
is named as such instead of surfacing as a confusing load error later. The AUX
fields give the Redis version that wrote the file and `ctime`, the moment the
saving fork started, i.e. the instant the data in the file is from.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

_MAGIC_RE = re.compile(rb"^REDIS(\d{4})$")
_OP_AUX = 0xFA
_HEADER_READ = 64 * 1024


class HeaderInvalid(ValueError):
    """The file is not an RDB file; the message says why in words."""


@dataclass(frozen=True)
class RdbHeader:
    version: int
    aux: dict[str, str] = field(default_factory=dict)

    @property
    def ctime(self) -> int | None:
        raw = self.aux.get("ctime")
        return int(raw) if raw and raw.isdigit() else None


def read_header(path: Path) -> RdbHeader:
    """Parse the magic and the AUX fields; HeaderInvalid for empty, short or foreign files."""
    with path.open("rb") as fh:
        head = fh.read(_HEADER_READ)
    if not head:
        raise HeaderInvalid("the file is empty (0 bytes)")
    if len(head) < 9:
        raise HeaderInvalid(f"the file is only {len(head)} bytes, shorter than an RDB header")
    m = _MAGIC_RE.match(head[:9])
    if not m:
        raise HeaderInvalid(f"the file starts with {head[:9]!r}, not REDIS + 4 digits: not an RDB file")
    return RdbHeader(int(m.group(1)), _read_aux(head, 9))


def _read_aux(buf: bytes, pos: int) -> dict[str, str]:
    aux: dict[str, str] = {}
    try:
        while pos < len(buf) and buf[pos] == _OP_AUX:
            key, pos = _read_string(buf, pos + 1)
            value, pos = _read_string(buf, pos)
            aux[key] = value
    except (IndexError, struct.error, ValueError):
        pass  # a damaged or oddly encoded AUX section is for redis-check-rdb to report
    return aux


def _read_string(buf: bytes, pos: int) -> tuple[str, int]:
    first = buf[pos]
    kind = first >> 6
    if kind == 0:
        n, pos = first & 0x3F, pos + 1
    elif kind == 1:
        n, pos = ((first & 0x3F) << 8) | buf[pos + 1], pos + 2
    elif first == 0x80:
        n, pos = struct.unpack(">I", buf[pos + 1 : pos + 5])[0], pos + 5
    elif first == 0x81:
        n, pos = struct.unpack(">Q", buf[pos + 1 : pos + 9])[0], pos + 9
    else:
        enc = first & 0x3F
        fmt = {0: "<b", 1: "<h", 2: "<i"}.get(enc)
        if fmt is None:
            raise ValueError(f"unsupported string encoding {enc}")
        size = struct.calcsize(fmt)
        return str(struct.unpack(fmt, buf[pos + 1 : pos + 1 + size])[0]), pos + 1 + size
    if pos + n > len(buf):
        raise ValueError("string runs past the header buffer")
    return buf[pos : pos + n].decode("utf-8", "replace"), pos + n


def file_digest(path: Path) -> tuple[int, str]:
    """Size and SHA-256 hex of a file, read in chunks."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        size = _feed(fh, h)
    return size, h.hexdigest()


def _feed(fh: BinaryIO, h: hashlib._Hash) -> int:
    size = 0
    while chunk := fh.read(1024 * 1024):
        h.update(chunk)
        size += len(chunk)
    return size
