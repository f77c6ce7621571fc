"""Redis commands in RESP, packed by hand where a client library's bookkeeping costs too much.

Used by the replication fetch (a raw socket), the network restore (whole batches in one
write) and the bench (`redis-cli --pipe` input).
"""

from __future__ import annotations


def encode_command(*args: bytes) -> bytes:
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)
