"""The grading sandbox without ctypes (issue 15): its native module's calls, and ctypes as
its processes see it (sizes only, no memory)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from processes import forked

from sabaq.autograders.sandbox import _native, ctypes_sizes


def test_the_dumpable_flag_is_set_once_also_for_forks():
    """A student's call cannot make the grading child's memory readable to its uid again,
    nor a fork's (a copy of the child's memory, with the nonce of the cell in flight)."""
    def again():
        try:
            _native.set_dumpable(True)
        except PermissionError:
            return "refused", _native.dumpable()
        return "set again", _native.dumpable()

    def once_then_again():
        _native.set_dumpable(False)
        return _native.dumpable(), again(), forked(again)

    assert forked(once_then_again) == repr((False, ("refused", False), repr(("refused", False))))


def test_the_memory_is_collapsed_once_and_not_in_a_fork():
    """The zygote puts its heap in huge pages once, before forking: a notebook's child (a fork
    of it) cannot make it run again."""
    def again():
        try:
            _native.collapse_memory()
        except PermissionError:
            return "refused"
        return "collapsed again"

    def once_then_again():
        collapsed = _native.collapse_memory()
        return type(collapsed) is int and collapsed % (2 << 20) == 0, again(), forked(again)

    assert forked(once_then_again) == repr((True, "refused", repr("refused")))


def test_the_parent_death_signal_and_no_new_privileges():
    def confine():
        _native.die_with_parent()
        _native.no_new_privs()
        with open("/proc/self/status") as status:
            no_new = next(line for line in status if line.startswith("NoNewPrivs:")).split()[1]
        return _native.parent_death_signal(), no_new

    assert forked(confine) == repr((int(signal.SIGKILL), "1"))


def test_reads_and_writes_keep_the_gil_and_report_errors_with_errno():
    r, w = os.pipe()
    try:
        assert _native.held_write(w, b"a line\n") == 7
        assert _native.held_read(r, 3) == b"a l"
        assert _native.held_read(r, 100) == b"ine\n"
        os.set_blocking(r, False)
        with pytest.raises(BlockingIOError):
            _native.held_read(r, 10)
        os.close(w)
        assert _native.held_read(r, 10) == b""  # the end
    finally:
        os.close(r)
    with pytest.raises(OSError) as bad:
        _native.held_write(w, b"x")
    assert bad.value.errno == 9  # EBADF


def test_dict_versions_change_with_every_change():
    d: dict = {}
    (before,) = _native.dict_versions((d,))
    d["a"] = 1
    (after,) = _native.dict_versions((d,))
    assert after != before
    assert _native.dict_versions((d,)) == (after,)  # reading changes nothing
    with pytest.raises(TypeError):
        _native.dict_versions(([],))


def test_the_stand_in_gives_sizes_and_refuses_memory():
    assert ctypes_sizes.sizeof(ctypes_sizes.c_long) == 8 and ctypes_sizes.sizeof(ctypes_sizes.c_int32(3)) == 4
    with pytest.raises(AttributeError, match="Union is not available while a notebook is graded"):
        _ = ctypes_sizes.Union
    with pytest.raises(AttributeError, match="c_long.from_address is not available"):
        _ = ctypes_sizes.c_long.from_address
    with pytest.raises(TypeError, match="c_char \\* 4 is not available"):
        _ = ctypes_sizes.c_char * 4


STAND_IN = """
import sys
from sabaq.autograders.sandbox import ctypes_sizes
ctypes_sizes.install()
import numpy, sympy
import matplotlib.pyplot
from ctypes import c_long, sizeof
try:
    from ctypes import Union
except ImportError:
    print("no Union")
try:
    import _ctypes
except ImportError:
    print("no _ctypes")
