"""Moving folders of files as zip archives, safely.

Used on both ends of the exchange: the service packs released files,
submissions and feedback; the plugin in a user's server unpacks them. Paths
are checked so that no archive can write outside its folder.
"""

from __future__ import annotations

import io
import os
import posixpath
import zipfile
from pathlib import Path

from sabaq.errors import Invalid
from sabaq.i18n import N_

MAX_DEPTH = 8


def safe_relpath(path: str) -> str:
    """Normalise a relative POSIX path; refuse absolute, parent or odd paths."""
    if not isinstance(path, str) or not path or "\x00" in path or "\\" in path:
        raise Invalid(N_("The file name '{path}' is not allowed."), path=str(path))
    if any(ord(ch) < 32 for ch in path):
        raise Invalid(N_("The file name '{path}' is not allowed."), path=path.encode("unicode_escape").decode())
    norm = posixpath.normpath(path)
    parts = norm.split("/")
    if (
        norm.startswith("/")
        or norm in (".", "")
        or any(p in ("..", "") for p in parts)
        or len(parts) > MAX_DEPTH
        or len(norm) > 400
    ):
        raise Invalid(N_("The file name '{path}' is not allowed."), path=path)
    return norm


def pack(files: dict[str, bytes]) -> bytes:
    """A zip archive of {relative path: content}."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in sorted(files):
            zf.writestr(safe_relpath(path), files[path])
    return buf.getvalue()


def unpack(data: bytes, max_total: int = 2 * 1024**3) -> dict[str, bytes]:
    """{relative path: content} from a zip archive, refusing unsafe paths and bombs."""
    out: dict[str, bytes] = {}
    total = 0
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            total += info.file_size
            if total > max_total:
                raise Invalid(N_("The archive is too large to unpack."))
            out[safe_relpath(info.filename)] = zf.read(info)
    return out


def read_tree(root: str | os.PathLike, ignore=None) -> dict[str, bytes]:
    """All regular files below root as {relative path: content}; symlinks are skipped."""
    root = Path(root)
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        dirnames[:] = sorted(
            d for d in dirnames
            if not os.path.islink(os.path.join(dirpath, d))
            and not (ignore and ignore(str(rel_dir / d), True))
        )
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = (rel_dir / name).as_posix()
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            if ignore and ignore(rel, False):
                continue
            with open(full, "rb") as fh:
                out[rel] = fh.read()
    return out


def write_tree(root: str | os.PathLike, files: dict[str, bytes], overwrite: bool = True) -> list[str]:
    """Write files below root; return the paths written."""
    root = Path(root)
    written = []
    for rel, content in sorted(files.items()):
        target = root / safe_relpath(rel)
        if target.exists() and not overwrite:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".sabaq-tmp")
        tmp.write_bytes(content)
        os.replace(tmp, target)
        written.append(rel)
    return written
