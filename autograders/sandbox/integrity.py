"""What a test cell relies on, kept out of the student's reach (issue 15).

Answer cells run in the same process as the test cells that grade them, before them, so
an answer can patch what a test uses: builtins, numpy, IPython's error display, its
formatters and hooks. Four defences, used by the grading child (see ``zygote``):

- ``Pristine``: a snapshot of that machinery taken in the zygote, put back before each
  test cell (and compared after it, to catch an answer that patches while a test runs);
- ``StrictComparisons``: an AST transformer for test cells; ``==`` and ``!=`` there do not
  trust an object that claims to equal a number, a string, a list or an array;
- ``partial_credit_text``: a test cell's score read from the value, not from its repr;
- ``install_audit_guard``: an audit hook refusing what only an attack needs (walking the
  garbage collector's objects, raw memory through ctypes, rewriting library functions).
"""

from __future__ import annotations

import ast
import builtins
import collections
import decimal
import fractions
import operator
import secrets
import sys
import threading
import types
from itertools import repeat

from sabaq.i18n import N_

# The name test cells reach the comparison functions by, in builtins (see StrictComparisons).
COMPARE_NAME = "__sabaq_compare__"
_MISSING = object()
_is = operator.is_
_HEAPTYPE = 1 << 9
_MRO = type.__dict__["__mro__"].__get__  # a metaclass cannot shadow it
_IMMUTABLETYPE = 1 << 8


# --- comparisons -------------------------------------------------------------------------

class _Kinds:
    """Which values a test may trust to compare honestly, by exact type."""

    def __init__(self):
        self.numbers = {int, float, complex, bool, decimal.Decimal, fractions.Fraction}
        self.arrays: set[type] = set()
        self.ndarray = None
        self.numpy = None
        self.reals: set[type] = set()  # numpy's integer and floating scalar types
        self.leaves = {type(None), range, type, types.BuiltinFunctionType, types.FunctionType, types.MethodType,
                       type(Ellipsis), type(NotImplemented)}
        import datetime

        self.leaves |= {datetime.date, datetime.datetime, datetime.time, datetime.timedelta, datetime.timezone}

    def learn_numpy(self) -> None:
        """numpy's scalar types and arrays, once numpy is imported (its own, not a module a
        student put in sys.modules: numpy's types are static C types, a student's are not)."""
        np = sys.modules.get("numpy")
        if self.numpy is not None or np is None:
            return
        generic = np.__dict__.get("generic")
        ndarray = np.__dict__.get("ndarray")
        if not isinstance(generic, type) or not isinstance(ndarray, type) or generic.__flags__ & _HEAPTYPE \
                or ndarray.__flags__ & _HEAPTYPE:
            return
        self.numpy = np
        self.ndarray = ndarray
        stack = [generic]
        while stack:
            t = stack.pop()
            stack.extend(type.__subclasses__(t))
            if not t.__flags__ & _HEAPTYPE:
                self.numbers.add(t)
                # static types' names cannot change: numpy.integer and numpy.floating by name
                if any(b.__name__ in ("integer", "floating") and not b.__flags__ & _HEAPTYPE for b in _MRO(t)):
                    self.reals.add(t)
        self.arrays.add(ndarray)
        for name in ("matrix",):
            t = np.__dict__.get(name)
            if isinstance(t, type):
                self.arrays.add(t)
        ma = sys.modules.get("numpy.ma")
        if ma is not None and isinstance(ma.__dict__.get("MaskedArray"), type):
            self.arrays.add(ma.__dict__["MaskedArray"])

    def learn_pandas(self) -> None:
        """pandas' Series, DataFrame and Index compare as arrays; learnt in the zygote only
        (pandas' classes are Python classes: a module a student made could claim the names)."""
        pd = sys.modules.get("pandas")
        if pd is None:
            return
        for name in ("Series", "DataFrame", "Index"):
            t = pd.__dict__.get(name)
            if isinstance(t, type) and t.__module__.startswith("pandas"):
                self.arrays.add(t)


_kinds = _Kinds()


