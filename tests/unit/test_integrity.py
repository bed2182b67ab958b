"""A test cell's result cannot be faked from an answer cell (issue 15, items 2 and 3).

Each attack runs as a student would write it, in an answer cell of a grading shell (in a
subprocess: tests/integrity_runner.py forks one child per scenario from a warm shell);
the test cell after it, run after ``Pristine.restore`` with ``StrictComparisons``, must
fail exactly as it fails for the same wrong answer without the attack. Honest values
compare exactly as Python compares them, and the student's own names stay.
"""

from __future__ import annotations

import collections
import decimal
import fractions
import re

import numpy as np
import pytest
import sympy
from integrity_runner import run_scenarios as run
from processes import forked

from sabaq.autograders.sandbox import integrity

WRONG_SQUARE = "def square(x):\n    return x + x\n"
TEST_SQUARE = "assert square(3) == 9\nassert square(-2) == 4"


# attack name -> code appended to a wrong answer (square returns x + x)
ATTACKS = {
    "showtraceback": "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
                     "ip._showtraceback = lambda *a, **k: None",
    "showtraceback_on_class": "type(get_ipython())._showtraceback = lambda *a, **k: None\n"
                              "type(get_ipython()).__mro__[1].showtraceback = lambda *a, **k: None",
    "custom_exc": "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)",
    "post_run_cell_clear": "from IPython.display import clear_output\n"
                           "get_ipython().events.register('post_run_cell', lambda r: clear_output())",
    "pre_run_cell_repatch": "import builtins\ndef again(*a):\n    get_ipython().showtraceback = lambda *a, **k: None\n"
                            "get_ipython().events.register('pre_run_cell', again)",
    "assertion_error_swapped": "import builtins\nclass Quiet(Exception):\n    pass\nbuiltins.AssertionError = Quiet",
    "displayhook_and_excepthook": "import sys\nsys.displayhook = lambda v: None\nsys.excepthook = lambda *a: None",
    "input_transformer": "get_ipython().input_transformers_cleanup.append(lambda lines: ['pass\\n'])",
    "input_transformer_post": "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])",
    "ast_transformer": "import ast\nclass Empty(ast.NodeTransformer):\n    def visit_Assert(self, node):\n"
                       "        return None\nget_ipython().ast_transformers.append(Empty())",
    "always_equal": "class Anything:\n    def __eq__(self, other):\n        return True\n"
                    "    def __ne__(self, other):\n        return False\n"
                    "def square(x):\n    return Anything()",
    "int_subclass_equal": "class Nine(int):\n    def __eq__(self, other):\n        return True\n"
                          "    __hash__ = int.__hash__\ndef square(x):\n    return Nine(0)",
    "class_spoofing": "class Fake:\n    __class__ = int\n    def __eq__(self, other):\n        return True\n"
                      "def square(x):\n    return Fake()",
    "compare_name_shadowed": "__sabaq_compare__ = (lambda a, b: True,) * 5",
    "builtins_dict_replaced": "__builtins__ = {'__import__': __import__, 'AssertionError': ValueError}",
    "run_cell_replaced": "cls = type(get_ipython())\nreal = cls.run_cell\n"
                         "def run_cell(self, raw_cell, *a, **k):\n    return real(self, 'pass', *a, **k)\n"
                         "cls.run_cell = run_cell",
    "instance_run_cell": "ip = get_ipython()\nreal = ip.run_cell\nip.run_cell = lambda cell, *a, **k: real('pass', *a, **k)",
    "transform_cell": "ip = get_ipython()\nip.transform_cell = lambda cell: 'pass\\n'",
    "settrace": "import sys\ndef tracer(frame, event, arg):\n    return tracer\nsys.settrace(tracer)",
    "input_fed": "import builtins\nbuiltins.input = lambda *a: '9'\ndef square(x):\n    return int(input())",
    "recorder_replaced": "class Sink:\n    def __getattr__(self, name):\n        return lambda *a, **k: None\n"
                         "get_ipython().recorder = Sink()",
    "fake_flush_figures": ("import importlib.util, os\n"
                           "path = os.path.join(os.path.dirname(importlib.util.find_spec('matplotlib_inline').origin), "
                           "'backend_inline.py')\nns = {'get_ipython': get_ipython}\n"
                           "exec(compile('def flush_figures():\\n    r = get_ipython().last_execution_result\\n"
                           "    r.error_in_exec = None', path, 'exec'), ns)\n"
                           "get_ipython().events.register('post_execute', ns['flush_figures'])"),
    "signal_handler": "import signal\nsignal.signal(signal.SIGPROF, lambda *a: None)\n"
                      "signal.setitimer(signal.ITIMER_PROF, 0.001, 0.001)",
}


