"""Files the spawner puts into a home, written by the home's owner.

The spawner runs as root and a home is its owner's to change: a link planted in it
(``~/.jupyter`` swapped for a link to another folder, even between a check and a
write) must not make root write elsewhere. So the spawner does not write there as
root: it runs ``python -I -m sabaq.hub.jupyterhub.homefiles HOME`` as the person
(their uid and gid, no other group), and the kernel lets that process write only
where the person could. Every file is also written through folder descriptors that
follow no link (``sabaq.archive.write_below``): a link is left alone, not followed.

On stdin, each file is one JSON line ``{"path": ..., "size": ..., "overwrite": ...}``
followed by its ``size`` bytes; what could not be written is one line on stderr each.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import BinaryIO

from sabaq.archive import opened_dir, write_below
from sabaq.errors import SabaqError

HomeFile = tuple[str, bytes, bool]  # path below the home, content, overwrite an existing file


def write_files(home: str, files: Iterable[HomeFile], warn: Callable[[str, Exception], None]) -> int:
    """Write each file below ``home``; ``warn(path, error)`` for each one that could not be
    (a link or a FIFO in the way, a name not allowed). Return how many were written."""
    written = 0
    with opened_dir(home) as top:
        for path, content, overwrite in files:
            try:
                written += write_below(top, path, content, overwrite)
            except (OSError, SabaqError) as e:
                warn(path, e)
    return written


def encode(files: Iterable[HomeFile]) -> bytes:
    """The files as this module reads them on stdin."""
    out = []
    for path, content, overwrite in files:
        out.append(json.dumps({"path": path, "size": len(content), "overwrite": overwrite}).encode() + b"\n")
        out.append(content)
    return b"".join(out)


def decode(stream: BinaryIO) -> Iterable[HomeFile]:
    while header := stream.readline():
        entry = json.loads(header)
        content = stream.read(entry["size"])
        if len(content) != entry["size"]:
            raise EOFError("the list of files ends in the middle of one")
        yield entry["path"], content, bool(entry["overwrite"])


def main(argv: list[str]) -> int:
    def warn(path: str, error: Exception) -> None:
        print(f"not written: {path}: {error}", file=sys.stderr)

    write_files(argv[0], decode(sys.stdin.buffer), warn)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
