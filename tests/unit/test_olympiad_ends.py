"""The order of two processes' ends, as the kernel recorded them (autograders/olympiad/ends.py):
the end that caused the other comes first, whichever was started first and whenever the
judge looks (here: only once both have long ended, in the wrong order)."""

from __future__ import annotations

import os
import subprocess

import pytest

from sabaq.autograders.olympiad import ends

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the kernel's task statistics are root's")


def _ended_by_the_other(first_started_ends_first: bool) -> tuple[int, int, int | None, int | None]:
    """A reader that waits for the end of its input and a writer that ends at once, holding
    the only write end of it: the writer's end causes the reader's. (writer, reader, first,
    the first of this process's children heard ending)."""
    with ends.listen() as heard:
        read, write = os.pipe()
        try:
            if first_started_ends_first:
                writer = subprocess.Popen(["sh", "-c", "exit 3"], stdout=write)
                reader = subprocess.Popen(["cat"], stdin=read, stdout=subprocess.DEVNULL)
            else:
                reader = subprocess.Popen(["cat"], stdin=read, stdout=subprocess.DEVNULL)
                writer = subprocess.Popen(["sh", "-c", "exit 3"], stdout=write)
        finally:
            os.close(read)
            os.close(write)
        assert reader.wait(timeout=30) == 0  # the later end, collected first
        assert writer.wait(timeout=30) == 3
    return writer.pid, reader.pid, heard.first(reader.pid, writer.pid), heard.first_child(os.getpid())


def test_the_end_that_caused_the_other_is_first_whichever_started_first():
    for first_started_ends_first in (True, False):
        writer, reader, first, first_child = _ended_by_the_other(first_started_ends_first)
        assert first == writer, first_started_ends_first
        assert first != reader
        assert first_child == writer  # known by its parent, had the judge not seen it start


def test_a_process_whose_end_was_not_heard_has_no_order():
    before = subprocess.Popen(["true"])
    before.wait()
    with ends.listen() as heard:
        after = subprocess.Popen(["true"])
        after.wait()
    assert heard.first(before.pid, after.pid) is None  # it ended before the listener listened
    assert heard.first(after.pid, after.pid) == after.pid