# what the guard refuses: a cell each
REFUSED = {
    "gc": "import gc\ngc.get_objects()",
    "referrers": "import gc\ngc.get_referrers(square)",
    "referents": "import gc\ngc.get_referents(get_ipython())",
    "frames": "import sys\nsys._current_frames()",
    "ctypes_addressof": "import ctypes\nctypes.addressof(ctypes.c_int(1))",
    "ctypes_address": "import ctypes\nctypes.c_int.from_address(id(1))",
    "pythonapi": "import ctypes\nctypes.pythonapi.Py_IncRef",
    "library_code": "import numpy.testing as t\nt.assert_allclose.__code__ = (lambda *a, **k: None).__code__",
    "library_defaults": "import json\njson.dumps.__defaults__ = None",
    "library_kwdefaults": "import numpy as np\nnp.testing.assert_allclose.__kwdefaults__ = {}",
    "library_bases": "import fractions\nclass Base:\n    pass\nfractions.Fraction.__bases__ = (Base,)",
    "profile": "import sys\nsys.setprofile(lambda *a: None)",
}

# frames refused to notebook code: a cell each (from any frame f_back leads to the grader's)
FRAMES = {
    "getframe": "import sys\nsys._getframe()",
    "inspect": "import inspect\ninspect.currentframe()",
    "inspect_stack": "import inspect\ninspect.stack()",
    "traceback_frame": "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    e.__traceback__.tb_frame",
    "generator_frame": "def g():\n    yield 1\ng().gi_frame",
    "running_generator": "def g():\n    yield it.gi_frame\nit = g()\nnext(it)",
    "local_scope_deep": "get_ipython().get_local_scope(3)",
    "walk_stack": "import traceback\nlist(traceback.walk_stack(None))",
    "library_file_name": "import os\ncompile('x = 1', os.__file__, 'exec')",
    "code_renamed": "(lambda: 0).__code__.replace(co_filename=__import__('os').__file__)",
    "marshal": "import marshal\nmarshal.loads(marshal.dumps(1))",
}

HONEST = [
    ["answer", ("import numpy as np\nimport matplotlib.pyplot as plt\n%matplotlib inline\n"
                "x = np.linspace(0, 1, 5)\nplt.plot(x, x ** 2)\nplt.show()\n"
                "def square(x):\n    return x * x\nhelper = lambda v: v + 1\nstate = {'n': 1}")],
    ["answer", ("def g():\n    return 1\ndef h():\n    return 2\ng.__code__ = h.__code__\nassert g() == 2\n"
                "from collections import namedtuple\nP = namedtuple('P', 'x y')\nQ = namedtuple('Q', 'a', defaults=[1])\n"
                "import logging, enum, typing\nlogging.getLogger('t').warning('noted')\n%time t = 1\n"
                "E = enum.Enum('E', 'a b')\nT = typing.TypeVar('T')\nassert P.__module__ == '__main__'")],
    ["answer", "def fail():\n    return 1 / 0\nfail()"],
    ["test", ("assert square(3) == 9\nassert helper(1) == 2\nassert state == {'n': 1}\n"
              "assert np.allclose(square(x), x ** 2)\nassert P(1, 2) == (1, 2)\nassert g() == 2")],
    ["test", "score = 0\nif square(2) == 4:\n    score += 1.5\nscore"],
    ["test", "assert square(3) == 10"],
    ["test", "import builtins\nbuiltins.input = lambda prompt='': '5'\nassert int(input()) == 5"],
]

IMPOSTOR = ("class Anything:\n    def __eq__(self, other):\n        return True\n"
            "    def __ne__(self, other):\n        return False\n")
LIBRARY = [
    ["answer", IMPOSTOR + "def fake(x):\n    return Anything()\ndef real(x):\n    return x * x\n"
                          "import numpy as np\nimport unittest\ncase = unittest.TestCase()"],
    ["test", "np.testing.assert_equal(fake(3), 9)"],
    ["test", "case.assertEqual(fake(3), 9)"],
    ["test", "assert np.array_equal(np.array([fake(1), fake(2)], dtype=object), [1, 4])"],
    ["test", "np.testing.assert_array_equal([fake(1)], [1])"],
    ["test", ("np.testing.assert_equal(real(3), 9)\ncase.assertEqual(real(3), 9.0)\n"
              "assert np.array_equal(real(np.arange(3)), [0, 1, 4])\n"
              "np.testing.assert_allclose(real(np.arange(3.0)), [0, 1, 4], rtol=1e-7)\n"
              "case.assertEqual(fake(1), fake(1)) if False else None\n"
              "from collections import namedtuple\nP = namedtuple('P', 'x y')\ncase.assertEqual(P(1, 2), (1, 2))")],
]