def _strict_functions(kinds: _Kinds):
    """The comparison functions, with every name they use bound now (a student's patch of
    builtins or of this module cannot reach them)."""
    _type, _len, _issubclass, _bool = type, len, issubclass, bool
    _str, _bytes, _bytearray, _list, _tuple, _dict = str, bytes, bytearray, list, tuple, dict
    _set, _frozenset, _int, _float, _complex = set, frozenset, int, float, complex
    str_data = str.__str__
    list_iter, tuple_iter, dict_items, dict_contains, dict_getitem = (list.__iter__, tuple.__iter__, dict.items,
                                                                      dict.__contains__, dict.__getitem__)
    set_iter, frozenset_iter = set.__iter__, frozenset.__iter__
    int_data, float_data = int.__int__, float.__float__
    complex_real, complex_imag = complex.real.__get__, complex.imag.__get__
    ordered_iter, deque = collections.OrderedDict.__iter__, collections.deque
    deque_iter = deque.__iter__
    Counter, OrderedDict = collections.Counter, collections.OrderedDict
    keys_view, items_view = type({}.keys()), type({}.items())
    eq, ne, contains, any_, all_ = operator.eq, operator.ne, operator.contains, any, all
    HEAP = _HEAPTYPE
    numbers, arrays, leaves = kinds.numbers, kinds.arrays, kinds.leaves

    NUMBER, STR, BYTES, NONE, LIST, TUPLE, DICT, SET, DEQUE, ARRAY, LEAF, OTHER = range(12)

    def kind(x):
        """(kind, the value as that kind's exact type: a subclass's data, never its methods)."""
        t = _type(x)
        if t in numbers:
            return NUMBER, x
        if t is _str:
            return STR, x
        if t is _list:
            return LIST, x
        if t is _tuple:
            return TUPLE, x
        if t is _dict:
            return DICT, x
        if x is None:
            return NONE, x
        if t in arrays:
            return ARRAY, x
        if t is _bytes or t is _bytearray:
            return BYTES, x
        if t is _set or t is _frozenset:
            return SET, x
        if t in leaves:
            return LEAF, x
        if t is OrderedDict or t is Counter or t is collections.defaultdict:
            return DICT, x
        if t is deque:
            return DEQUE, x
        if t is keys_view:
            return SET, x
        if t is items_view:
            return SET, x
        # subclasses of builtins: their data, as the builtin's own methods read it
        if _issubclass(t, _bool):  # pragma: no cover - bool cannot be subclassed
            return NUMBER, x
        if _issubclass(t, _int):
            return NUMBER, int_data(x)
        if _issubclass(t, _float):
            if kinds.numpy is not None and t.__flags__ & HEAP == 0:
                return NUMBER, x
            return NUMBER, float_data(x)
        if _issubclass(t, _complex):
            return NUMBER, _complex(complex_real(x), complex_imag(x))
        if _issubclass(t, _str):
            return STR, str_data(x)
        if _issubclass(t, _bytes):
            return BYTES, _bytes(x) if t.__flags__ & HEAP == 0 else b"".join([x])
        if _issubclass(t, _list):
            return LIST, _list(list_iter(x))
        if _issubclass(t, _tuple):
            return TUPLE, _tuple(tuple_iter(x))
        if _issubclass(t, _dict):
            return DICT, _dict(dict_items(x))
        if _issubclass(t, _frozenset):
            return SET, _frozenset(frozenset_iter(x))
        if _issubclass(t, _set):
            return SET, _set(set_iter(x))
        if kinds.ndarray is not None and _issubclass(t, kinds.ndarray):
            return ARRAY, kinds.ndarray.view(x, kinds.ndarray)
        return OTHER, x

    def clean(x) -> bool:
        """x holds nothing but values whose comparisons are C code (no student method)."""
        t = _type(x)
        if t in numbers or t is _str or x is None or t is _bytes or t in leaves:
            return True
        if t is _list or t is _tuple or t is deque or t is _set or t is _frozenset or t is keys_view:
            return all_(map(clean, x))
        if t is _dict or t is OrderedDict or t is Counter or t is collections.defaultdict or t is items_view:
            items = dict_items(x) if t is not items_view else x
            return all_(clean(k) and clean(v) for k, v in items)
        if kinds.ndarray is not None and t is kinds.ndarray:
            return x.dtype.hasobject is False or all_(map(clean, x.flat))
        return False

    def same(a, b) -> bool:
        """a == b inside a container (identity first, as Python's containers do)."""
        return a is b or _bool(strict_eq(a, b))

    def seq_eq(a, b) -> bool:
        return _len(a) == _len(b) and all_(map(same, a, b))

    def dict_eq(a, b, ta, tb) -> bool:
        if ta is Counter and tb is Counter:  # missing counts are zero (Python 3.10+)
            return all_(same(dict.get(a, k, 0), dict.get(b, k, 0)) for c in (a, b) for k in dict.__iter__(c))
        if _len(a) != _len(b):
            return False
        for k, v in dict_items(a):
            if not dict_contains(b, k) or not same(v, dict_getitem(b, k)):
                return False
        if ta is OrderedDict and tb is OrderedDict:
            return seq_eq(_list(ordered_iter(a)), _list(ordered_iter(b)))
        return True

    def set_eq(a, b) -> bool:
        a, b = _list(a), _list(b)
        if _len(a) != _len(b):
            return False
        if clean(a) and clean(b):
            return _frozenset(a) == _frozenset(b)
        return all_(any_(same(x, y) for y in b) for x in a) and all_(any_(same(x, y) for x in a) for y in b)

    def array_compare(op, a, ka, b, kb):
        np = kinds.numpy
        if ka == OTHER or kb == OTHER:
            array = a if ka == ARRAY else b
            shape = getattr(array, "shape", None)
            result = op is ne
            if np is not None and _type(array) is kinds.ndarray:
                return np.full(shape, result)
            return result
        if (ka == ARRAY or clean(a)) and (kb == ARRAY or clean(b)) and \
                not (_type(a) is kinds.ndarray and a.dtype.hasobject and not clean(a)) and \
                not (_type(b) is kinds.ndarray and b.dtype.hasobject and not clean(b)):
            return op(a, b)
        if np is None:
            return op is ne
        element = np.frompyfunc(strict_eq if op is eq else strict_ne, 2, 1)
        left = a if ka == ARRAY else np.array(a, dtype=object)
        right = b if kb == ARRAY else np.array(b, dtype=object)
        return element(left, right).astype(bool)

    def strict_eq(a, b):
        """a == b, except that a number, string, bytes, None, list, tuple, dict, set or array
        equals only a value of a compatible kind (compared by its data, not by its methods)."""
        ka, va = kind(a)
        kb, vb = kind(b)
        if ka == OTHER and kb == OTHER:
            return a == b
        if ka == ARRAY or kb == ARRAY:
            return array_compare(eq, va, ka, vb, kb)
        if ka == OTHER or kb == OTHER:
            return False
        if ka != kb:
            return False if ka != LEAF and kb != LEAF else va == vb
        if ka == NUMBER or ka == STR or ka == BYTES or ka == NONE or ka == LEAF:
            return va == vb
        ta, tb = _type(va), _type(vb)
        if ka == LIST or ka == TUPLE or ka == DEQUE:
            return seq_eq(va, vb)
        if ka == DICT:
            return dict_eq(va, vb, ta, tb)
        return set_eq(va, vb)

    def strict_ne(a, b):
        ka, va = kind(a)
        kb, vb = kind(b)
        if ka == OTHER and kb == OTHER:
            return a != b
        if ka == ARRAY or kb == ARRAY:
            return array_compare(ne, va, ka, vb, kb)
        if ka == OTHER or kb == OTHER:
            return True
        if ka == kb and (ka == NUMBER or ka == STR or ka == BYTES or ka == NONE or ka == LEAF):
            return va != vb
        if ka != kb and (ka == LEAF or kb == LEAF):
            return va != vb
        return not strict_eq(a, b)

    def strict_contains(container, item) -> bool:
        """item in container: a list, tuple, set, dict or deque is searched by strict_eq."""
        kc, vc = kind(container)
        if kc in (LIST, TUPLE, DEQUE):
            return any_(same(x, item) for x in (vc if _type(vc) is not deque else deque_iter(vc)))
        if kc == SET or kc == DICT:
            keys = _list(dict.__iter__(vc)) if kc == DICT else _list(vc)
            if clean(item) and clean(keys):
                return contains(vc, item)
            return any_(same(x, item) for x in keys)
        if kc == STR:
            ki, vi = kind(item)
            return contains(vc, vi if ki == STR else item)
        return contains(container, item)

    ops = {ast.Eq: strict_eq, ast.NotEq: strict_ne, ast.Lt: operator.lt, ast.LtE: operator.le,
           ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
           ast.In: lambda a, b: strict_contains(b, a), ast.NotIn: lambda a, b: not strict_contains(b, a)}
    order = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn)
    table = tuple(ops[o] for o in order)

    def chain(left, *steps):
        """a OP1 b OP2 c ...: each step an (operator index, thunk of the right operand),
        evaluated lazily and stopping at the first false result, as Python does."""
        result = True
        for index, right in steps:
            right = right()
            result = table[index](left, right)
            if not result:
                return result
            left = right
        return result

    def trusted(x, depth=0) -> bool:
        """x is data whose comparison is the library's or Python's own: numbers, strings,
        None, arrays, and containers of those (subclasses read by their data)."""
        k, v = kind(x)
        if k == OTHER or depth > 50:
            return False
        if k == LIST or k == TUPLE or k == DEQUE or k == SET:
            return all_(trusted(e, depth + 1) for e in v)
        if k == DICT:
            return all_(trusted(a, depth + 1) and trusted(b, depth + 1) for a, b in dict_items(v))
        if k == ARRAY and kinds.ndarray is not None and _type(v) is kinds.ndarray and v.dtype.hasobject:
            return all_(trusted(e, depth + 1) for e in v.flat)
        return True

    def checked_call(function, *args, **kwargs):
        """A library comparison (``np.testing.assert_equal(actual, expected)``, ``assertEqual``,
        ``np.array_equal``...) called from a test: when one of its two compared values is plain
        data and the other is not, the values are of different kinds and cannot be equal
        (an assertion fails, a check is False); otherwise the library decides."""
        if _len(args) >= 2 and trusted(args[0]) != trusted(args[1]):
            name = getattr(function, "__name__", "")
            if _type(name) is _str and name.lower().startswith("assert"):
                raise AssertionError(f"{type(args[0]).__name__} and {type(args[1]).__name__} values cannot be equal")
            return False
        return function(*args, **kwargs)

    return strict_eq, strict_ne, strict_contains, chain, order, checked_call


