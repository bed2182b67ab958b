"""The grading shell's input transformations (``shell.QuickTransformerManager``): a cell none
of whose text IPython's token transformers could change is not tokenized; every cell comes
out exactly as IPython's own transformations give it, errors included."""

from __future__ import annotations

import random
import warnings

import pytest
from IPython.core import inputtransformer2
from IPython.core.inputtransformer2 import TransformerManager

from sabaq.autograders.sandbox.shell import GradingShell, QuickTransformerManager

CELLS = [
    "x = 1\ny = 2", "def f(x):\n    return x % 2\n", "s = '%d' % 3\nt = 'why?'", "a != b\n", "a <= b",
    "%time x = 1", "  !ls\n", "a = %time f()\n", "b = !ls\n", "f?\n", "f??", ",f a b\n", ";f a b", "/f a b",
    "a = \\\n  %ls\n", "x = 1\r\ny = 2\n", "x = 1\x0cy = 2", "\n\n  x = 1\n  y = 2\n", ">>> x = 1\n... y = 2\n",
    "In [1]: x = 1\n", "%%time\nx = 1\n", "if a:\n        b = (1,\n    2)\n            c = 1\n        d = 2\n",
    "if a:\n    x = (1,\n        2)\n            y = 1\n        z = 2\n", "def f(:\n", "x = '''\n%ls\n'''\n",
    "x = 1 # what?\n", "x =\xa0!ls\n", "print('a')\n\n\n", "  \n  x = 1\n", "x = 1\n  \ny = 2\n",
]


def transformed(manager, cell):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return manager.transform_cell(cell), None
        except Exception as e:  # noqa: BLE001 - IPython's error is part of what it gives
            return None, (type(e), str(e))


@pytest.mark.parametrize("cell", CELLS)
def test_each_cell_comes_out_as_ipython_gives_it(cell):
    assert transformed(QuickTransformerManager(), cell) == transformed(TransformerManager(), cell)


def test_random_cells_come_out_as_ipython_gives_them():
    """Cells made of the pieces the transformations look for, tokenizing errors (a dedent to
    no outer level) included."""
    pieces = ["a", " ", "    ", "\t", "\n", "\n", "=", "%", "!", "?", ",", ";", "/", "(", ")", "'", '"', "\\", "#",
              "x = ", "def f():\n", "if a:\n", "\xa0", ":", ">>> ", "... ", "In [1]: ", "%%time\n", "1", "\f"]
    rng = random.Random(15)
    quick, ipython = QuickTransformerManager(), TransformerManager()
    for _ in range(20000):
        cell = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 16)))
        assert transformed(quick, cell) == transformed(ipython, cell), repr(cell)


def test_a_plain_cell_is_not_tokenized_one_with_special_syntax_is(monkeypatch):
    calls = []
    tokenize = inputtransformer2.make_tokens_by_line
    monkeypatch.setattr(inputtransformer2, "make_tokens_by_line", lambda lines: calls.append(lines) or tokenize(lines))
    quick = QuickTransformerManager()
    assert quick.transform_cell("def f(x):\n    return x * 2\nf(3)") == "def f(x):\n    return x * 2\nf(3)\n"
    assert calls == []
    assert quick.transform_cell("x = 1\n%time y = 2") == "x = 1\nget_ipython().run_line_magic('time', 'y = 2')\n"
    assert calls
    calls.clear()
    with pytest.raises(IndentationError):  # not Python: tokenized, and IPython's tokenizing raises
        quick.transform_cell("if a:\n  x = 1\n y = 2\n")
    assert calls


def test_token_transformers_of_its_own_are_used(monkeypatch):
    """A manager whose token transformers were changed (a notebook's own) gets IPython's way."""
    class Everything(inputtransformer2.TokenTransformBase):
        @classmethod
        def find(cls, tokens_by_line):
            return cls((0, 0)) if tokens_by_line and tokens_by_line[0] and "pass" not in tokens_by_line[0][0].line \
                else None

        def transform(self, lines):
            return ["pass\n"]

    quick = QuickTransformerManager()
    quick.token_transformers.append(Everything)
    assert quick.transform_cell("x = 1\ny = 2") == "pass\n"


def test_the_grading_shell_uses_it():
    assert GradingShell.class_traits()["input_transformer_manager"].klass is QuickTransformerManager