CHAINS = [
    ["answer", "calls = []\ndef f(v):\n    calls.append(v)\n    return v"],
    ["test", ("assert 1 < f(2) == 2 < 3\nassert not (1 == f(5) == f(6))\nassert calls == [2, 5]\n"
              "assert [x for x in range(5) if x == 2] == [2]\nassert (lambda a: a != 3)(4)\n"
              "class K:\n    y = 2\n    z = 1 < y == 2\nassert K.z\nassert 2 in [1, 2] and 3 not in (1, 2)\n"
              "assert 'ә' in 'сәлем'")],
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every scenario of this module in one grading process (a child forked for each)."""
    scenarios = {f"attack:{name}": [["answer", WRONG_SQUARE + code], ["test", TEST_SQUARE]]
                 for name, code in ATTACKS.items()}
    scenarios["honest twin"] = [["answer", WRONG_SQUARE], ["test", TEST_SQUARE]]
    scenarios.update({f"refused:{name}": [["answer", WRONG_SQUARE], ["answer", code]]
                      for name, code in REFUSED.items()})
    scenarios["audit hook"] = [
        ["answer", ("import sys\ndef hook(event, args):\n    if event == 'builtins.id':\n"
                    "        raise ValueError('the hook ran')\nsys.addaudithook(hook)")],
        ["test", "id(1)"]]
    scenarios["patched during the test"] = [
        ["answer", "import numpy as np\ndef square(x):\n    np.isclose = lambda *a, **k: True\n    return x + x"],
        ["test", "import numpy as np\nassert np.isclose(square(3), 6)\nassert np.isclose(square(-2), 4)"]]
    scenarios["library comparisons"] = LIBRARY
    scenarios.update({f"frame:{name}": [["answer", WRONG_SQUARE], ["answer", code]] for name, code in FRAMES.items()})
    scenarios["honest"] = HONEST
    scenarios["chains"] = CHAINS
    scenarios["frames while a deep traceback is shown"] = DEEP_TRACEBACK
    scenarios["token transformer class"] = [["answer", WRONG_SQUARE + TOKEN_TRANSFORMER_CLASS],
                                            ["test", "assert square(3) == 9, 'why?'"]]
    scenarios["compiled module"] = [["answer", c] for c in compiled_module_cells(tmp_path_factory.mktemp("pyc"))]
    results = run([{"cells": cells} for cells in scenarios.values()])
    return dict(zip(scenarios, results))


@pytest.mark.parametrize("name", list(ATTACKS))
def test_an_attack_in_an_answer_cell_does_not_pass_the_test(runs, name):
    _, test = runs[f"attack:{name}"]
    honest = runs["honest twin"][1]
    assert honest["ok"] is False and honest["ename"] == "AssertionError"
    assert test["ok"] is False, (name, test)
    assert test["ename"] in ("AssertionError", "RuntimeError", "StdinNotImplementedError"), (name, test)
    errors = [o for o in test["outputs"] if o["output_type"] == "error"]
    assert errors, (name, test["outputs"])  # the failure is shown, not hidden


@pytest.mark.parametrize("name", list(REFUSED))
def test_the_audit_guard_refuses_what_only_an_attack_needs(runs, name):
    refused = runs[f"refused:{name}"][1]
    assert refused["ok"] is False and refused["ename"] == "RuntimeError", refused
    assert "not available while a notebook is graded" in refused["evalue"]


@pytest.mark.parametrize("name", list(FRAMES))
def test_notebook_code_gets_no_frame(runs, name):
    """Through any frame, ``f_back`` leads to the grading loop's (its nonce, the pristine
    snapshot) and a test cell's variables: notebook code gets none, nor code with a
    library's file name that would pass for library code."""
    refused = runs[f"frame:{name}"][1]
    assert refused["ok"] is False and refused["ename"] in ("FrameRefused", "RuntimeError"), refused
    assert "not available while a notebook is graded" in refused["evalue"]


# A recursion error's traceback: IPython reads each entry's frame while no notebook code runs
# (the audit guard's walks stop at a frame it found clean before); then the error's text, the
# notebook's code, asks for frames, while showing it and on its next call
DEEP_TRACEBACK = [
    ["answer", ("import sys, inspect\nasked = []\nclass Deep(Exception):\n    def __str__(self):\n"
                "        for ask in (lambda: sys._getframe(), lambda: sys._getframe(1), inspect.currentframe,\n"
                "                    lambda: self.__traceback__.tb_frame, lambda: self.__traceback__.tb_next.tb_frame):\n"
                "            try:\n                asked.append(type(ask()).__name__)\n"
                "            except RuntimeError:\n                asked.append('refused')\n"
                "        return ' '.join(asked)\n"
                "def down(n):\n    if n == 0:\n        raise Deep()\n    return down(n - 1)\ndown(300)")],
    ["answer", "inspect.currentframe()"],
]