_strict_eq, _strict_ne, _strict_contains, _chain, _OPS, _checked_call = _strict_functions(_kinds)
# what test cells call: builtins.__sabaq_compare__[i] (a tuple: nothing in it can be replaced)
def _recorder():
    """The test cell's last value, recorded by the cell's own code (a bound constant): a call
    from anywhere else (a student's function, a finaliser) is ignored."""
    bound_codes: set[int] = set()
    box: list = []
    getframe, _id = sys._getframe, id

    def record(value):
        if _id(getframe(1).f_code) in bound_codes:
            box[:] = [value]
        return value

    def take():
        found = (True, box[0]) if box else (False, None)
        box.clear()
        return found

    return record, take, bound_codes


_record, _take_recorded, _bound_codes = _recorder()
COMPARE = (_strict_eq, _strict_ne, lambda a, b: _strict_contains(b, a), lambda a, b: not _strict_contains(b, a),
           _chain, _checked_call, _record)
# the constant bound test cells name the comparison functions by (see bind): unguessable
_MARKER = "\x00sabaq-compare-" + secrets.token_hex(16)


def bind(code: types.CodeType) -> types.CodeType:
    """A test cell's compiled code (IPython compiles each statement by itself) with the
    marker constant of ``StrictComparisons(bound=True)`` replaced by the comparison
    functions, in nested functions, lambdas and comprehensions too. Unbound, the marker is a
    string: calling its characters fails the test, it never passes it."""
    replaced = []
    changed = False
    for constant in code.co_consts:
        if type(constant) is str and constant == _MARKER:
            constant, changed = COMPARE, True
        elif type(constant) is types.CodeType:
            new = bind(constant)
            changed = changed or new is not constant
            constant = new
        replaced.append(constant)
    bound = code.replace(co_consts=tuple(replaced)) if changed else code
    _bound_codes.add(id(bound))
    _keep_bound.append(bound)  # ids stay unique while the code lives
    return bound


_keep_bound: list = []


def take_recorded() -> tuple[bool, object]:
    """(True, value) when the last bound test cell ended with an expression (its value,
    recorded by the cell's own code, whatever displays it), else (False, None)."""
    return _take_recorded()
EQ, NE, IN, NOT_IN, CHAIN, CHECKED_CALL, RECORD = range(7)
# Library functions whose comparisons test cells rely on: their two compared arguments are
# checked for kinds first (see checked_call); matched by the name called.
CHECKED_CALLS = frozenset({
    "assert_equal", "assert_array_equal", "assert_almost_equal", "assert_array_almost_equal", "assert_allclose",
    "assert_approx_equal", "assert_array_almost_equal_nulp", "assert_array_less", "assert_frame_equal",
    "assert_series_equal", "assert_index_equal", "assert_extension_array_equal", "assertEqual", "assertEquals",
    "assertAlmostEqual", "assertListEqual", "assertTupleEqual", "assertDictEqual", "assertSetEqual",
    "assertSequenceEqual", "assertCountEqual", "assertMultiLineEqual", "array_equal", "array_equiv", "allclose",
    "isclose",
})


def strict_eq(a, b):
    """``a == b`` as a test cell evaluates it."""
    _kinds.learn_numpy()
    return _strict_eq(a, b)


def strict_ne(a, b):
    _kinds.learn_numpy()
    return _strict_ne(a, b)


def install_compare() -> None:
    """Put the comparison functions where test cells find them (restore keeps them there)."""
    _kinds.learn_numpy()
    builtins.__dict__[COMPARE_NAME] = COMPARE


class StrictComparisons(ast.NodeTransformer):
    """Rewrites ``a == b`` into ``__sabaq_compare__[0](a, b)`` (``!=``, ``in`` and ``not in``
    alike; a chain ``a < b == c`` into one call evaluating its operands lazily, in order),
    and calls of library comparisons (``CHECKED_CALLS``) into checked calls.

    Applied to test cells only (IPython runs ``shell.ast_transformers`` after parsing); the new
    nodes keep the positions of the comparisons, so a traceback shows the cell's own line."""

    def __init__(self, bound: bool = False):
        """bound: the functions are reached through a constant that ``bind`` replaces in the
        compiled code (no name a student could shadow while the test runs); then the grader
        must pass every code object of the cell through ``bind`` before running it (IPython's
        ``run_code``), and the cell's last expression is recorded (``take_recorded``)."""
        super().__init__()
        install_compare()
        self._class_depth = 0
        self.bound = bound

    def _compare_ref(self, index: int, node: ast.AST) -> ast.expr:
        if self.bound:  # MARKER.__getitem__(index): a method call, which the compiler does not fold
            ref = ast.Call(func=ast.Attribute(value=ast.Constant(_MARKER), attr="__getitem__", ctx=ast.Load()),
                           args=[ast.Constant(index)], keywords=[])
        else:
            ref = ast.Subscript(value=ast.Name(id=COMPARE_NAME, ctx=ast.Load()), slice=ast.Constant(index),
                                ctx=ast.Load())
        for new in ast.walk(ref):
            ast.copy_location(new, node)
        return ref

    def visit_Module(self, node: ast.Module):
        self.generic_visit(node)
        if self.bound and node.body and isinstance(node.body[-1], ast.Expr):
            last = node.body[-1]
            last.value = ast.copy_location(ast.Call(func=self._compare_ref(RECORD, last.value), args=[last.value],
                                                    keywords=[]), last.value)
        return node

    def visit_ClassDef(self, node):
        # names of a class body are not visible in lambdas: chains there are evaluated eagerly
        self._class_depth += 1
        try:
            return self.generic_visit(node)
        finally:
            self._class_depth -= 1

    def visit_FunctionDef(self, node):
        depth, self._class_depth = self._class_depth, 0
        try:
            return self.generic_visit(node)
        finally:
            self._class_depth = depth

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = visit_FunctionDef

    def visit_Call(self, node: ast.Call):
        self.generic_visit(node)
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if name not in CHECKED_CALLS or len(node.args) < 2 or any(isinstance(a, ast.Starred) for a in node.args[:2]):
            return node
        call = ast.Call(func=self._compare_ref(CHECKED_CALL, node), args=[func, *node.args], keywords=node.keywords)
        return ast.copy_location(call, node)

    def visit_Compare(self, node: ast.Compare):
        self.generic_visit(node)
        strict = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)
        if not any(isinstance(op, strict) for op in node.ops):
            return node
        if len(node.ops) == 1:
            index = {ast.Eq: EQ, ast.NotEq: NE, ast.In: IN, ast.NotIn: NOT_IN}[type(node.ops[0])]
            call = ast.Call(func=self._compare_ref(index, node), args=[node.left, node.comparators[0]], keywords=[])
            return ast.copy_location(call, node)
        steps = []
        for op, right in zip(node.ops, node.comparators):
            if self._class_depth:
                # eager in a class body (its names are not visible in a lambda): the bound
                # __next__ of an iterator over the one-element tuple (value,)
                thunk = ast.Attribute(value=ast.Call(func=ast.Attribute(
                    value=ast.Tuple(elts=[right], ctx=ast.Load()), attr="__iter__", ctx=ast.Load()),
                    args=[], keywords=[]), attr="__next__", ctx=ast.Load())
            else:
                thunk = ast.Lambda(args=_no_args(), body=right)
            steps.append(ast.Tuple(elts=[ast.Constant(_OPS.index(type(op))), thunk], ctx=ast.Load()))
        call = ast.Call(func=self._compare_ref(CHAIN, node), args=[node.left, *steps], keywords=[])
        for new in ast.walk(call):
            if not hasattr(new, "lineno") or new is call:
                ast.copy_location(new, node)
        return ast.copy_location(call, node)


