"""How a test cell compares and reads values, when answers may return impostors (issue 15).

An answer cell can return an object whose ``__eq__`` is always true, a ``str`` subclass
equal to everything, a class that claims to be ``int``: ``StrictComparisons`` rewrites a
test cell's ``==``, ``!=``, ``in`` and library comparisons so that a number, string, list,
dict, set or array equals only a value of its kind, compared by its data; honest values
compare exactly as Python compares them. ``bind`` (with ``StrictComparisons(bound=True)``)
leaves no name in the test's code that a student could shadow while it runs, and records
the cell's last value (``take_recorded``). ``partial_credit_text`` reads a score from the
value itself.
"""

from __future__ import annotations

import ast
import builtins
import collections
import decimal
import fractions
import numbers as abc_numbers
import operator
import secrets
import sys
import types

# The name unbound test cells reach the comparison functions by, in builtins.
COMPARE_NAME = "__sabaq_compare__"
HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by Python code (a student's can be)
mro = type.__dict__["__mro__"].__get__  # a class's MRO; a metaclass cannot shadow it


class _Kinds:
    """Which values a test may trust to compare honestly, by exact type."""

    def __init__(self):
        self.numbers = {int, float, complex, bool, decimal.Decimal, fractions.Fraction}
        self.arrays: set[type] = set()
        self.ndarray = None
        self.numpy = None
        self.pandas_file: str | None = None  # pandas' __init__.py, as the zygote finds it
        self.pandas_learnt = False
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
        if not isinstance(generic, type) or not isinstance(ndarray, type) or generic.__flags__ & HEAPTYPE \
                or ndarray.__flags__ & HEAPTYPE:
            return
        self.numpy = np
        self.ndarray = ndarray
        stack = [generic]
        while stack:
            t = stack.pop()
            stack.extend(type.__subclasses__(t))
            if not t.__flags__ & HEAPTYPE:
                self.numbers.add(t)
                # static types' names cannot change: numpy.integer and numpy.floating by name
                if any(b.__name__ in ("integer", "floating") and not b.__flags__ & HEAPTYPE for b in mro(t)):
                    self.reals.add(t)
        self.arrays.add(ndarray)
        for name in ("matrix",):
            t = np.__dict__.get(name)
            if isinstance(t, type):
                self.arrays.add(t)
        ma = sys.modules.get("numpy.ma")
        if ma is not None and isinstance(ma.__dict__.get("MaskedArray"), type):
            self.arrays.add(ma.__dict__["MaskedArray"])

    def learn_pandas(self, trusted: bool = False) -> None:
        """pandas' Series, DataFrame and Index compare as arrays. In the zygote (trusted:
        pandas preloaded, as by default) from the module itself; when a notebook imports
        pandas later, only from the module loaded from pandas' installed file (found in the
        zygote), as a module a student made up could claim the names. (pandas' classes are
        Python classes: a student building a fake module with that file name is not stopped.)"""
        import importlib.util

        if trusted and self.pandas_file is None:
            try:
                spec = importlib.util.find_spec("pandas")
            except (ImportError, ValueError):
                spec = None
            self.pandas_file = spec.origin if spec is not None and spec.origin else ""
        pd = sys.modules.get("pandas")
        if pd is None or self.pandas_learnt or type(pd) is not types.ModuleType:
            return
        if not trusted and (not self.pandas_file or pd.__dict__.get("__file__") != self.pandas_file):
            return
        for name in ("Series", "DataFrame", "Index"):
            t = pd.__dict__.get(name)
            if type(t) is type and type.__dict__["__module__"].__get__(t).startswith("pandas"):
                self.arrays.add(t)
        self.pandas_learnt = True


KINDS = _Kinds()


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
    HEAP = HEAPTYPE
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

    Integral, Rational, Real, Complex = (abc_numbers.Integral, abc_numbers.Rational, abc_numbers.Real,
                                         abc_numbers.Complex)
    index, Fraction, Decimal, isinstance_ = operator.index, fractions.Fraction, decimal.Decimal, isinstance
    class_dict, module_of = type.__dict__["__dict__"].__get__, type.__dict__["__module__"].__get__

    def declares(t, name) -> bool:
        """Whether a class or one of its bases defines ``name`` (read from the classes' own
        dicts: no ``__getattr__`` of the student's runs)."""
        return any_(name in class_dict(c) for c in mro(t))

    def value_of(x):
        """A number of no kind above (sympy's, a subclass of Fraction or Decimal, a numeric
        class of the notebook's) as Python's own number, through the numeric protocol it
        declares (``numbers``' ABCs, ``__index__``; ``__float__``/``__complex__`` for a class
        defined in the notebook). It tells its value without seeing what it is compared with,
        so an object that claims equality still fails. None when it declares none."""
        t = _type(x)
        try:
            if _issubclass(t, Decimal):
                return Decimal(x)  # the decimal's own digits, read by Decimal's C code
            if isinstance_(x, Integral) or declares(t, "__index__"):
                return int_data(index(x))
            if isinstance_(x, Rational):
                return Fraction(int_data(index(x.numerator)), int_data(index(x.denominator)))
            notebook = t.__flags__ & HEAP and module_of(t) == "__main__"
            if isinstance_(x, Real) or (notebook and declares(t, "__float__")):
                return float_data(_float(x))
            if isinstance_(x, Complex) or (notebook and declares(t, "__complex__")):
                number = _complex(x)
                return _complex(complex_real(number), complex_imag(number))
        except (TypeError, ValueError, ArithmeticError, AttributeError):
            pass
        return None

    def sympy_number(x, k) -> bool:
        """Whether x is one of sympy's numbers (its class says it comes from sympy: a class of
        the notebook's that says so only makes its comparisons stricter)."""
        if k != OTHER:
            return False
        module = module_of(_type(x))
        return _type(module) is _str and module.startswith("sympy.")

    def by_value(a, ka, b, kb):
        """a == b when one or both are OTHER: by their numbers' values when both are numbers
        (an OTHER without one equals no number), else as Python compares them (two OTHERs).
        A sympy number equals no number of the other exactness, as sympy itself has it since
        1.13 (``Rational(1, 2) == 0.5`` and ``Float(9) == 9`` are False), so the test cell
        gives what ``nbgrader autograde`` gives."""
        na = value_of(a) if ka == OTHER else va_number(a, ka)
        nb = value_of(b) if kb == OTHER else va_number(b, kb)
        if na is not None and nb is not None:
            if (sympy_number(a, ka) or sympy_number(b, kb)) and \
                    isinstance_(na, Rational) != isinstance_(nb, Rational):
                return False
            return na == nb
        if ka == OTHER and kb == OTHER and na is None and nb is None:
            return a == b
        return False

    def va_number(x, k):
        return kind(x)[1] if k == NUMBER else None

    def plain(x):
        """x, or its number when it is a number of no kind above (for a library comparison)."""
        if kind(x)[0] != OTHER:
            return x
        number = value_of(x)
        return x if number is None else number

    def strict_eq(a, b):
        """a == b, except that a number, string, bytes, None, list, tuple, dict, set or array
        equals only a value of a compatible kind (compared by its data, not by its methods);
        other numbers by their values (see ``value_of``)."""
        ka, va = kind(a)
        kb, vb = kind(b)
        if ka == OTHER and kb == OTHER:
            return by_value(a, ka, b, kb)
        if ka == ARRAY or kb == ARRAY:
            return array_compare(eq, va, ka, vb, kb)
        if ka == OTHER or kb == OTHER:
            return by_value(a, ka, b, kb)
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
            if value_of(a) is None and value_of(b) is None:
                return a != b
            return not by_value(a, ka, b, kb)
        if ka == ARRAY or kb == ARRAY:
            return array_compare(ne, va, ka, vb, kb)
        if ka == OTHER or kb == OTHER:
            return not by_value(a, ka, b, kb)
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
        if _len(args) >= 2:
            args = (plain(args[0]), plain(args[1]), *args[2:])
        if _len(args) >= 2 and trusted(args[0]) != trusted(args[1]):
            name = getattr(function, "__name__", "")
            if _type(name) is _str and name.lower().startswith("assert"):
                raise AssertionError(f"{type(args[0]).__name__} and {type(args[1]).__name__} values cannot be equal")
            return False
        return function(*args, **kwargs)

    return strict_eq, strict_ne, strict_contains, chain, order, checked_call


_strict_eq, _strict_ne, _strict_contains, _chain, _OPS, _checked_call = _strict_functions(KINDS)
# what test cells call: builtins.__sabaq_compare__[i] (a tuple: nothing in it can be replaced)
def _recorder():
    """The test cell's last value, recorded by the cell's own code: a call from anywhere else
    (a student's function, a finaliser) is ignored, and only the first value recorded after a
    reset counts. The value is kept in a generator's frame (notebook code gets no frame, see
    ``audit``), not in a container a student could reach through these functions' closures
    (a closure cell can be rebound, a list refilled); reading and resetting it takes the
    token handed out once, to the grader, by ``claim``."""
    getframe, any_, type_, tuple_ = sys._getframe, any, type, tuple

    def state():
        token, value, found, claimed = object(), None, False, False
        message = yield None
        while True:
            kind, argument = message
            answer = None
            if kind == "put":  # only from record itself (this generator's closure is reachable)
                if not found and getframe(1).f_code is record_code:
                    value, found = argument, True
            elif kind == "claim":
                if not claimed:
                    claimed, answer = True, token
            elif argument is token:  # take or reset
                answer = (found, value) if kind == "take" else None
                value, found = None, False
            message = yield answer

    machine = state()
    machine.send(None)
    send = machine.send

    def record(value):
        # the caller's code holds the comparison functions as a constant (``bind``): a test
        # cell's own; notebook code cannot make a code object with one
        for constant in getframe(1).f_code.co_consts:
            if type_(constant) is tuple_ and len(constant) > RECORD and constant[RECORD] is record:
                send(("put", value))
                break
        return value

    record_code = record.__code__

    def claim():
        """The token that reads and resets the value (None after the first call)."""
        return send(("claim", None))

    def take(token):
        """(True, value) when the test cell recorded one since the last take, else (False, None)."""
        found = send(("take", token))
        return found if found is not None else (False, None)

    return record, take, claim


_record, _take_recorded, claim_recorder = _recorder()
KEEP_ARG, INITIAL_ARG = "__sabaq_keep__", "__sabaq_initial__"
TEST_FUNCTION = "<module>"  # the name inspect and IPython read a whole cell by (the function is the cell)


def _run_test(names: tuple):
    """The decorator a bound test cell's body becomes a function with (see
    ``StrictComparisons``): it runs the body at once with the values the names it binds
    have in the notebook (or builtins) now, and puts back the names it bound into the
    notebook's namespace afterwards (from its last frame when it failed), as a cell at
    module level would. While the test runs its names are the function's own: a function
    it calls cannot set them (``score``). A cell with top-level ``await`` is a coroutine
    function: it gets the coroutine that runs it, which the cell awaits."""

    def run(function):
        __tracebackhide__ = True  # noqa: F841 - IPython leaves this frame out of tracebacks
        namespace, library = function.__globals__, builtins.__dict__
        initial = {}
        for name in names:
            if name in namespace:
                initial[name] = namespace[name]
            elif name in library:
                initial[name] = library[name]
        kept: list = []

        def keep(variables, value):
            kept.append(variables)
            return value

        if function.__code__.co_flags & CO_COROUTINE:
            return _run_awaited(function(keep, initial), kept, namespace)
        try:
            return function(keep, initial)
        except BaseException as error:
            step = error.__traceback__.tb_next  # this frame's entry first, then the function's
            if step is not None:
                kept.append(step.tb_frame.f_locals)
            raise
        finally:
            _put_back(kept, namespace)

    return run


async def _run_awaited(coroutine, kept: list, namespace: dict):
    """``_run_test``'s run for a cell with top-level ``await``."""
    __tracebackhide__ = True  # noqa: F841
    try:
        return await coroutine
    except BaseException as error:
        step = error.__traceback__.tb_next
        if step is not None:
            kept.append(step.tb_frame.f_locals)
        raise
    finally:
        _put_back(kept, namespace)


def _put_back(kept: list, namespace: dict) -> None:
    """The names a test bound, into the notebook's namespace (as a cell at module level)."""
    for name, value in (kept[0].items() if kept else ()):
        if name != KEEP_ARG and name != INITIAL_ARG:
            namespace[name] = value


def _star_import(name: str) -> None:
    """``from <name> import *`` in a bound test cell: the module's public names into the
    notebook's namespace (the cell's globals, as at module level; the names it binds itself
    stay its own while it runs)."""
    namespace = _getframe(1).f_globals
    module = _import(name, namespace, None, ("*",), 0)
    public = module.__dict__.get("__all__")
    if public is None:
        public = [key for key in module.__dict__ if type(key) is str and not key.startswith("_")]
    for key in public:
        namespace[key] = getattr(module, key)


CO_COROUTINE = 0x80  # inspect.CO_COROUTINE: a function made by ``async def``
_getframe, _import = sys._getframe, builtins.__import__  # as the zygote found them


RUN_TEST_CODE = _run_test(()).__code__  # reads the failed test's frame (see audit.frame_takers)
RUN_AWAITED_CODE = _run_awaited.__code__  # the same, for a cell that awaits
STAR_IMPORT_CODE = _star_import.__code__  # reads the test cell's globals
COMPARE = (_strict_eq, _strict_ne, lambda a, b: _strict_contains(b, a), lambda a, b: not _strict_contains(b, a),
           _chain, _checked_call, _record, _run_test, locals, _star_import)
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
    return code.replace(co_consts=tuple(replaced)) if changed else code


def take_recorded(token) -> tuple[bool, object]:
    """(True, value) when the last bound test cell ended with an expression (its value,
    recorded by the cell's own code, whatever displays it), else (False, None); also
    forgets it. ``token``: ``claim_recorder()``'s, which only its first caller (the grader,
    before any notebook code) gets."""
    return _take_recorded(token)
EQ, NE, IN, NOT_IN, CHAIN, CHECKED_CALL, RECORD, RUN_TEST, LOCALS, STAR_IMPORT = range(10)
RECORD_CODE = _record.__code__  # asks for its caller's frame (see audit.frame_takers)
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
    KINDS.learn_numpy()
    return _strict_eq(a, b)


def strict_ne(a, b):
    KINDS.learn_numpy()
    return _strict_ne(a, b)


def install_compare() -> None:
    """Put the comparison functions where test cells find them (restore keeps them there)."""
    KINDS.learn_numpy()
    KINDS.learn_pandas()
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
        at = {"lineno": node.lineno, "col_offset": node.col_offset,  # made in place: no walk to place them
              "end_lineno": getattr(node, "end_lineno", None), "end_col_offset": getattr(node, "end_col_offset", None)}
        load = _LOAD
        if self.bound:  # MARKER.__getitem__(index): a method call, which the compiler does not fold
            return ast.Call(func=ast.Attribute(value=ast.Constant(_MARKER, **at), attr="__getitem__", ctx=load, **at),
                            args=[ast.Constant(index, **at)], keywords=[], **at)
        return ast.Subscript(value=ast.Name(id=COMPARE_NAME, ctx=load, **at), slice=ast.Constant(index, **at),
                             ctx=load, **at)

    def visit_Module(self, node: ast.Module):
        self.generic_visit(node)
        if self.bound and node.body and isinstance(node.body[-1], ast.Expr):
            last = node.body[-1]
            last.value = ast.copy_location(ast.Call(func=self._compare_ref(RECORD, last.value), args=[last.value],
                                                    keywords=[]), last.value)
        if self.bound and node.body:
            scope = list(_top_scope(node.body))  # walked once: the checks below read this list
            if _can_be_a_function(scope):
                node.body = self._as_function(node.body, scope)
        return node

    def _as_function(self, body: list, scope: list) -> list:
        """The cell's statements as the body of a function run at once (``_run_test``):
        ``@run_test(names)\ndef __sabaq_test__(keep, initial): <names from initial>; <body>;
        return keep(locals(), <last value>)``, then the value displayed as the cell's."""
        first = body[0]
        names = _bound_names(scope)
        awaits = any(isinstance(n, _AWAITING) for n in scope)
        if any(isinstance(n, ast.ImportFrom) for n in scope):
            body = [_StarImports(self).visit(statement) for statement in body]
        value = body[-1].value if isinstance(body[-1], ast.Expr) else None
        statements = body[:-1] if value is not None else body
        prologue = [ast.If(test=ast.Compare(left=ast.Constant(name), ops=[ast.In()],
                                            comparators=[ast.Name(id=INITIAL_ARG, ctx=ast.Load())]),
                           body=[ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())],
                                            value=ast.Subscript(value=ast.Name(id=INITIAL_ARG, ctx=ast.Load()),
                                                                slice=ast.Constant(name), ctx=ast.Load()))],
                           orelse=[]) for name in names]
        returned = ast.Return(value=ast.Call(func=ast.Name(id=KEEP_ARG, ctx=ast.Load()), args=[
            ast.Call(func=self._compare_ref(LOCALS, first), args=[], keywords=[]),
            value if value is not None else ast.Constant(None)], keywords=[]))
        function = (ast.AsyncFunctionDef if awaits else ast.FunctionDef)(
            name=TEST_FUNCTION,
            args=ast.arguments(posonlyargs=[], args=[ast.arg(arg=KEEP_ARG), ast.arg(arg=INITIAL_ARG)], vararg=None,
                               kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
            body=[*prologue, *statements, returned],
            decorator_list=[ast.Call(func=self._compare_ref(RUN_TEST, first),
                                     args=[ast.Tuple(elts=[ast.Constant(n) for n in names], ctx=ast.Load())],
                                     keywords=[])],
            returns=None, type_comment=None)
        last = body[-1]
        # positions for the new nodes only (walking the cell's own, which have theirs, was
        # most of a passing test cell's extra time)
        for new, where in [(function.args, first), *((p, first) for p in prologue),
                           (returned, last), *((d, first) for d in function.decorator_list)]:
            for part in ast.walk(new):
                if not hasattr(part, "lineno") and "lineno" in part._attributes:
                    ast.copy_location(part, where)
        ast.copy_location(function, first)
        function.end_lineno, function.end_col_offset = last.end_lineno, last.end_col_offset
        result = ast.Name(id=TEST_FUNCTION, ctx=ast.Load())
        if awaits:  # the decorator gave the coroutine that runs the test: the cell awaits it
            result = ast.Await(value=result)
        shown = [ast.copy_location(ast.Expr(value=result), last)] if value is not None or awaits else []
        for part in ast.walk(shown[0]) if shown else ():
            ast.copy_location(part, last)
        return [function, *shown]

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


_LOAD = ast.Load()
_NOT_IN_A_FUNCTION = (ast.Return, ast.Yield, ast.YieldFrom, ast.Nonlocal)
_AWAITING = (ast.Await, ast.AsyncFor, ast.AsyncWith)  # top-level await: the function is a coroutine function


class _StarImports(ast.NodeTransformer):
    """``from m import *`` (absolute) in a cell's own scope, as a call of ``_star_import``:
    a function cannot import *, and at module level it fills the notebook's namespace."""

    def __init__(self, comparisons: StrictComparisons):
        self.comparisons = comparisons

    def visit_ImportFrom(self, node: ast.ImportFrom):
        if not any(a.name == "*" for a in node.names):
            return node
        call = ast.Call(func=self.comparisons._compare_ref(STAR_IMPORT, node), args=[ast.Constant(node.module)],
                        keywords=[])
        for part in ast.walk(call):
            ast.copy_location(part, node)
        return ast.copy_location(ast.Expr(value=call), node)

    def _skip(self, node):
        return node  # another scope: its own imports and awaits

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = _skip


def _top_scope(body: list):
    """The nodes of a cell's own scope (not inside its functions, lambdas or classes'
    bodies, whose default values, decorators and bases are the cell's)."""
    stack = list(body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stack += [*node.decorator_list, *node.args.defaults, *(d for d in node.args.kw_defaults if d)]
        elif isinstance(node, ast.Lambda):
            stack += [*node.args.defaults, *(d for d in node.args.kw_defaults if d)]
        elif isinstance(node, ast.ClassDef):
            stack += [*node.decorator_list, *node.bases, *node.keywords]
        else:
            stack += ast.iter_child_nodes(node)


def _can_be_a_function(scope: list) -> bool:
    """Whether a cell (the nodes of its own scope, ``_top_scope``) means the same as a
    function's body (a coroutine function's when it awaits; ``from m import *`` becomes a
    call): not with return, yield, nonlocal or a relative ``import *``."""
    return not any(isinstance(n, _NOT_IN_A_FUNCTION) or (isinstance(n, ast.ImportFrom) and n.level
                                                          and any(a.name == "*" for a in n.names))
                   for n in scope)


def _bound_names(scope: list) -> list[str]:
    """The names a cell binds in its own scope (the nodes ``_top_scope`` gives: its
    variables), but those it declares global."""
    names, declared = set(), set()
    for node in scope:
        if isinstance(node, ast.Global):
            declared.update(node.names)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return sorted(names - declared - {KEEP_ARG, INITIAL_ARG})


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
    KINDS.learn_numpy()
    t = type(value)
    static = next(base for base in mro(t) if not base.__flags__ & HEAPTYPE)  # the C type it is made of
    if static is int:
        number = int.__int__(value)
    elif static is float or static in KINDS.reals:
        number = static.__float__(value)
    elif static is KINDS.ndarray:
        ndarray = KINDS.ndarray
        if ndarray.__dict__["ndim"].__get__(value) != 0 or ndarray.__dict__["dtype"].__get__(value).kind not in "iuf":
            return None
        number = ndarray.__dict__["item"](value)
    else:
        return None
    try:
        return repr(float(number))
    except OverflowError:
        return int.__repr__(int(number))


def _failures():
    """Whether a cell's code raised, as IPython's ``run_code`` answers it (its return value).
    The ExecutionResult's ``error_in_exec`` is set before the error is shown, and showing it
    runs the notebook's code (an exception's ``__str__``, anything the traceback's
    formatting calls): that code could set it back to None. This flag only goes up: anyone
    may raise it (one failure more fails the notebook's own test), only the grader, with
    the token ``claim`` hands out once, reads and lowers it. It lives in a generator's frame
    (notebook code gets no frame, see ``audit``)."""

    def state():
        token, raised, claimed = object(), False, False
        message = yield None
        while True:
            kind, argument = message
            answer = None
            if kind == "raised":
                raised = True
            elif kind == "claim":
                if not claimed:
                    claimed, answer = True, token
            elif kind == "take" and argument is token:
                answer, raised = raised, False
            message = yield answer

    machine = state()
    machine.send(None)
    send = machine.send

    def failed() -> None:
        send(("raised", None))

    def claim():
        """The token that reads and lowers the flag (None after the first call)."""
        return send(("claim", None))

    def take(token) -> bool:
        """Whether code run since the last take raised; lowers the flag."""
        return send(("take", token)) is True

    return failed, take, claim


_failed, take_failed, claim_failures = _failures()


def binding_run_code(run_code):
    """IPython's ``run_code`` (a coroutine function) binding each code object of a test cell
    transformed with ``StrictComparisons(bound=True)`` before it runs, and raising the
    failure flag (``take_failed``) when the code raised; for a shell class:
    ``GradingShell.run_code = binding_run_code(InteractiveShell.run_code)``."""
    failed = _failed

    async def run(self, code_obj, result=None, *, async_=False):
        if any(type(t) is StrictComparisons and t.bound for t in self.ast_transformers):
            code_obj = bind(code_obj)
        raised = True
        try:
            raised = await run_code(self, code_obj, result, async_=async_)
        finally:
            if raised is not False:
                failed()
        return raised

    run.__doc__ = run_code.__doc__
    run.binds = True
    return run