# IPython's token transformer classes patched (a ``?`` in the test cell makes IPython look for
# help syntax): the test cell's text became ``pass`` before it ran
TOKEN_TRANSFORMER_CLASS = (
    "from IPython.core import inputtransformer2 as t\n"
    "class Found:\n    start_line = start_col = 0\n    def transform(self, lines):\n        return ['pass\\n']\n"
    "t.HelpEnd.find = classmethod(lambda cls, tokens: Found() if any('square' in token.line for line in tokens "
    "for token in line) else None)\nt.TokenTransformBase.sortby = lambda self: (0, 0, 0)\n")


def test_ipythons_token_transformer_classes_are_put_back_before_a_test(runs):
    _, test = runs["token transformer class"]
    assert test["ok"] is False and test["ename"] == "AssertionError", test


def test_frames_stay_refused_while_a_deep_traceback_is_shown(runs):
    """The guard's walks stop at a library frame found clean before (formatting a deep
    traceback read each entry's frame, and each read walked the whole stack): notebook code
    called while it is shown (the error's text) is on the stack above that frame, and gets
    no frame, nor after it."""
    shown, again = runs["frames while a deep traceback is shown"]
    assert shown["ename"] == "Deep", shown
    assert shown["evalue"].split()[:5] == ["refused"] * 5, shown
    assert again["ok"] is False and again["ename"] in ("FrameRefused", "RuntimeError"), again


def compiled_module_cells(folder) -> list[str]:
    """A module compiled to a .pyc in ``folder``, its source removed, then imported."""
    return [(f"import py_compile, os, sys\nos.chdir({str(folder)!r})\nsys.path.insert(0, {str(folder)!r})\n"
             "open('helper.py', 'w').write('def where():\\n    return __file__')\n"
             "py_compile.compile('helper.py', cfile='helper.pyc')\nos.remove('helper.py')"),
            "import helper"]


def test_a_compiled_module_of_the_notebook_is_read_from_its_source(runs):
    """A .pyc beside the notebook could hold code with a library's file name: it is not
    read (PermissionError, so importlib compiles the .py beside it, under its own name)."""
    result = runs["compiled module"]
    assert result[0]["ok"], result[0]
    assert result[1]["ok"] is False and "compiled code from outside the libraries" in result[1]["evalue"], result[1]


NAMESPACE = [
    ["answer", "def mean(xs):\n    globals()['score'] = 3\n    return 0\ndef square(x):\n    return x * x"],
    ["test", "score = 0\nif mean([5]) == 5:\n    score += 1\nscore"],
    ["answer", "assert score == 0, score"],
    ["test", "import math as m\nhalf = 0.5\nsum = sum([1, 2])\nsquare(3)"],
    ["answer", "assert (m.pi, half, sum) == (__import__('math').pi, 0.5, 3)\ndel sum\nassert sum([1]) == 1"],
    ["test", "before = 1\nassert square(2) == 5\nafter = 1"],
    ["answer", "assert before == 1 and 'after' not in globals()"],
    ["test", "global late\nlate = 2\nlate"],
    ["answer", "assert late == 2"],
]


def test_a_test_cell_has_variables_no_function_it_calls_can_set(bound_runs):
    """A bound test cell runs as a function: ``globals()['score'] = 3`` in the answer's
    function sets the notebook's name, not the test's; the names the test bound (also
    before it failed) are the notebook's afterwards, as at module level."""
    [result] = bound_runs["namespace"]
    assert result[1]["ok"] and result[1]["partial"] == "0.0", result[1]
    assert [c["ok"] for c in result] == [True, True, True, True, True, False, True, True, True], result
    assert result[3]["outputs"][-1]["data"]["text/plain"] == "9"  # a test's last value is displayed as before
    assert result[7]["partial"] == "2.0"


