"""Redis commands in RESP, packed by hand where a client library's bookkeeping costs too much.

Used by the replication fetch (a raw socket), the network restore (whole batches in one write) and the
bench (`redis-cli --pipe` input). `reply_text` reads a reply as text whether or not the client decodes.
"""

from __future__ import annotations


def encode_command(*args: bytes) -> bytes:
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


def reply_text(value: object) -> str:
    """A reply as text, whether the client decodes responses or returns bytes."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
