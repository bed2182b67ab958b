"""The grading child takes the student's uid and still dies with its forker: the
parent-death signal is set after the change of uid, which clears it."""

from __future__ import annotations

import ast
import os
import signal

import pytest
from processes import forked

from sabaq.autograders.sandbox._native import parent_death_signal
from sabaq.autograders.sandbox.zygote import become

NOBODY = 65534


def _in_a_child(uid, gid) -> tuple[int, int, int]:
    """(uid, its parent-death signal, whether it switched) as seen in a forked child."""
    def switch():
        switched = become(uid, gid)
        return os.getuid(), parent_death_signal(), int(switched)

    return ast.literal_eval(forked(switch))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: changes uid (CI is root)")
def test_the_child_becomes_the_student_and_keeps_the_parent_death_signal():
    assert _in_a_child(NOBODY, NOBODY) == (NOBODY, signal.SIGKILL, 1)


def test_without_a_uid_the_child_stays_who_it_is_and_dies_with_its_parent():
    assert _in_a_child(None, None) == (os.getuid(), signal.SIGKILL, 0)