def test_the_zygote_finds_the_library_folders_once_for_every_childs_audit_guard():
    """The audit guard tells library code by its folders (sysconfig's): finding them in
    each freshly forked child took half a millisecond (copy-on-write page faults), so the
    guard made in the zygote finds them and each child's audit hook takes those."""
    def zygote_then_child():
        from sabaq.autograders.sandbox import audit
        from sabaq.autograders.sandbox.shell import Recorder, make_shell

        shell = make_shell()
        guard = integrity.TestCellGuard(shell, bound=True)  # in the zygote
        found_here = audit.library_roots()
        looked_again = []
        audit.library_roots = lambda: looked_again.append(True) or ()
        shell.recorder = Recorder(1 << 20)
        guard.before_first(shell)  # in a child: the audit hook from now on
        refused = shell.run_cell("compile('x = 1', __import__('os').__file__, 'exec')").error_in_exec
        refused_here = "not available while a notebook is graded" in str(refused)
        return looked_again, guard.library_roots == found_here, refused_here

    assert forked(zygote_then_child) == "([], True, True)"  # and code under a library's file name is refused


def test_no_other_audit_hook_is_added(runs):
    """A student's audit hook would run inside every test cell (sys.addaudithook swallows
    the refusal: the hook is just not added)."""
    answer, test = runs["audit hook"]
    assert answer["ok"] and test["ok"], (answer, test)


def test_a_test_during_which_the_answer_patches_the_grader_fails(runs):
    """square() is right for the first assert and patches numpy for the second: the test
    cell records an integrity error (nbgrader gives an error no points)."""
    _, test = runs["patched during the test"]
    assert test["tampered"] and "numpy" in test["tampered"][0], test
    assert [o["ename"] for o in test["outputs"] if o["output_type"] == "error"] == [integrity.TAMPERED_ERROR]


SNEAKY = ("class Sneaky:\n    def __del__(self):\n        def fake(a, b):\n"
          "            globals().pop('__sabaq_compare__', None)\n            return True\n"
          "        globals()['__sabaq_compare__'] = (fake,) * 7\n"
          "def square(x):\n    Sneaky()\n    return 9 if x == 3 else 0")
QUIET_HOOK = ("import sys\ndef mean(xs):\n"
              "    sys.displayhook = lambda v: setattr(sys, 'displayhook', sys.__displayhook__)\n    return 0")


SWAPS = [
    [["answer", SNEAKY], ["test", "assert square(3) == 9\nassert square(-2) == 4"]],
    [["answer", QUIET_HOOK], ["test", "score = 0\nif mean([1]) == 0:\n    score += 1\nscore"]],
    [["answer", "def square(x):\n    return x * x\ndef g():\n    return [1, 2]"],
     ["test", ("assert square(3) == 9\nassert [v for v in g() if v == 2] == [2]\nassert (lambda a: a != 3)(4)\n"
               "assert 1 < square(2) == 4 < 5\nimport numpy as np\nnp.testing.assert_equal(square(2), 4)\n"
               "score = 0\nif square(2) == 4:\n    score += 2\nscore")]],
]


def test_bound_comparisons_cannot_be_swapped_while_the_test_runs(bound_runs):
    """With StrictComparisons(bound=True) and bind() in run_code, a test cell names no
    function a student could shadow: an object's finaliser that puts a self-removing fake
    into the namespace between two asserts changes nothing, and the cell's last value is
    recorded by the cell itself even when a display hook swallows it."""
    sneaky, quiet, honest = bound_runs["swaps"]
    assert sneaky[1]["ok"] is False and sneaky[1]["ename"] == "AssertionError", sneaky[1]
    assert quiet[1]["partial"] == "1.0", quiet[1]
    assert honest[1]["ok"] and honest[1]["partial"] == "2.0" and not honest[1]["tampered"], honest[1]


def test_a_process_without_ctypes_cannot_load_it():
    """ctypes, once loaded, writes memory without an audit event; a zygote that keeps it out
    (as numpy, matplotlib and IPython allow) keeps it out of the student's reach too."""
    cells = ["import ctypes", "import sys\nsys.modules.pop('ctypes', None)\nimport ctypes",
             "import _imp, importlib.util\n_imp.create_dynamic(importlib.util.find_spec('_ctypes'))",
             "import numpy as np\nnp.arange(3).sum()"]
    results = run([{"cells": [["answer", cell]]} for cell in cells], no_ctypes=True)
    assert [r[0]["ename"] for r in results] == ["RuntimeError", "RuntimeError", "RuntimeError", None], results


def test_honest_notebooks_keep_working_under_the_guard(runs):
    """numpy, matplotlib, tracebacks (stack_data reads frames), the student's own function
    code swapped, a test mocking input(), and restore keeps the student's names; nothing
    counts as tampering."""
    result = runs["honest"]
    assert [c["ok"] for c in result] == [True, True, False, True, True, False, True], result
    assert result[2]["ename"] == "ZeroDivisionError"
    assert all(c["tampered"] == [] for c in result), [c["tampered"] for c in result]
    assert result[4]["partial"] == "1.5"
    failure = next(o for o in result[5]["outputs"] if o["output_type"] == "error")
    text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(failure["traceback"]))
    assert "assert square(3) == 10" in text and "__sabaq_compare__" not in text  # the cell's own line


