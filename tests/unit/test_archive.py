"""Archives and uploads: no path escapes its folder, damaged notebooks are refused."""

import io
import zipfile

import pytest

from sabaq.archive import pack, read_tree, safe_relpath, unpack, write_tree
from sabaq.errors import Invalid, TooLarge
from sabaq.hub.domain.uploads import check_upload


@pytest.mark.parametrize("bad", ["/etc/passwd", "../x", "a/../../x", "a\\b", "", ".", "a\x00b", "a\nb", "a/" * 10 + "x"])
def test_unsafe_paths_are_refused(bad):
    with pytest.raises(Invalid):
        safe_relpath(bad)


def test_paths_are_normalised():
    assert safe_relpath("a/./b.ipynb") == "a/b.ipynb"
    assert safe_relpath("Есеп 1.ipynb") == "Есеп 1.ipynb"


def test_round_trip(tmp_path):
    files = {"ps1.ipynb": b"{}", "data/қала.csv": "Алматы".encode()}
    write_tree(tmp_path / "x", unpack(pack(files)))
    assert read_tree(tmp_path / "x") == files


def test_zip_slip_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../evil.sh", "rm -rf /")
    with pytest.raises(Invalid):
        unpack(buf.getvalue())


def test_symlinks_are_not_followed_when_reading(tmp_path):
    (tmp_path / "a.txt").write_text("ok")
    (tmp_path / "link").symlink_to("/etc/passwd")
    assert read_tree(tmp_path) == {"a.txt": b"ok"}


def test_upload_checks():
    with pytest.raises(TooLarge):
        check_upload({"big.bin": b"x" * 11}, max_bytes=10, max_files=5)
    with pytest.raises(TooLarge):
        check_upload({f"{i}.txt": b"" for i in range(6)}, max_bytes=10, max_files=5)
    with pytest.raises(Invalid) as err:
        check_upload({"hw.ipynb": b'{"cells": [oops'}, max_bytes=100, max_files=5)
    assert err.value.code == "bad_notebook" and "hw.ipynb" in str(err.value)
    with pytest.raises(Invalid):
        check_upload({"hw.ipynb": b'{"nbformat": 4, "cells": 3}'}, max_bytes=100, max_files=5)