def _no_args() -> ast.arguments:
    return ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None,
                         defaults=[])


# --- partial credit ----------------------------------------------------------------------

def partial_credit_text(value) -> str | None:
    """The text/plain nbgrader reads a test cell's score from, made from the value itself:
    ``repr(float(value))`` for an int or float, a numpy integer or floating scalar or a 0-d
    numeric array (subclasses read by their data), None for anything else (IPython's own
    text, as nbgrader would read it). No method of the value is called: a repr that says
    ``3`` for a score of 0 changes nothing."""
    _kinds.learn_numpy()
    t = type(value)
    static = next(base for base in _MRO(t) if not base.__flags__ & _HEAPTYPE)  # the C type it is made of
    if static is int:
        number = int.__int__(value)
    elif static is float or static in _kinds.reals:
        number = static.__float__(value)
    elif static is _kinds.ndarray:
        ndarray = _kinds.ndarray
        if ndarray.__dict__["ndim"].__get__(value) != 0 or ndarray.__dict__["dtype"].__get__(value).kind not in "iuf":
            return None
        number = ndarray.__dict__["item"](value)
    else:
        return None
    try:
        return repr(float(number))
    except OverflowError:
        return int.__repr__(int(number))


# --- the pristine state ------------------------------------------------------------------

# Modules whose names a test may use, kept as they were in the zygote (when imported there):
# names replaced or deleted go back; names a student added stay.
GUARDED_MODULES = (
    "builtins", "math", "cmath", "operator", "functools", "itertools", "collections", "collections.abc", "re",
    "json", "json.decoder", "json.encoder", "random", "statistics", "fractions", "decimal", "_decimal", "string",
    "numbers", "copy", "types", "abc", "warnings", "traceback", "linecache", "inspect", "unittest", "io", "os",
    "pandas", "pandas.testing", "pandas._testing", "pandas.core.frame", "pandas.core.series", "pandas.core.generic",
    "pandas.core.arraylike", "pandas.core.ops", "matplotlib_inline.backend_inline", "IPython", "IPython.display",
    "IPython.lib.pretty", "stack_data", "executing", __name__,
)
# ... and every module under these (numpy and IPython's machinery, sabaq's sandbox)
GUARDED_PREFIXES = ("numpy.", "IPython.core.", "IPython.utils.", "traitlets.", "sabaq.autograders.sandbox.")
GUARDED_PACKAGES = ("numpy", "traitlets")
UNGUARDED_PREFIXES = ("numpy._typing", "numpy.typing", "numpy._pyinstaller", "numpy.tests", "numpy.f2py")
# Modules whose functions a test cell itself may replace to test an answer (input() fed,
# random made predictable): a change to them while a test runs is not counted as tampering.
MOCKABLE_MODULES = frozenset({"builtins", "random", "time", "datetime", "os", "io", "getpass"})
# sys's entries that are not the grader's to keep (the child's streams and path, IPython's
# last error), and entries that change as a cell runs
SYS_SKIP = frozenset({"stdout", "stderr", "stdin", "__stdout__", "__stderr__", "__stdin__", "path", "argv",
                      "orig_argv", "last_type", "last_value", "last_traceback", "last_exc", "ps1", "ps2", "ps3",
                      "path_importer_cache"})
# The shell's parts a test depends on, restored by identity with their classes and own dicts.
SHELL_PARTS = ("displayhook", "display_pub", "display_formatter", "display_trap", "builtin_trap", "InteractiveTB",
               "SyntaxTB", "CustomTB", "events", "compile", "input_transformer_manager", "hooks", "history_manager",
               "payload_manager", "prefilter_manager", "magics_manager", "extension_manager", "data_pub",
               "custom_exceptions", "sys_excepthook", "inspector", "alias_manager", "_post_execute")
# entries of these parts' own dicts and traits that change as cells run
PART_STATE = frozenset({"data", "metadata", "prompt_count", "exec_result", "_is_active", "_nested_level",
                        "_orig_sys_module_state", "tb", "tb_offset", "_last_input_line", "session_number",
                        "input_hist_parsed", "input_hist_raw", "output_hist", "output_hist_reprs", "dir_hist",
                        "db_input_cache", "db_output_cache", "_i", "_ii", "_iii", "_i00", "_exit_code",
                        "_cache", "_filename_map", "_shown", "pdb", "last_execution_succeeded",
                        "last_execution_result", "execution_count", "parent", "_payload", "format_record",
                        "_saved_traceback", "_fname_counter", "showing_traceback", "chain",
                        "last_syntax_error"})


def _flags(cls) -> int:
    return type.__dict__["__flags__"].__get__(cls)


def _is_machinery(value) -> bool:
    """A value the test relies on by identity: a function, a class, an object with methods."""
    return not isinstance(value, (int, float, str, bytes, bool, type(None), tuple))


_NO_DICT = types.MappingProxyType({})


def _own_dict(obj):
    """An object's own attributes (one empty read-only mapping for objects without any)."""
    try:
        own = object.__getattribute__(obj, "__dict__")
    except AttributeError:
        return _NO_DICT
    return own if type(own) is dict else _NO_DICT


class _DictVersions:
    """Which dicts may have changed since last seen, from CPython's dict version tag (PEP
    509: a process-wide counter stamped on a dict at each change; 3.11 and 3.12 keep it
    right after the entry count). Reading 350 tags takes microseconds where comparing their
    12,000 entries takes about half a millisecond. Where the layout is not the expected one
    (checked on a dict of our own) or ctypes is not loaded, every dict counts as changed
    and is compared entry by entry."""

    OFFSET = 3 * 8  # ob_refcnt, ob_type, ma_used

    def __init__(self, dicts: list):
        self.readers = None
        self.tags: list[int] = []
        if not self._layout_known():
            self.count = len(dicts)
            return
        import ctypes
        import gc

        real = [d if type(d) is dict else next(r for r in gc.get_referents(d) if type(r) is dict) for d in dicts]
        self.readers = tuple(ctypes.c_uint64.from_address(id(d) + self.OFFSET) for d in real)
        self.tags = [r.value for r in self.readers]
        self._keep = real  # the tags are read from these dicts' memory: they must live

    @classmethod
    def _layout_known(cls) -> bool:
        # ctypes only if the process has it already: a zygote that keeps it out (see
        # install_audit_guard) must not load it for this
        if sys.implementation.name != "cpython" or sys.version_info[:2] not in ((3, 11), (3, 12)) \
                or "_ctypes" not in sys.modules:
            return False
        import ctypes

        probe: dict = {}
        used = ctypes.c_ssize_t.from_address(id(probe) + 2 * 8)
        tag = ctypes.c_uint64.from_address(id(probe) + cls.OFFSET)
        before = tag.value
        probe["a"] = 1
        middle = tag.value
        del probe["a"]
        return used.value == 0 and before < middle < tag.value

    def changed(self) -> list[int]:
        if self.readers is None:
            return list(range(self.count))
        tags = self.tags
        now = [r.value for r in self.readers]
        if now == tags:
            return []
        return [i for i, (a, b) in enumerate(zip(now, tags)) if a != b]

    def seen(self, index: int) -> None:
        if self.readers is not None:
            self.tags[index] = self.readers[index].value


