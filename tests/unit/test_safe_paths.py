"""Names from outside that become paths pass one allow-list, and writes into folders
someone else controls follow no link (issue 14: nobody exceeds their role).

Root writes into teachers' packages and students' homes; a '..' in a name, or a link
planted (or swapped in) on the way, must not let it write or delete anything else."""

from __future__ import annotations

import os

import pytest

from sabaq.archive import (
    MAX_NAME,
    create_file,
    opened_dir,
    read_file,
    safe_name,
    safe_relpath,
    subfolder,
    write_below,
    write_file,
    write_tree,
)
from sabaq.errors import Invalid

GOOD = ["secret", "small-1", "1", "a.b", "Есеп 1", "қала_2", "x" * MAX_NAME, "..a", "a..", ".hidden", "a b", "Есеп\u00a01", "ә😀", "x-"]
BAD = ["", ".", "..", "a/b", "/", "a\\b", "a\x00b", "a\nb", "tab\there", "\x7f", "-rf", "--help", "x" * (MAX_NAME + 1),
       "a\u202eb", "€" * 86, None, 5, b"name"]


@pytest.mark.parametrize("name", GOOD)
def test_names_the_allow_list_takes(name):
    assert safe_name(name) == name


@pytest.mark.parametrize("name", BAD)
def test_names_the_allow_list_refuses(name):
    with pytest.raises(Invalid):
        safe_name(name)


def test_a_refused_name_says_what_is_allowed_in_every_language():
    with pytest.raises(Invalid) as err:
        safe_name("..")
    assert err.value.status == 422
    en = err.value.translated("en")
    assert "'..'" in en and f"1 to {MAX_NAME} printable characters" in en and "'-'" in en
    for lang in ("kk", "ru"):
        text = err.value.translated(lang)
        assert text != en and ".." in text and str(MAX_NAME) in text
    with pytest.raises(Invalid) as err:
        safe_name("a\x00\x1b")
    assert "\\x00" in str(err.value)  # shown escaped, not written to a terminal as is


@pytest.mark.parametrize("path", ["-x", "a/-rf", "a/b\u200fc", "a/" + "x" * (MAX_NAME + 1), "a/../b", "./.."])
def test_relative_paths_take_the_same_rule_for_each_name(path):
    with pytest.raises(Invalid) as err:
        safe_relpath(path)
    assert f"at most 8 names, each 1 to {MAX_NAME}" in str(err.value)


def test_relative_paths_are_normalised():
    assert safe_relpath("data//secret/./1.in") == "data/secret/1.in"
    assert safe_relpath("Есеп 1/x-y/a..b") == "Есеп 1/x-y/a..b"


@pytest.fixture
def outside(tmp_path):
    """A folder the writer must never reach, and a folder it writes into."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "victim").write_text("untouched")
    (tmp_path / "inside").mkdir()
    return tmp_path / "outside", tmp_path / "inside"


def test_a_linked_folder_on_the_way_is_refused_not_followed(outside):
    far, root = outside
    (root / "data").mkdir()
    (root / "data" / "secret").symlink_to(far)
    with opened_dir(root) as top:
        with pytest.raises(Invalid) as err, subfolder(top, ["data", "secret"], create=True):
            pass
        assert err.value.code == "not_followed" and "'secret'" in str(err.value)
        with pytest.raises(Invalid):
            write_below(top, "data/secret/new.in", b"x")
        with pytest.raises(Invalid), subfolder(top, ["data", ".."]):  # the names on the way are checked too
            pass
    with pytest.raises(Invalid):
        write_tree(root, {"data/secret/new.in": b"x"})
    assert sorted(p.name for p in far.iterdir()) == ["victim"]
    (root / "link").symlink_to(far)
    with pytest.raises(Invalid), opened_dir(root / "link"):
        pass


def test_a_link_or_a_fifo_at_the_file_is_not_written_through(outside):
    far, root = outside
    (root / "config.json").symlink_to(far / "victim")
    (root / "dangling").symlink_to(far / "new")
    os.mkfifo(root / "fifo")
    os.link(far / "victim", root / "hardlink")
    with opened_dir(root) as top:
        for name in ("config.json", "dangling", "fifo", "hardlink"):
            with pytest.raises(Invalid):
                write_file(top, name, b"overwritten")
        assert write_file(top, "config.json", b"x", overwrite=False) is False  # exists (a link): left alone
        with pytest.raises(Invalid):
            read_file(top, "config.json")
        assert write_file(top, "fresh", b"new") and read_file(top, "fresh") == b"new"
        fd = create_file(top, "fresh")
        os.close(fd)
        assert read_file(top, "fresh") == b""  # emptied for the new content
    assert (far / "victim").read_text() == "untouched" and not (far / "new").exists()
    assert (root / "config.json").is_symlink()


def test_write_tree_replaces_a_planted_link_instead_of_following_it(outside):
    far, root = outside
    (root / "a.txt").symlink_to(far / "victim")
    assert write_tree(root, {"a.txt": b"mine", "d/b.txt": b"b"}) == ["a.txt", "d/b.txt"]
    assert not (root / "a.txt").is_symlink() and (root / "a.txt").read_bytes() == b"mine"
    assert (far / "victim").read_text() == "untouched"
    assert write_tree(root, {"a.txt": b"again"}, overwrite=False) == []
    assert sorted(p.name for p in root.iterdir()) == ["a.txt", "d"]  # no temporary file left
