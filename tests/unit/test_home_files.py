"""What the spawner writes into a home goes through sabaq.hub.jupyterhub.homefiles: no link
planted in the home, or swapped in while it writes, is followed, and what is the person's
own (a course's nbgrader_config.py they edited) stays (issue 14). The same code runs in
the process the spawner starts as the person; tests/test_spawner_homes.py races it as root."""

from __future__ import annotations

import io
import os
import threading

import pytest

from sabaq.hub.jupyterhub.homefiles import decode, encode, write_files


@pytest.fixture
def outside(tmp_path):
    """A folder the writer must never reach, and a home it writes into."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "victim").write_text("untouched")
    (tmp_path / "home").mkdir()
    return tmp_path / "outside", tmp_path / "home"


def test_a_folder_swapped_for_a_link_during_the_writes_is_never_followed(outside):
    """The race of issue 14: a loop swapping a folder for a link while files are written in it."""
    far, root = outside
    (root / ".jupyter").mkdir()
    stop = threading.Event()

    def swap():
        while not stop.is_set():
            try:
                os.rename(root / ".jupyter", root / ".jupyter-real")
                os.symlink(far, root / ".jupyter")
                os.unlink(root / ".jupyter")
                os.rename(root / ".jupyter-real", root / ".jupyter")
            except OSError:
                pass

    swapper = threading.Thread(target=swap)
    swapper.start()
    try:
        for i in range(300):
            write_files(str(root), [(".jupyter/nbgrader_config.py", b"c = 1", True),
                                    (f".jupyter/labconfig/{i}.json", b"{}", True)], lambda *_: None)
    finally:
        stop.set()
        swapper.join()
    assert sorted(p.name for p in far.iterdir()) == ["victim"]


def test_home_files_leave_links_alone_and_say_so(outside):
    far, home = outside
    (home / ".jupyter").symlink_to(far)
    (home / "course").mkdir()
    (home / "course" / "nbgrader_config.py").write_text("mine")
    warned = []
    files = [(".jupyter/nbgrader_config.py", b"c = 1", True), ("course/nbgrader_config.py", b"theirs", False),
             ("course/source/ps1/ps1.ipynb", b"{}", False), ("../escape", b"x", True)]
    assert write_files(str(home), decode_encoded(files), lambda path, e: warned.append(path)) == 1
    assert warned == [".jupyter/nbgrader_config.py", "../escape"]
    assert (home / "course" / "nbgrader_config.py").read_text() == "mine"  # not overwritten: it is theirs
    assert (home / "course" / "source" / "ps1" / "ps1.ipynb").read_bytes() == b"{}"
    assert sorted(p.name for p in far.iterdir()) == ["victim"] and not (home.parent / "escape").exists()


def decode_encoded(files):
    """The files as the spawner's child process receives them."""
    return list(decode(io.BytesIO(encode(files))))