print(sizeof(c_long), sympy.sqrt(8), numpy.arange(4).sum(), sys.modules.get("_ctypes"))
ctypes_sizes.check_kept_out()
"""


def test_libraries_import_with_the_stand_in_and_the_real_ctypes_stays_out():
    done = subprocess.run([sys.executable, "-c", STAND_IN], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:3] == ["no Union", "no _ctypes", "8 2*sqrt(2) 6 None"]


def test_a_process_that_loaded_ctypes_cannot_install_the_stand_in():
    code = "import ctypes\nfrom sabaq.autograders.sandbox import ctypes_sizes\nctypes_sizes.install()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0 and "_ctypes is loaded in the grading sandbox" in done.stderr


def test_identity_checks_without_references():
    """same_values / same_types answer as map(is_, map(d.get, keys, repeat(missing)), values)
    and map(is_, map(type, objects), classes) do, errors of a key's equality included."""
    missing, one = object(), object()
    assert _native.same_values({"a": one}, ("a", "b"), [one, missing], missing)
    assert not _native.same_values({"a": one}, ("a",), (object(),), missing)
    assert not _native.same_values({"a": one}, ("a",), [one, missing], missing)  # more values than keys
    assert not _native.same_values({"a": one}, ("a", "b"), [one], missing)
    assert _native.same_types((1, "x"), (int, str)) and not _native.same_types((1,), (str,))

    def outer():
        held = one

        def inner(x=1, *, y=2):
            return held

        return inner

    inner = outer()
    cell, empty = inner.__closure__[0], object()
    assert _native.same_cells((cell,), (one,), empty) and not _native.same_cells((cell,), (missing,), empty)
    del cell.cell_contents
    assert _native.same_cells((cell,), (empty,), empty)
    defaults, kwdefaults = inner.__defaults__, inner.__kwdefaults__
    assert _native.same_defaults((inner,), (defaults,), (kwdefaults,))
    inner.__kwdefaults__ = None
    assert not _native.same_defaults((inner,), (defaults,), (kwdefaults,))
    assert _native.same_defaults((inner,), (defaults,), (None,))
    inner.__defaults__ = tuple(list(defaults))  # equal, not the same
    assert not _native.same_defaults((inner,), (defaults,), (None,))

    class Plain:
        pass

    class Slotted:
        __slots__ = ()

    plain, none = Plain(), object()
    plain.x = 1
    assert _native.same_dicts((plain, Slotted(), Plain), (vars(plain), none, none), none)  # a class: none
    assert not _native.same_dicts((plain,), ({"x": 1},), none)
    assert _native.keys_within(vars(plain), frozenset({"x", "y"}))
    assert not _native.keys_within(vars(plain), frozenset({"y"}))
    assert not _native.keys_within({1: 1}, frozenset({1}))  # not a string: the caller looks in Python
    import array

    tables = ({}, {"a": 1})
    tags = array.array("Q", _native.dict_versions(tables))
    assert _native.versions_changed(tables, tags) == []
    tables[1]["a"] = 2
    assert _native.versions_changed(tables, tags) == [1]
    with pytest.raises(ValueError):
        _native.versions_changed(tables, array.array("Q", [0]))

    class Raising:
        def __hash__(self):
            return hash("a")

        def __eq__(self, other):
            raise ValueError("compared")

    with pytest.raises(ValueError, match="compared"):
        _native.same_values({Raising(): 1}, ("a",), (1,), missing)


def test_identity_checks_write_to_no_object_they_compare():
    """In a freshly forked grading child, reading a reference (Python's map(is_, ...)) writes
    each object's reference count: a copy-on-write page fault per page of them (the
    pristine state's first check in each child). The native checks copy none of those pages."""
    objects = [bytes(8192 + i) for i in range(1000)]  # each on pages of its own
    table = {str(i): o for i, o in enumerate(objects)}
    keys, values, classes = tuple(table), tuple(objects), (bytes,) * len(objects)

    def faults(check) -> int:
        import resource
        from itertools import repeat
        from operator import is_

        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        assert check(is_, repeat)
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    def compare():
        native = faults(lambda is_, repeat: _native.same_values(table, keys, values, None)
                        and _native.same_types(values, classes))
        python = faults(lambda is_, repeat: all(map(is_, map(table.get, keys, repeat(None)), values)))
        return native < 50, python > 500

    assert forked(compare) == repr((True, True))
