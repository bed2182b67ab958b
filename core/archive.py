"""Moving folders of files as zip archives, safely; and the names and writes that are safe.

Used on both ends of the exchange: the service packs released files,
submissions and feedback; the plugin in a user's server unpacks them. Paths
are checked so that no archive can write outside its folder.

Every name from outside that becomes a path (a task, group, test or lesson name,
a file in a package or an archive) passes one allow-list: ``safe_name`` for one
name, ``safe_relpath`` for a relative path (each of its names). Where sabaq writes
into a folder someone else controls (a teacher's package, a student's home), it
writes through folder descriptors (``opened_dir``, ``subfolder``, ``write_file``):
every name is opened relative to the folder before it with O_NOFOLLOW, so a link
planted anywhere on the way is refused, not followed, and there is no check that a
swap could race: the open is the check.
"""

from __future__ import annotations

import errno
import io
import os
import secrets
import stat
import unicodedata
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sabaq.errors import Invalid, Phrase
from sabaq.i18n import N_

MAX_DEPTH = 8  # names in a relative path
MAX_NAME = 120  # characters in one name (and at most 255 bytes, what file systems take)
MAX_PATH = 400  # characters in a relative path
NAME_RULE = N_("1 to {limit} printable characters without '/' or '\\', not '.' or '..', not starting with '-'")


def _shown(text) -> str:
    """A name as it can be shown in a message: control characters escaped, cut when long."""
    text = str(text)
    shown = "".join(ch if ch.isprintable() else ch.encode("unicode_escape", "backslashreplace").decode()
                    for ch in text)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _allowed(name) -> bool:
    return (
        isinstance(name, str)
        and 0 < len(name) <= MAX_NAME
        and name not in (".", "..")
        and not name.startswith("-")
        and all((ch.isprintable() or unicodedata.category(ch) == "Zs") and ch not in "/\\" for ch in name)
        and len(name.encode("utf-8", "surrogatepass")) <= 255
    )


def safe_name(name: str) -> str:
    """One name from outside that becomes one name in a path (a task, a group, a test, a
    lesson, a file), unchanged when the allow-list takes it: 1 to MAX_NAME printable
    characters (letters of any alphabet, digits, spaces of any width, punctuation, symbols),
    no '/' or '\\', not '.' or '..', not starting with '-'. Anything else (NUL, control
    characters, invisible format characters such as a right-to-left override) is a
    translated Invalid saying what is allowed."""
    if not _allowed(name):
        raise Invalid(N_("The name '{name}' is not allowed: a name is {rule}."), name=_shown(name),
                      rule=Phrase(NAME_RULE, limit=MAX_NAME))
    return name


def safe_relpath(path: str) -> str:
    """A relative POSIX path from outside, normalised ('.' and repeated slashes dropped):
    at most MAX_DEPTH names, each one safe_name allows; absolute paths and '..' refused."""
    kept = [p for p in path.split("/") if p not in ("", ".")] if isinstance(path, str) else []
    if (
        not kept
        or path.startswith("/")
        or len(kept) > MAX_DEPTH
        or len(path) > MAX_PATH
        or not all(_allowed(p) for p in kept)
    ):
        raise Invalid(N_("The file name '{path}' is not allowed: a path has at most {depth} names, each {rule}."),
                      path=_shown(path), depth=MAX_DEPTH, rule=Phrase(NAME_RULE, limit=MAX_NAME))
    return "/".join(kept)


def pack(files: dict[str, bytes], deflate: bool = True) -> bytes:
    """A zip archive of {relative path: content}; without ``deflate`` the files are stored as
    they are (any zip reader, ``unpack`` included, reads both)."""
    buf = io.BytesIO()
    compression = {"compression": zipfile.ZIP_DEFLATED, "compresslevel": 6} if deflate else {}
    with zipfile.ZipFile(buf, "w", **compression) as zf:
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


# --- writing into folders someone else controls, never through a link -------------------

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NOT_FOLLOWED = (errno.ELOOP, errno.ENOTDIR, errno.ENXIO, errno.EISDIR, errno.EMLINK)


def _not_followed(name: str) -> Invalid:
    return Invalid(N_("'{name}' is a symbolic link or not a regular file or folder: sabaq does not write "
                      "through it. Remove it and try again."), name=_shown(name), code="not_followed")