class _Dict:
    """One dict (a module's, a class's, a printer table) and the entries it must keep."""

    __slots__ = ("allow_missing", "cls", "drop_added", "keys", "label", "live", "size", "values")

    def __init__(self, label: str, live, drop_added: bool, skip=frozenset(), cls=None, allow_missing=False):
        self.label = label
        self.live = live
        items = [(k, v) for k, v in live.items() if k not in skip]
        self.keys = tuple(k for k, _ in items)
        self.values = tuple(v for _, v in items)
        self.size = len(live)
        self.drop_added = drop_added
        self.cls = cls  # a class: set through type.__setattr__ so its caches follow
        self.allow_missing = allow_missing  # entries may go (IPython moves deferred printers)

    def remember(self, key: str) -> None:
        """Take the entry ``key`` as it is now as part of the snapshot."""
        keys, values = list(self.keys), list(self.values)
        if key in keys:
            values[keys.index(key)] = self.live[key]
        else:
            keys.append(key)
            values.append(self.live[key])
        self.keys, self.values, self.size = tuple(keys), tuple(values), len(self.live)

    def changed(self) -> bool:
        live = self.live
        if not all(map(_is, map(live.get, self.keys, repeat(_MISSING)), self.values)):
            if not self.allow_missing:
                return True
            return any(live.get(k, v) is not v for k, v in zip(self.keys, self.values))
        return self.drop_added and len(live) != self.size

    def fix(self) -> None:
        live, cls = self.live, self.cls
        for key, value in zip(self.keys, self.values):
            current = live.get(key, _MISSING)
            if current is not value and not (current is _MISSING and self.allow_missing):
                if cls is not None:
                    type.__setattr__(cls, key, value)
                else:
                    live.pop(key, None)  # drops a look-alike key object too
                    live[key] = value
        if self.drop_added and len(live) != self.size:
            known = set(self.keys)
            for key in [k for k in live if type(k) is not str or k not in known]:
                if cls is not None:
                    type.__delattr__(cls, key)
                else:
                    del live[key]


class _List:
    """A list the shell iterates (transformers, callbacks, import hooks) and its items."""

    __slots__ = ("items", "keep", "label", "live")

    def __init__(self, label: str, live: list, keep=None):
        self.label, self.live, self.items, self.keep = label, live, tuple(live), keep

    def changed(self) -> bool:
        live = self.live
        return len(live) != len(self.items) or not all(map(_is, live, self.items))

    def fix(self) -> None:
        keep = self.keep
        extra = [item for item in self.live if keep is not None and keep(item)]
        list.__setitem__(self.live, slice(None), [*self.items, *extra])


class _Object:
    """An object of the shell's machinery: its class, its own dict and traits (methods
    shadowed on the instance go), and the parts it holds by identity."""

    __slots__ = ("cls", "entries", "label", "obj", "shadow_ok", "traits")

    def __init__(self, label: str, obj):
        self.label, self.obj, self.cls = label, obj, type(obj)
        own = _own_dict(obj)
        self.entries = _Dict(f"{label}.__dict__", own, False,
                             skip={k for k, v in own.items() if k in PART_STATE or not _is_machinery(v)})
        traits = own.get("_trait_values")
        self.traits = (_Dict(f"{label} traits", traits, False,
                             skip={k for k, v in traits.items() if k in PART_STATE or not _is_machinery(v)})
                       if type(traits) is dict else None)
        self.shadow_ok = frozenset(own)

    def _shadows(self) -> list[str]:
        """Names set on the instance since the capture that hide a method of its class
        (other new names, like the child's recorder, are remembered as harmless)."""
        own = _own_dict(self.obj)
        if self.shadow_ok.issuperset(own):
            return []
        found, harmless = [], []
        for key in list(own):
            if key in self.shadow_ok:
                continue
            if type(key) is not str:
                found.append(key)
                continue
            for base in _MRO(self.cls):
                value = base.__dict__.get(key, _MISSING)
                if value is not _MISSING:
                    if callable(value) or hasattr(type(value), "__get__"):
                        found.append(key)
                    break
            if not found or found[-1] is not key:
                harmless.append(key)
        if harmless:
            self.shadow_ok = self.shadow_ok.union(harmless)
        return found

    def changed(self) -> bool:
        return (type(self.obj) is not self.cls or _own_dict(self.obj) is not self.entries.live
                or self.entries.changed()
                or (self.traits is not None and self.traits.changed()) or bool(self._shadows()))

    def fix(self) -> None:
        if type(self.obj) is not self.cls:
            object.__setattr__(self.obj, "__class__", self.cls)
        if _own_dict(self.obj) is not self.entries.live:
            object.__setattr__(self.obj, "__dict__", self.entries.live)
        self.entries.fix()
        if self.traits is not None:
            self.traits.fix()
        own = _own_dict(self.obj)
        for key in self._shadows():
            del own[key]


class _Module:
    """A module: the same object in sys.modules, of its own class, its dict's entries."""

    __slots__ = ("cls", "entries", "label", "mockable", "module", "name")

    def __init__(self, name: str, module, skip=frozenset()):
        self.label, self.name, self.module, self.cls = name, name, module, type(module)
        self.entries = _Dict(name, module.__dict__, False, skip=skip)
        self.mockable = name in MOCKABLE_MODULES

    def changed(self) -> bool:
        return (sys.modules.get(self.name) is not self.module or type(self.module) is not self.cls
                or self.entries.changed())

    def fix(self) -> None:
        if sys.modules.get(self.name) is not self.module:
            sys.modules[self.name] = self.module
        if type(self.module) is not self.cls:
            object.__setattr__(self.module, "__class__", self.cls)
        self.entries.fix()


def _matplotlib_callbacks() -> tuple:
    """The post_execute callbacks ``%matplotlib inline`` registers (pyplot's and the inline
    backend's), recognised by their names and the files of their code (they may load
    after the capture)."""
    import importlib.util
    import os

    allowed: list = []
    for package, module, name in (("matplotlib", "pyplot", "_draw_all_if_interactive"),
                                  ("matplotlib_inline", "backend_inline", "flush_figures")):
        try:  # the package's own spec: finding the submodule's would import the package
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin:
            allowed.append((name, os.path.join(os.path.dirname(spec.origin), module + ".py"), f"{package}.{module}"))
    return tuple(allowed)