def test_library_comparisons_do_not_take_an_impostor_for_a_number(runs):
    """np.testing.assert_equal, unittest's assertEqual and np.array_equal compare with ``==``
    inside the library: in test cells their two values are checked for kinds first."""
    result = runs["library comparisons"]
    assert [c["ok"] for c in result] == [True, False, False, False, False, True], result
    assert [c["ename"] for c in result[1:5]] == ["AssertionError"] * 4, result


def test_chained_and_nested_comparisons_keep_python_semantics(runs):
    assert runs["chains"][1]["ok"], runs["chains"][1]


class Always:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


class Loud(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


class Point:
    def __init__(self, x):
        self.x = x

    def __eq__(self, other):
        return isinstance(other, Point) and other.x == self.x

    def __repr__(self):  # the test's id: the same in every pytest-xdist worker
        return f"Point({self.x!r})"


HONEST_PAIRS = [
    (2, 2.0), (2, 2), (1, True), (0.1 + 0.2, 0.3), (float("nan"), float("nan")), (1j, 1j), (3, "3"), ("a", "a"),
    ("Сәлем", "Сәлем"), (b"a", b"a"), (b"a", bytearray(b"a")), (None, None), (None, 0), ([1, 2.0, "a"], [1, 2, "a"]),
    ([1, [2, [3]]], [1, [2, [3]]]), ([1], (1,)), ((1, 2), (1, 2)), ({"a": 1}, {"a": 1.0}), ({"a": 1}, {"a": 2}),
    ({1, 2}, {2, 1}), ({1, 2}, frozenset({1, 2})), (np.float64(2.4), 2.4), (np.int64(3), 3), (np.bool_(True), True),
    (fractions.Fraction(1, 2), 0.5), (decimal.Decimal("1.5"), 1.5), (collections.Counter("ab"), {"a": 1, "b": 1}),
    (collections.OrderedDict(a=1, b=2), collections.OrderedDict(b=2, a=1)), (collections.deque([1]), [1]),
    (Point(1), Point(1)), (Point(1), Point(2)), (range(3), range(3)), ({}.keys(), set()), (int, int),
    ([float("nan")] * 2, [float("nan")] * 2),
    (sympy.Integer(3), 3), (sympy.Integer(3), 4), (sympy.Rational(1, 3), fractions.Fraction(1, 3)),
    (sympy.Float(0.5), 0.5), (sympy.sqrt(2), 2 ** 0.5), (sympy.Symbol("x"), sympy.Symbol("x")),
    ([sympy.Integer(1), sympy.Rational(1, 3)], [1, fractions.Fraction(1, 3)]),
    (fractions.Fraction(1, 2), decimal.Decimal("0.5")),
]


class Half(fractions.Fraction):
    """A library number's subclass: compared by its value."""


class Tenth(decimal.Decimal):
    pass


HONEST_PAIRS += [(Half(1, 2), 0.5), (Tenth("0.1"), decimal.Decimal("0.1")), (Tenth("0.1"), 0.1)]


@pytest.mark.parametrize("a, b", HONEST_PAIRS, ids=repr)
def test_honest_values_compare_exactly_as_python_does(a, b):
    assert integrity.strict_eq(a, b) == (a == b)
    assert integrity.strict_eq(b, a) == (b == a)
    assert integrity.strict_ne(a, b) == (a != b)
    assert type(integrity.strict_eq(a, b)) is type(a == b)


NUMBERS = [
    ["answer", ("import numbers, sympy\nclass Money:\n    def __init__(self, v):\n        self.v = v\n"
                "    def __float__(self):\n        return float(self.v)\n    def __eq__(self, other):\n"
                "        return True\n    __hash__ = object.__hash__\n"
                "class Claim:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n"
                "numbers.Real.register(Claim)\n"
                "class Count:\n    def __index__(self):\n        return 2\n")],
    ["test", "assert Money(2) == 2 and Money(2.5) != 2 and 0.5 == Money(0.5)\nassert Count() == 2\n"
             "assert [Money(1), sympy.Integer(2)] == [1, 2]\nassert sympy.Rational(1, 2) != 0.5\nimport fractions\n"
             "assert sympy.Rational(1, 2) == fractions.Fraction(1, 2) and sympy.Float(0.5) == 0.5"],
    ["test", "assert Money(3) == 2"],
    ["test", "assert Claim() == 2"],
    ["test", "assert Claim() == sympy.Integer(2)"],
    ["test", "assert Money(3) == sympy.Integer(2)"],
    ["test", "import numpy as np\nnp.testing.assert_equal(sympy.Integer(2), 2)\nnp.testing.assert_allclose(Money(2), 2)"],
    ["test", "import numpy as np\nnp.testing.assert_equal(Claim(), 2)"],
]


def test_numbers_of_other_kinds_compare_by_value_and_impostors_still_fail(bound_runs):
    """sympy's numbers, a notebook's class with ``__float__`` or ``__index__`` compare by the
    number they give (as nbgrader would, by value; a sympy number equals no number of the
    other exactness, as sympy itself has it since 1.13: Rational(1, 2) != 0.5); a class that
    only claims equality, even registered as ``numbers.Real``, equals no number."""
    [result] = bound_runs["numbers"]
    assert [c["ok"] for c in result] == [True, True, False, False, False, False, True, False], result
    assert [c["ename"] for c in result[2:6]] == ["AssertionError"] * 4, result


def test_arrays_compare_elementwise_as_numpy_does():
    a = np.array([1.0, 2.0, 3.0])
    assert (integrity.strict_eq(a, [1, 2, 3]) == (a == [1, 2, 3])).all()
    assert integrity.strict_eq(a, np.array([1.0, 2.0, 4.0])).tolist() == [True, True, False]
    assert integrity.strict_ne(a, 2.0).tolist() == [True, False, True]
    assert integrity.strict_eq(np.array(["a", "b"]), "a").tolist() == [True, False]


@pytest.mark.parametrize("fake, expected", [
    (Always(), 4), (Always(), "Сәлем, Әлия!"), (Always(), [1, 2]), (Always(), None), (Always(), (1,)),
    (Always(), {"a": 1}), (Always(), np.float64(2.0)), ([Always(), Always()], [1, 2]), ({"a": Always()}, {"a": 1}),
    (Loud("x"), "Сәлем"), ((Always(),), (4,)), ({Always()}, {4}),
])
def test_an_object_claiming_equality_is_not_equal(fake, expected):
    assert not integrity.strict_eq(fake, expected)
    assert not integrity.strict_eq(expected, fake)
    assert integrity.strict_ne(fake, expected)


def test_an_array_of_impostors_is_compared_element_by_element():
    fakes = np.array([Always(), Always()], dtype=object)
    assert integrity.strict_eq(fakes, np.array([1, 2])).tolist() == [False, False]
    assert integrity.strict_eq(np.array([1, 2]), [Always(), 2]).tolist() == [False, True]


class Score(float):
    def __repr__(self):
        return "3.0"


class Count(int):
    def __repr__(self):
        return "3"


@pytest.mark.parametrize("value, text", [
    (1, "1.0"), (1.5, "1.5"), (0, "0.0"), (np.float64(2.4), "2.4"), (np.int64(2), "2.0"), (np.float32(0.5), "0.5"),
    (Score(0.5), "0.5"), (Count(1), "1.0"), (True, None), (np.bool_(True), None), ("3", None), (None, None),
    ([1], None), (fractions.Fraction(1, 2), None), (10 ** 400, str(10 ** 400)), (np.array(2.5), "2.5"),
    (np.array([1.0]), None), (np.array(True), None), (np.uint8(3), "3.0"), (1j, None), (np.complex128(1), None),
])
def test_partial_credit_is_read_from_the_value(value, text):
    assert integrity.partial_credit_text(value) == text



_SCORED = "def square(x):\n    return x * x\ndef mean(xs):\n    globals()['score'] = 3\n    return 0"
AWAIT_AND_STAR = [
    [["answer", _SCORED], ["test", "from math import *\nassert sqrt(square(3)) == 3\nx = floor(pi)"],
     ["answer", "print(x, sqrt(16))"]],
    [["answer", _SCORED], ["test", "import asyncio\nasync def four():\n    await asyncio.sleep(0)\n    return 4\n"
                                   "v = await four()\nassert square(2) == v\nv"], ["answer", "print(v)"]],
    [["answer", _SCORED], ["test", "import asyncio\nscore = 0\nawait asyncio.sleep(0)\n"
                                   "if mean([1]) == 1:\n    score += 1\nscore"]],
    [["answer", _SCORED], ["test", "from math import *\nscore = 0\nif mean([1]) == 1:\n    score += 1\nscore"]],
    [["answer", _SCORED], ["test", "import asyncio\nawait asyncio.sleep(0)\nassert square(3) == 10"]],
]


def test_a_bound_test_cell_may_await_and_import_star(bound_runs):
    """Top-level ``await`` and ``from m import *`` work in a test cell as under nbgrader (the
    names it imports stay in the notebook), and such a cell is still a function of its own:
    the answer cannot set its score from outside, and a failure shows the cell's own line."""
    star, awaited, awaited_score, star_score, failing = bound_runs["await and star"]
    assert star[1]["ok"] and star[2]["outputs"][0]["text"] == "3 4.0\n", star
    assert awaited[1]["ok"] and awaited[1]["partial"] == "4.0" and awaited[2]["outputs"][0]["text"] == "4\n", awaited
    assert awaited_score[1]["partial"] == "0.0" and star_score[1]["partial"] == "0.0"
    assert all(cell["tampered"] == [] for result in (star, awaited, awaited_score, star_score) for cell in result)
    assert failing[1]["ename"] == "AssertionError"
    text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(failing[1]["outputs"][0]["traceback"]))
    assert "assert square(3) == 10" in text and "_run_awaited" not in text and "<module>" not in text, text


