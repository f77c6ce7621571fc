"""Names chosen by someone else become paths here, and only here.

A store key listed from a bucket, a member of an archive the backup writer
uploaded, a file named in a bundle's SHA256SUMS: each is a name whoever writes
the store chooses. Joined to a directory unchecked, `/home/x/.bashrc` or
`../../x` steers a read or a write anywhere on the machine running the drill.
`path_under` turns such a name into a path below a root, refusing:

- absolute names, `..` and `.` parts, empty parts (`a//b`, a trailing `/`, `/`),
  NUL bytes and backslashes (a separator elsewhere, a trap here);
- anything already on disk below the root, on the way to the name or at it,
  that is a symbolic link, or a device, FIFO or socket, or a file where a
  directory must be.

`member_path_under` also refuses archive members that are links, devices or
FIFOs. Every refusal is one `UnsafeName` (a SafetyRefused, exit 2) naming the
name and the root; callers that judge many names at once (a chain, a log day)
turn it into a problem line and go on with the rest.
"""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path

from harness.errors import SafetyRefused

#: longest name quoted in a refusal; the rest is elided so a message stays one readable line
_QUOTED = 160


class UnsafeName(SafetyRefused):
    """A name from outside would have become a path outside its root, or through a link or a device."""

    def __init__(self, name: str, root: Path, why: str, *, what: str) -> None:
        quoted = repr(name if len(name) <= _QUOTED else name[:_QUOTED] + "…")
        super().__init__(f"refused {what} {quoted}: {why} (under {root})",
                         fix="sentinel-drill never writes such a name: find out who wrote it, and remove it")
        self.name = name
        self.root = root
        self.why = why


def shown(name: str) -> str:
    """`name` as it may appear in a one-line message: quoted with escapes when it holds control characters."""
    return name if name.isprintable() else repr(name)


def _name_problem(name: str) -> str | None:
    """Why `name` cannot be a relative path of plain parts, or None."""
    if "\x00" in name:
        return "it holds a NUL byte"
    if "\\" in name:
        return "it holds a backslash"
    if not name:
        return "it is empty"
    if name.startswith("/"):
        return "it is an absolute path"
    parts = name.split("/")
    if ".." in parts:
        return "it climbs out with '..'"
    if "." in parts:
        return "it has a '.' part"
    if "" in parts:
        return "it has an empty part ('//' or a trailing '/')"
    return None


def _disk_problem(root: Path, parts: list[str]) -> str | None:
    """Why what already exists below `root` on the way to `parts` must not be followed, or None."""
    current = root
    for depth, part in enumerate(parts, start=1):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            return None  # nothing further down exists yet
        except NotADirectoryError:
            return None  # reported below for the part that is a file
        where = "/".join(parts[:depth])
        if stat.S_ISLNK(mode):
            return f"{where!r} below the root is a symbolic link"
        last = depth == len(parts)
        if not last and not stat.S_ISDIR(mode):
            return f"{where!r} below the root is not a directory"
        if last and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            return f"{where!r} below the root is a device, FIFO or socket"
    return None


def path_under(root: Path, name: str, *, what: str = "name") -> Path:
    """The path of `name` below `root`; UnsafeName when the name or what is on disk would lead elsewhere.

    `what` says what the name is ("store key", "archive member", …) in the refusal.
    Nothing is created; a caller that writes uses `write_under`.
    """
    why = _name_problem(name) or _disk_problem(root, name.split("/"))
    if why:
        raise UnsafeName(name, root, why, what=what)
    return root.joinpath(*name.split("/"))


def member_path_under(root: Path, member: tarfile.TarInfo) -> Path:
    """The path of a regular-file archive member below `root`; links, devices and FIFOs are refused."""
    kind = ("a symbolic link" if member.issym() else "a hard link" if member.islnk()
            else "a device" if member.isdev() and not member.isfifo() else "a FIFO" if member.isfifo()
            else None if member.isfile() else "not a regular file")
    if kind:
        target = f" (to {member.linkname!r})" if member.issym() or member.islnk() else ""
        raise UnsafeName(member.name, root, f"it is {kind}{target}", what="archive member")
    return path_under(root, member.name, what="archive member")


def write_under(root: Path, name: str, data: bytes, *, what: str = "name") -> Path:
    """Write `data` to `name` below `root` (parents created); never through a link, never outside `root`."""
    path = path_under(root, name, what=what)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return path