class _Callback:
    """The shell's event callbacks: the lists of the capture, plus matplotlib's own figure
    drawing (registered by ``%matplotlib inline``, after the test's code has run), nothing a
    student registered: a pre_run_cell callback would patch after the restore, a
    post_run_cell one would clear the test's output."""

    __slots__ = ("allowed", "events", "items", "label", "lists")

    def __init__(self, events, allowed: tuple):
        self.label, self.events, self.allowed = "events.callbacks", events, allowed
        self.lists = dict(events.callbacks)
        self.items = {name: tuple(callbacks) for name, callbacks in self.lists.items()}

    def _allowed(self, name: str, callback) -> bool:
        if name != "post_execute":
            return False
        for allowed in self.allowed:
            if callback is allowed:
                return True
            if type(allowed) is tuple and type(callback) is types.FunctionType \
                    and callback.__name__ == allowed[0] and callback.__code__.co_filename == allowed[1]:
                # the function of the module loaded under that name, not a look-alike elsewhere
                module = sys.modules.get(allowed[2])
                return (type(module) is types.ModuleType and module.__dict__.get(allowed[0]) is callback
                        and callback.__globals__ is module.__dict__)
        return False

    def changed(self) -> bool:
        live = _own_dict(self.events).get("callbacks")
        if type(live) is not dict or len(live) != len(self.lists):
            return True
        for name, callbacks in self.lists.items():
            current = live.get(name)
            if current is not callbacks or type(current) is not list:
                return True
            items = self.items[name]
            if (len(current) != len(items) or not all(map(_is, current, items))) and (
                    not all(self._allowed(name, cb) for cb in current if not any(cb is i for i in items))
                    or not all(any(i is cb for cb in current) for i in items)):
                return True
        return False

    def fix(self) -> None:
        live = self.events.__dict__.get("callbacks")
        kept = {name: [cb for cb in (live.get(name, ()) if type(live) is dict and type(live.get(name)) is list
                                     else ()) if self._allowed(name, cb)] for name in self.lists}
        self.events.__dict__["callbacks"] = live if type(live) is dict else {}
        live = self.events.__dict__["callbacks"]
        live.clear()
        for name, callbacks in self.lists.items():
            list.__setitem__(callbacks, slice(None), [*self.items[name], *kept[name]])
            live[name] = callbacks


class _Hooks:
    """sys's tracing and profiling functions, and threading's for new threads."""

    label = "sys.settrace/setprofile"

    def __init__(self):
        self.trace, self.profile = sys.gettrace(), sys.getprofile()
        self.gettrace, self.getprofile = sys.gettrace, sys.getprofile
        self.settrace, self.setprofile = sys.settrace, sys.setprofile
        self.threading = threading.__dict__
        self.thread_hooks = {k: threading.__dict__.get(k) for k in ("_trace_hook", "_profile_hook")}

    def changed(self) -> bool:
        return (self.gettrace() is not self.trace or self.getprofile() is not self.profile
                or any(self.threading.get(k) is not v for k, v in self.thread_hooks.items()))

    def fix(self) -> None:
        if self.gettrace() is not self.trace:
            self.settrace(self.trace)
        if self.getprofile() is not self.profile:
            self.setprofile(self.profile)
        self.threading.update(self.thread_hooks)