@pytest.mark.parametrize("a, b", [
    (sympy.Rational(1, 2), 0.5), (sympy.Float(9.0), 9), (9, sympy.Float(9.0)), (sympy.Integer(9), 9.0),
    (sympy.Integer(9), np.int64(9)), (sympy.Integer(9), np.float64(9)), (sympy.Float(1.5), np.float64(1.5)),
    (sympy.Integer(2), 2), (sympy.Rational(1, 2), fractions.Fraction(1, 2)), (sympy.Float(0.5), sympy.Rational(1, 2)),
    (sympy.Float(0.5), 0.5),
])
def test_sympy_numbers_compare_as_sympy_compares_them(a, b):
    """Since sympy 1.13 an exact number equals no float (Rational(1, 2) == 0.5 is False): a
    test cell compares them so too, as it does under nbgrader (test_grading_parity)."""
    assert bool(integrity.strict_eq(a, b)) == bool(a == b)
    assert bool(integrity.strict_ne(a, b)) == bool(a != b)


_COPY_CTYPES = ("import glob, os, shutil, sys, tempfile\nos.chdir(tempfile.mkdtemp())\nsys.path.insert(0, os.getcwd())\n"
                "os.makedirs('_pkg')\nopen('_pkg/__init__.py', 'w').close()\n"
                "_so = glob.glob(os.path.join(os.path.dirname(os.__file__), 'lib-dynload', '_ctypes.*.so'))[0]\n"
                "shutil.copy(_so, '_pkg/' + os.path.basename(_so))\n")
