"""The pristine state a test cell starts from (issue 15): what the grading child pins before
any student code runs is kept and put back like the rest."""

from __future__ import annotations

import sys
import types

import pytest

from sabaq.autograders.sandbox import pristine as pristine_module
from sabaq.autograders.sandbox.pristine import Pristine, _Dict, _Module, _Object


class Part:
    def method(self):
        return "the class's"


SHELL = types.SimpleNamespace(user_ns={}, user_global_ns={})  # the namespaces are all the checks read of it


def refuse(*args):
    raise RuntimeError("refused")


def replacement(*args):
    return "the student's"


@pytest.fixture()
def pristine(monkeypatch):
    monkeypatch.setattr(pristine_module, "PINNABLE_MODULES", frozenset({"pinned_module"}))
    module = types.ModuleType("pinned_module")
    module.helper = len
    monkeypatch.setitem(sys.modules, module.__name__, module)
    part = Part()
    part.hook = print
    tables = [_Dict(f"table {i}", {"f": len}, True) for i in range(50)]
    guard = Pristine([_Module(module.__name__, module), _Object("part", part), *tables], shell=None)
    return guard, module, part


def test_what_the_child_pins_is_kept_without_indexing_every_guard_again(pristine, monkeypatch):
    """Each child pins input() refused and the shell's recorder; indexing the zygote's
    thousands of guards again for it wrote to each of them (a copy-on-write page fault per
    page in every fresh fork). Only the owner's rows change, and the quick check and the
    restore still see the pinned values as pristine."""
    guard, module, part = pristine

    def index_again():
        raise AssertionError("pin indexed every guard again")

    monkeypatch.setattr(guard, "_index", index_again)
    entries = guard.guards[0].entries
    keys, values = entries.keys, entries.values
    guard.pin(module, "helper", refuse)  # an entry it had
    guard.pin(module, "input", refuse)  # a new one
    guard.pin(part, "recorder", refuse)
    # the module's entries changed in place, not copied (a copy wrote to every entry's object)
    assert entries.keys is keys and entries.values is values and values[keys.index("helper")] is refuse
    assert guard._untouched() and guard.tampered(SHELL) == []

    module.input = replacement
    part.recorder = replacement
    part.method = replacement  # a method shadowed on the instance
    assert not guard._untouched()
    assert set(guard.tampered(SHELL)) == {"pinned_module", "part"}
    module.helper = replacement
    guard.restore(SHELL)
    assert module.input is refuse and module.helper is refuse and part.recorder is refuse
    assert part.method() == "the class's"
    assert guard._untouched() and guard.tampered(SHELL) == []


def test_a_value_pinned_again_replaces_the_first(pristine):
    guard, module, part = pristine
    guard.pin(module, "helper", refuse)
    guard.pin(module, "helper", replacement)
    module.helper = refuse
    assert not guard._untouched()
    guard.restore(SHELL)
    assert module.helper is replacement and guard._untouched()


def test_a_table_whose_entries_may_go_is_compared_again_only_once_it_changed(monkeypatch):
    """IPython moves a deferred printer once its type is seen, so such a table is compared entry
    by entry (in Python) as soon as one went; that is done again only when its version tag
    changed. A replaced entry still counts, and an entry that went does not."""
    printers = {"a.A": len, "b.B": repr}
    loose = _Dict("deferred printers", printers, False, allow_missing=True)
    guard = Pristine([loose], shell=None)
    del printers["a.A"]  # moved by IPython
    compared = []
    changed = _Dict.changed
    monkeypatch.setattr(_Dict, "changed", lambda self: compared.append(self.label) or changed(self))
    assert guard._untouched() and compared == ["deferred printers"]
    assert guard._untouched() and compared == ["deferred printers"]  # not compared again
    printers["b.B"] = replacement
    assert not guard._untouched()
    assert guard.tampered(SHELL) == ["deferred printers"]
    guard.restore(SHELL)
    assert printers == {"b.B": repr} and guard._untouched()


def test_the_quick_check_reads_its_rows_natively_also_after_a_pin_and_for_classes(pristine, monkeypatch):
    """The quick check's rows (a class's through the dict behind its mappingproxy, a table a
    pin added a key to) go through the native module, which holds no reference to the
    values it compares (no copy-on-write page fault for each of their pages in a fresh
    child); a change is still seen."""
    guard, module, part = pristine
    guard.pin(module, "input", refuse)  # a key added: the row's tuple of keys follows
    klass = type("Klass", (), {"method": Part.method})
    of_class = Pristine([_Dict("Klass", vars(klass), True)], shell=None)
    calls = []
    native = pristine_module.same_values
    monkeypatch.setattr(pristine_module, "same_values", lambda *a: calls.append(a[1]) or native(*a))
    module.other = 1  # the module's table changed: compared again
    klass.method, klass.method = replacement, Part.method  # the class's table (a mappingproxy) changed too
    assert guard._untouched() and of_class._untouched()
    assert any("input" in keys for keys in calls) and any("method" in keys for keys in calls)
    module.input = replacement
    klass.method = replacement
    assert not guard._untouched() and not of_class._untouched()


def test_a_method_shadowed_or_a_key_not_a_string_on_an_object_is_still_seen(pristine):
    """The objects' own dicts and their keys are read natively (no reference to each key):
    a method shadowed on the instance or a key that is not a string still counts, a
    harmless new name does not."""
    guard, module, part = pristine
    part.note = "harmless"
    assert guard._untouched()
    vars(part)[1] = "not a string"
    assert not guard._untouched()
    del vars(part)[1]
    part.method = replacement
    assert not guard._untouched()
    guard.restore(SHELL)
    assert guard._untouched() and part.method() == "the class's"