class Pristine:
    """The grading machinery as the zygote built it, put back before each test cell.

    ``capture`` runs once in the zygote (after the shell's warm-up, before forking);
    ``restore`` runs in the child right before each test cell and takes well under a
    millisecond when nothing changed (identity checks, no method of a student's object is
    ever called); ``tampered`` tells, right after a test cell, whether anything changed
    while it ran (an answer function that patches as the test calls it): then the test's
    result cannot be trusted. What a student defined in their own namespace stays.
    """

    def __init__(self, guards: list, shell):
        self.guards = guards
        self.user_keys = (COMPARE_NAME,)
        self._index()

    def _index(self) -> None:
        """Flat tables for the quick check: every dict's (live, keys, values) in one list,
        modules and objects with their classes, lists with their items."""
        self._dicts, self._sized, self._rest = [], [], []
        modules, objects = [], []
        for guard in self.guards:
            entries = [guard] if isinstance(guard, _Dict) else []
            if isinstance(guard, _Module):
                modules.append(guard)
                entries = [guard.entries]
            elif isinstance(guard, _Object):
                objects.append(guard)
                entries = [guard.entries] + ([guard.traits] if guard.traits is not None else [])
            elif not isinstance(guard, _Dict):
                self._rest.append(guard)
            for d in entries:
                if d.allow_missing:
                    self._rest.append(d)
                else:
                    self._dicts.append((d.live, d.keys, d.values))
                if d.drop_added:
                    self._sized.append((d.live, d.size))
        self._module_names = tuple(m.name for m in modules)
        self._modules = tuple(m.module for m in modules)
        self._module_classes = tuple(m.cls for m in modules)
        self._objects = tuple(o.obj for o in objects)
        self._object_classes = tuple(o.cls for o in objects)
        self._object_guards = tuple(objects)
        self._object_dicts = tuple(o.entries.live for o in objects)
        self._versions = _DictVersions([live for live, _, _ in self._dicts])

    def _untouched(self) -> bool:
        """Nothing changed (the common case): identity checks only, in C loops."""
        is_, missing = _is, _MISSING
        for index in self._versions.changed():
            live, keys, values = self._dicts[index]
            if not all(map(is_, map(live.get, keys, repeat(missing)), values)):
                return False
            self._versions.seen(index)
        for live, size in self._sized:
            if len(live) != size:
                return False
        if not all(map(is_, map(sys.modules.get, self._module_names), self._modules)) \
                or not all(map(is_, map(type, self._modules), self._module_classes)) \
                or not all(map(is_, map(type, self._objects), self._object_classes)) \
                or not all(map(is_, map(_own_dict, self._objects), self._object_dicts)):
            return False
        for guard, own in zip(self._object_guards, self._object_dicts):
            if not guard.shadow_ok.issuperset(own) and guard._shadows():
                return False
        return not any(guard.changed() for guard in self._rest)

    @classmethod
    def capture(cls, shell) -> Pristine:
        install_compare()
        _kinds.learn_pandas()
        guards: list = []
        names = [n for n in GUARDED_MODULES if n in sys.modules]
        names += sorted(n for n in list(sys.modules) if (n.startswith(GUARDED_PREFIXES) or n in GUARDED_PACKAGES)
                        and not n.startswith(UNGUARDED_PREFIXES))
        seen = set()
        for name in names:
            module = sys.modules.get(name)
            if module is None or name in seen or not isinstance(module, types.ModuleType):
                continue
            seen.add(name)
            guards.append(_Module(name, module))
        guards.append(_Module("sys", sys, skip=SYS_SKIP))
        guards.append(_List("sys.meta_path", sys.meta_path))
        guards.append(_List("sys.path_hooks", sys.path_hooks))
        guards.append(_Hooks())
        guards.append(_Signals())
        import gc

        guards.append(_List("gc.callbacks", gc.callbacks))
        # the shell's parts: their classes, instances, lists and tables
        parts: dict[str, object] = {"shell": shell}
        for name in SHELL_PARTS:
            value = getattr(shell, name, None)
            if value is not None and _is_machinery(value):
                parts[name] = value
        formatter = shell.display_formatter
        for mime, f in formatter.formatters.items():
            parts[f"formatter[{mime}]"] = f
        for name in ("ipython_display_formatter", "mimebundle_formatter"):
            if getattr(formatter, name, None) is not None:
                parts[f"formatter.{name}"] = getattr(formatter, name)
        classes: dict[type, None] = {}
        for label, part in parts.items():
            if isinstance(part, (tuple, list, dict)) and label != "hooks":
                continue
            guards.append(_Object(label, part))
            classes.update(dict.fromkeys(_MRO(type(part))))
        for extra in _extra_classes():
            classes.update(dict.fromkeys(_MRO(extra)))
        for klass in classes:
            if klass is object or _flags(klass) & _IMMUTABLETYPE or not _flags(klass) & _HEAPTYPE:
                continue
            guards.append(_Dict(f"class {klass.__module__}.{klass.__qualname__}", klass.__dict__, True,
                                skip={"_instance"} if klass.__dict__.get("_instance") is shell else (), cls=klass))
        guards.append(_Dict("shell.hooks", shell.hooks, True))
        for mime, f in formatter.formatters.items():
            for table in ("type_printers", "deferred_printers", "singleton_printers"):
                value = getattr(f, table, None)
                if type(value) is dict:  # a printer added for a new type (matplotlib's) stays
                    guards.append(_Dict(f"formatter[{mime}].{table}", value, False,
                                        allow_missing=table == "deferred_printers"))
        guards.append(_Dict("display_formatter.formatters", formatter.formatters, True))
        guards.append(_List("shell.ast_transformers", shell.ast_transformers,
                            keep=lambda t: type(t) is StrictComparisons))
        guards.append(_List("shell.input_transformers_post", shell.input_transformers_post))
        manager = shell.input_transformer_manager
        for name in ("cleanup_transforms", "line_transforms", "token_transformers"):
            if type(getattr(manager, name, None)) is list:
                guards.append(_List(f"input_transformer_manager.{name}", getattr(manager, name)))
        if type(getattr(shell, "_post_execute", None)) is dict:
            guards.append(_Dict("shell._post_execute", shell._post_execute, True))
        if type(shell.custom_exceptions) is tuple:
            guards.append(_Value("shell.custom_exceptions", shell, "custom_exceptions"))
        guards.append(_Callback(shell.events, _matplotlib_callbacks()))
        return cls(guards, shell)

    def pin_signals(self) -> None:
        """Take the signal handlers as they are now as pristine (call once in the child,
        after setting the grader's own, e.g. SIGALRM for the cell timeout)."""
        for guard in self.guards:
            if isinstance(guard, _Signals):
                guard.take()

    def pin(self, owner, name: str, value) -> None:
        """Set ``owner.name`` (a guarded module, the shell or one of its parts) for the
        child's life and make it part of the pristine state (``builtins.input`` refusing
        input, the shell's recorder). Call before any student code runs."""
        setattr(owner, name, value)
        for guard in self.guards:
            if isinstance(guard, _Module) and guard.module is owner:
                table = guard.entries
            elif isinstance(guard, _Object) and guard.obj is owner:
                traits = guard.traits
                table = traits if traits is not None and name in traits.live else guard.entries
                guard.shadow_ok = guard.shadow_ok | {name}
            else:
                continue
            table.remember(name)
        self._index()

    def tampered(self, shell) -> list[str]:
        """What differs from the pristine state now (nothing when untouched). Called right
        after a test cell, a change means code the test called (the student's) patched the
        grader while the test ran: the test's result cannot be trusted. Functions of the
        modules a test may mock itself (``MOCKABLE_MODULES``: input, random, ...) do not count."""
        if self._untouched():
            return self._user_changes(shell, fix=False)
        found = [g.label for g in self.guards
                 if not (isinstance(g, _Module) and g.mockable and sys.modules.get(g.name) is g.module
                         and type(g.module) is g.cls) and g.changed()]
        found += self._user_changes(shell, fix=False)
        return found

    def restore(self, shell) -> None:
        """Put back everything that differs; keep the student's own names."""
        if self._untouched():
            self._user_changes(shell, fix=True)
            return
        for guard in self.guards:
            if guard.changed():
                guard.fix()
        self._user_changes(shell, fix=True)

    def _user_changes(self, shell, fix: bool) -> list[str]:
        """The user namespace must not hide the comparison functions or builtins."""
        found = []
        for ns in {id(d): d for d in (shell.user_ns, shell.user_global_ns)}.values():
            for name in self.user_keys:
                if name in ns:
                    found.append(f"user namespace: {name}")
                    if fix:
                        del ns[name]
            if ns.get("__builtins__", builtins) is not builtins:
                found.append("user namespace: __builtins__")
                if fix:
                    ns["__builtins__"] = builtins
        return found


class _Value:
    """One attribute held by identity (a tuple the shell reads, like custom_exceptions)."""

    __slots__ = ("label", "name", "owner", "value")

    def __init__(self, label: str, owner, name: str):
        self.label, self.owner, self.name = label, owner, name
        self.value = object.__getattribute__(owner, "__dict__").get(name, _MISSING)

    def changed(self) -> bool:
        return object.__getattribute__(self.owner, "__dict__").get(self.name, _MISSING) is not self.value

    def fix(self) -> None:
        own = object.__getattribute__(self.owner, "__dict__")
        if self.value is _MISSING:
            own.pop(self.name, None)
        else:
            own[self.name] = self.value


def _extra_classes() -> list[type]:
    """Classes outside the shell whose methods tests or the shell use."""
    found: list[type] = [fractions.Fraction, collections.Counter, collections.OrderedDict]
    interactive = sys.modules.get("IPython.core.interactiveshell")
    if interactive is not None:
        found += [interactive.ExecutionResult, interactive.ExecutionInfo]
    pretty = sys.modules.get("IPython.lib.pretty")
    if pretty is not None:
        found.append(pretty.RepresentationPrinter)
    found += [t for t in _kinds.arrays]
    np = sys.modules.get("numpy")
    if np is not None:
        testing = sys.modules.get("numpy.testing")
        for name in ("TestCase",):
            if testing is not None and isinstance(testing.__dict__.get(name), type):
                found.append(testing.__dict__[name])
    return found


class _Signals:
    """Signal handlers and the CPU-time interval timers: a student's handler would run in
    the middle of a test cell, able to patch what the test is about to use and to put it
    back before the test ends."""

    label = "signal handlers"

    def __init__(self):
        import signal

        self.signal = signal
        # SIGALRM is the cell timeout's: the grader sets its handler before every cell
        self.numbers = tuple(n for n in range(1, signal.NSIG)
                             if n not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGALRM))
        self.handlers: tuple = ()
        self.take()

    def take(self) -> None:
        getsignal = self.signal.getsignal
        self.handlers = tuple(getsignal(n) for n in self.numbers)

    def _timers(self) -> bool:
        getitimer = self.signal.getitimer
        return getitimer(self.signal.ITIMER_VIRTUAL) != (0.0, 0.0) or getitimer(self.signal.ITIMER_PROF) != (0.0, 0.0)

    def changed(self) -> bool:
        getsignal = self.signal.getsignal
        return not all(map(_is, map(getsignal, self.numbers), self.handlers)) or self._timers()

    def fix(self) -> None:
        signal = self.signal
        for number, handler in zip(self.numbers, self.handlers):
            if signal.getsignal(number) is not handler and handler is not None:
                signal.signal(number, handler)
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.setitimer(signal.ITIMER_PROF, 0)