CODE_OBJECTS = [["answer", cell] for cell in [
    "(lambda: 0).__code__.replace(co_consts=(None,) * 3)",
    "import types\nc = (lambda: 0).__code__\ntypes.CodeType(*[getattr(c, 'co_' + n) for n in ("
    "'argcount', 'posonlyargcount', 'kwonlyargcount', 'nlocals', 'stacksize', 'flags', 'code', 'consts', "
    "'names', 'varnames', 'filename', 'name', 'qualname', 'firstlineno', 'linetable', 'exceptiontable', "
    "'freevars', 'cellvars')])",
    _COPY_CTYPES + "import _pkg._ctypes",
    "def square(x):\n    return x * x"]] + [["test", "assert square(3) == 9"]]


def test_notebook_code_gets_no_code_object_of_its_own_making_nor_native_code_of_its_own(bound_runs):
    """CPython trusts bytecode (an out-of-range constant reads any address) and a native
    module runs any machine code: a notebook may make neither, nor load a copy of _ctypes
    under another package's name; the grader's own binding of test cells still works."""
    results = bound_runs["code objects"]
    made, made_new, native, honest, test = results[0]
    assert made["ename"] == made_new["ename"] == native["ename"] == "RuntimeError", results
    assert "making a code object" in made["evalue"] and "import _pkg._ctypes" in native["evalue"]
    assert honest["ok"] and test["ok"], results


@pytest.fixture(scope="module")
def bound_runs():
    """The scenarios of bound test cells (``TestCellGuard(bound=True)``) in one grading process,
    a child forked for each as ``runs`` does: one warm shell instead of one per test (each
    costs about a second of CPU)."""
    groups = {"namespace": [NAMESPACE], "swaps": SWAPS, "numbers": [NUMBERS], "await and star": AWAIT_AND_STAR,
              "code objects": [CODE_OBJECTS]}
    results = iter(run([{"cells": cells} for group in groups.values() for cells in group], bound=True))
    return {name: [next(results) for _ in group] for name, group in groups.items()}