def _open_dir(name: str | os.PathLike, dir_fd: int | None) -> int:
    try:
        return os.open(name, _DIR, dir_fd=dir_fd)
    except OSError as e:
        if e.errno in _NOT_FOLLOWED:
            raise _not_followed(os.fspath(name)) from None
        raise


@contextmanager
def opened_dir(path: str | os.PathLike) -> Iterator[int]:
    """A folder opened for writing below it (closed at the end). Its own last name must not
    be a link; the path up to it is the caller's to trust (a home, a temporary folder)."""
    fd = _open_dir(path, None)
    try:
        yield fd
    finally:
        os.close(fd)


@contextmanager
def subfolder(dir_fd: int, names: Sequence[str], create: bool = False, mode: int = 0o755) -> Iterator[int]:
    """The folder dir_fd/names[0]/names[1]/..., each name checked by safe_name and opened
    relative to the one before with O_DIRECTORY|O_NOFOLLOW (made first if ``create``): a
    link anywhere on the way is a translated Invalid, never followed. A missing folder
    (without ``create``) is FileNotFoundError."""
    fd = os.dup(dir_fd)
    try:
        for name in names:
            safe_name(name)
            if create:
                try:
                    os.mkdir(name, mode, dir_fd=fd)
                except FileExistsError:
                    pass
            inner = _open_dir(name, fd)
            os.close(fd)
            fd = inner
        yield fd
    finally:
        os.close(fd)


def create_file(dir_fd: int, name: str, overwrite: bool = True, mode: int = 0o644) -> int | None:
    """An fd to write the file ``name`` of an opened folder, emptied; None when it exists
    and not ``overwrite``. Never through a link: a link, a FIFO, a device or a file with
    another hard link at that name is refused (a translated Invalid), not written to."""
    safe_name(name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    if not overwrite:
        flags |= os.O_EXCL  # O_EXCL never follows a link either: an existing link counts as existing
    try:
        fd = os.open(name, flags, mode, dir_fd=dir_fd)
    except FileExistsError:
        return None
    except OSError as e:
        if e.errno in _NOT_FOLLOWED:
            raise _not_followed(name) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
            raise _not_followed(name)
        os.set_blocking(fd, True)
        os.ftruncate(fd, 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_file(dir_fd: int, name: str, data: bytes, overwrite: bool = True, mode: int = 0o644) -> bool:
    """Write ``data`` to the file ``name`` of an opened folder (see ``create_file``); False
    when it exists and not ``overwrite``."""
    fd = create_file(dir_fd, name, overwrite, mode)
    if fd is None:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return True


def read_file(dir_fd: int, name: str) -> bytes:
    """The content of the regular file ``name`` of an opened folder, not through a link."""
    safe_name(name)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as e:
        if e.errno in _NOT_FOLLOWED:
            raise _not_followed(name) from None
        raise
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _not_followed(name)
        return fh.read()


def remove_file(dir_fd: int, name: str) -> None:
    """Remove the name ``name`` of an opened folder if it is there (a link itself, not its target)."""
    safe_name(name)
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass


def write_below(dir_fd: int, path: str, data: bytes, overwrite: bool = True) -> bool:
    """Write a file at a relative path below an opened folder, making its folders; nothing
    on the way is followed if it is a link. False when it exists and not ``overwrite``."""
    *folders, name = safe_relpath(path).split("/")
    with subfolder(dir_fd, folders, create=True) as fd:
        return write_file(fd, name, data, overwrite)


def replace_file(dir_fd: int, name: str, data: bytes, mode: int = 0o644) -> None:
    """Write a new file and rename it to ``name`` in an opened folder: whatever was there (a
    file, a link) is replaced, never written through, and readers see the old or the new."""
    safe_name(name)
    tmp = f".sabaq-{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        remove_file(dir_fd, tmp)
        raise


def write_tree(root: str | os.PathLike, files: dict[str, bytes], overwrite: bool = True) -> list[str]:
    """Write files below root (made if missing); return the paths written. No link below
    root is followed: folders are opened with O_NOFOLLOW, files replace what is at their name."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    written = []
    with opened_dir(root) as top:
        for rel, content in sorted(files.items()):
            *folders, name = safe_relpath(rel).split("/")
            with subfolder(top, folders, create=True) as fd:
                if not overwrite and _exists(fd, name):
                    continue
                replace_file(fd, name, content)
            written.append(rel)
    return written


def _exists(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False