# --- the audit guard ---------------------------------------------------------------------

# Audit events no lesson needs and an attack does: reading every object of the process
# (the grader's own), raw memory and native calls, tracing and profiling hooks (they run
# the student's code inside a test cell's lines), and more audit hooks.
# (ctypes.string_at stays allowed: the grading child reads its commands with it.)
REFUSED_EVENTS = frozenset({
    "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames",
    "sys.settrace", "sys.setprofile", "sys.addaudithook",
    "ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.cdata", "ctypes.cdata/buffer",
    "ctypes.addressof", "ctypes.PyObj_FromPtr", "ctypes.call_function", "ctypes.seh_exception",
})
# Modules refused on import: native memory access. ctypes cannot be audited once loaded
# (a function pointer made from an address, ``cast`` and ``memmove`` raise no event), so
# the zygote should keep it out: then importing it is refused here.
REFUSED_IMPORTS = frozenset({"ctypes", "_ctypes", "cffi", "_cffi_backend"})
# shown in the cell's traceback, in English like Python's own errors there
REFUSED_MESSAGE = N_("{event} is not available while a notebook is graded: it could change how other cells are "
                     "graded. Remove it from your answer and run the notebook again.")


def install_audit_guard(user_ns: dict | None = None, allowed_calls: frozenset = frozenset()) -> None:
    """Refuse, for the rest of this process, what only an attack needs (an audit hook cannot
    be removed). Also refused: replacing the code or defaults of a function that was not
    defined in the notebook (``user_ns``: the notebook's namespace, IPython's by default)
    and the bases of a class that was not. The refusal is a RuntimeError whose message
    shows in the cell's traceback. ``allowed_calls``: addresses of C functions the grader
    itself calls through ctypes (the grading child's reads and writes that keep the GIL)."""
    if user_ns is None:
        from IPython.core.interactiveshell import InteractiveShell

        user_ns = InteractiveShell.instance().user_global_ns if InteractiveShell.initialized() else {}
    refused, message = REFUSED_EVENTS, REFUSED_MESSAGE
    function_type, _type, _str = types.FunctionType, type, str
    globals_of = types.FunctionType.__globals__.__get__
    module_of = type.__dict__["__module__"].__get__
    protected = frozenset({"__code__", "__defaults__", "__kwdefaults__"})
    notebook = user_ns

    refused_imports = REFUSED_IMPORTS

    def guard(event, args):
        if event in refused:
            if event == "ctypes.call_function" and args and args[0] in allowed_calls:
                return
            raise RuntimeError(message.format(event=event))
        if event == "import" and args and args[0] in refused_imports:
            raise RuntimeError(message.format(event=f"import {args[0]}"))
        if (event == "object.__setattr__" or event == "object.__delattr__") and len(args) >= 2 \
                and _type(args[1]) is _str:
            target, name = args[0], args[1]
            if name in protected and _type(target) is function_type and globals_of(target) is not notebook:
                raise RuntimeError(message.format(event=f"changing {name} of a library function"))
            if name == "__bases__" and isinstance(target, type) and module_of(target) != "__main__":
                raise RuntimeError(message.format(event="changing the bases of a library class"))

    sys.addaudithook(guard)


# --- the grading child's guard -----------------------------------------------------------

TAMPERED_ERROR = "GradingIntegrityError"
TAMPERED_MESSAGE = N_("The answer's code changed the grader while this test ran ({what}), so the test counts as "
                      "failed. Answers must not change IPython, builtins or the modules tests use.")


class TestCellGuard:
    """All of the above around test cells, in the shape the grading child calls
    (``sandbox.child.Guard``): made in the zygote (the capture), ``before_first`` in the
    child before any student code, then ``before_test``/``after_test`` around each test
    cell and ``result_text`` for its value."""

    __test__ = False  # not a pytest class

    def __init__(self, shell, bound: bool = False):
        """bound: test cells use ``StrictComparisons(bound=True)``, and the shell's class gets
        a run_code that binds their code (``binding_run_code``), before the capture."""
        cls = type(shell)
        if bound and not getattr(cls.run_code, "binds", False):
            cls.run_code = binding_run_code(cls.run_code)
        self.pristine = Pristine.capture(shell)
        self.user_ns = shell.user_global_ns
        self.bound = bound
        self.transformer: StrictComparisons | None = None

    def before_first(self, shell=None, allowed_calls: frozenset = frozenset()) -> None:
        """The child's own settings (input() refused, the shell's recorder, its signal
        handlers) become part of the pristine state; then the audit guard, for good."""
        self.pristine.pin(builtins, "input", builtins.input)
        if shell is not None and _own_dict(shell).get("recorder") is not None:
            self.pristine.pin(shell, "recorder", _own_dict(shell)["recorder"])
        self.pristine.pin_signals()
        install_audit_guard(self.user_ns, allowed_calls=allowed_calls)

    def before_test(self, shell) -> None:
        self.pristine.restore(shell)
        _take_recorded()
        self.transformer = StrictComparisons(bound=self.bound)
        shell.ast_transformers.append(self.transformer)

    def after_test(self, shell) -> None:
        """A test cell during which the grader was patched records an error (nbgrader then
        gives it no points): its result came from the student's code, not the test's."""
        transformers = shell.ast_transformers
        while any(t is self.transformer for t in transformers):
            list.remove(transformers, self.transformer)
        self.transformer = None
        changed = self.pristine.tampered(shell)
        if changed:
            what = ", ".join(changed[:5])
            shell.recorder.add({"output_type": "error", "ename": TAMPERED_ERROR,
                                "evalue": TAMPERED_MESSAGE.format(what=what),
                                "traceback": [f"\x1b[0;31m{TAMPERED_ERROR}\x1b[0m: "
                                              + TAMPERED_MESSAGE.format(what=what)]})
            self.pristine.restore(shell)

    def result_text(self, value) -> str | None:
        """From the value the cell's own code recorded when bound (a display hook the
        student replaced cannot hide or change it), else from the value IPython saw."""
        if self.bound:
            found, recorded = _take_recorded()
            value = recorded if found else None
        return partial_credit_text(value) if value is not None else None


def binding_run_code(run_code):
    """IPython's ``run_code`` (a coroutine function) binding each code object of a test cell
    transformed with ``StrictComparisons(bound=True)`` before it runs; for a shell class:
    ``GradingShell.run_code = binding_run_code(InteractiveShell.run_code)``."""

    async def run(self, code_obj, result=None, *, async_=False):
        if any(type(t) is StrictComparisons and t.bound for t in self.ast_transformers):
            code_obj = bind(code_obj)
        return await run_code(self, code_obj, result, async_=async_)

    run.__doc__ = run_code.__doc__
    run.binds = True
    return run
