"""Hostile notebooks that attack IPython's shell, builtins, modules, comparisons and partial
credit from their answer cells (issue 15, items 2 and 3). Each attack is appended to a
wrong answer (``WRONG``): the test cells after it must fail as they fail for the honest
twin. Tests in the corpus: ``assert square(3) == 9`` (hidden: ``square(-2) == 4``), a
partial-credit cell for ``mean`` (``score`` from ``==`` and ``abs``), ``greet`` (printed,
then compared with a string) and ``fib`` in the second notebook.
"""

from __future__ import annotations

from hostile import Case

NOOP = "lambda *a, **k: None"

ALWAYS_EQUAL = ("class _Any:\n    def __eq__(self, other):\n        return True\n"
                "    def __ne__(self, other):\n        return False\n    __hash__ = object.__hash__\n")

CASES: list[Case] = [
    # error display silenced
    Case("showtraceback_instance", {"square": f"ip = get_ipython()\nip.showtraceback = {NOOP}\n"
                                              f"ip._showtraceback = {NOOP}"},
         note="the shell's error display replaced on the instance"),
    Case("showtraceback_class", {"square": f"type(get_ipython())._showtraceback = {NOOP}\n"
                                           f"type(get_ipython()).showtraceback = {NOOP}"},
         note="the error display replaced on the shell's class"),
    Case("showtraceback_base_class", {"square": "from IPython.core.interactiveshell import InteractiveShell\n"
                                                f"InteractiveShell.showtraceback = {NOOP}"},
         note="the error display replaced on IPython's base class"),
    Case("traceback_formatter", {"square": "ip = get_ipython()\n"
                                           "ip.InteractiveTB.structured_traceback = lambda *a, **k: []\n"
                                           "type(ip.InteractiveTB).structured_traceback = lambda *a, **k: []"},
         note="tracebacks formatted as nothing"),
    Case("custom_exc", {"square": f"get_ipython().set_custom_exc((BaseException,), {NOOP})"},
         note="a custom exception handler that shows nothing"),
    Case("custom_exc_tuple", {"square": "ip = get_ipython()\nip.custom_exceptions = (AssertionError,)\n"
                                        f"ip.CustomTB = {NOOP}"},
         note="custom_exceptions set by hand"),
    # hooks and callbacks
    Case("post_run_cell_clear", {"square": "from IPython.display import clear_output\n"
                                           "get_ipython().events.register('post_run_cell', "
                                           "lambda result: clear_output())"},
         note="every cell's output cleared after it ran"),
    Case("post_execute_clear", {"square": "from IPython.display import clear_output\n"
                                          "get_ipython().events.register('post_execute', clear_output)"},
         note="clear_output as a post_execute callback"),
    Case("pre_run_cell_repatch", {"square": "def _again(info):\n    ip = get_ipython()\n"
                                            f"    ip.showtraceback = {NOOP}\n"
                                            "    import builtins\n    builtins.abs = lambda x: 0\n"
                                            "get_ipython().events.register('pre_run_cell', _again)"},
         note="a pre_run_cell callback patches again after the restore"),
    Case("callbacks_dict_replaced", {"square": "from IPython.display import clear_output\n"
                                               "get_ipython().events.callbacks = {'post_run_cell': "
                                               "[lambda r: clear_output()], 'pre_run_cell': [], "
                                               "'pre_execute': [], 'post_execute': [], 'shell_initialized': []}"},
         note="the callbacks table replaced"),
    Case("sys_hooks", {"square": f"import sys\nsys.displayhook = {NOOP}\nsys.excepthook = {NOOP}\n"
                                 f"sys.breakpointhook = {NOOP}"},
         note="sys's display and exception hooks"),
    # test code rewritten before it runs
    Case("input_transformer", {"square": "get_ipython().input_transformers_cleanup.append("
                                         "lambda lines: ['pass\\n'])"},
         note="an input transformer replacing the test's lines"),
    Case("input_transformer_post", {"square": "get_ipython().input_transformers_post.append("
                                              "lambda lines: ['pass\\n'])"},
         note="a late input transformer"),
    Case("ast_transformer", {"square": "import ast\nclass _NoAsserts(ast.NodeTransformer):\n"
                                       "    def visit_Assert(self, node):\n        return ast.Pass()\n"
                                       "get_ipython().ast_transformers.append(_NoAsserts())"},
         note="an AST transformer dropping asserts"),
    Case("transform_cell", {"square": "get_ipython().transform_cell = lambda cell: 'pass\\n'"},
         note="transform_cell on the instance"),
    Case("run_cell_class", {"square": "_cls = type(get_ipython())\n_real = _cls.run_cell\n"
                                      "def _run(self, raw_cell, *a, **k):\n    return _real(self, 'pass', *a, **k)\n"
                                      "_cls.run_cell = _run"},
         note="run_cell replaced on the class"),
    Case("run_code_instance", {"square": "import types\n_ip = get_ipython()\n"
                                         "_ip.run_code = types.MethodType(lambda self, *a, **k: False, _ip)"},
         note="run_code replaced on the instance"),
    Case("compiler_replaced", {"square": "_ip = get_ipython()\n_real = _ip.compile\n"
                                         "class _C:\n    def __getattr__(self, n):\n        return getattr(_real, n)\n"
                                         "    def __call__(self, *a, **k):\n        return compile('pass', 'x', 'exec')\n"
                                         "_ip.compile = _C()"},
         note="the shell's compiler replaced"),
    # builtins and modules
    Case("builtins_abs", {"mean": "import builtins\nbuiltins.abs = lambda x: 0"},
         note="abs() always 0, for the tolerance check"),
    Case("builtins_many", {"mean": "import builtins\nbuiltins.round = lambda *a: 0\nbuiltins.len = lambda x: 1\n"
                                   "builtins.sum = lambda *a: 2\nbuiltins.isinstance = lambda *a: True\n"
                                   "builtins.abs = lambda x: 0"},
         note="round, len, sum, isinstance, abs replaced"),
    Case("builtins_assertion_error", {"square": "import builtins\nclass _Quiet(Exception):\n    pass\n"
                                                "builtins.AssertionError = _Quiet"},
         note="AssertionError swapped"),
    Case("builtins_float", {"mean": "import builtins\n_float = float\n"
                                    "class _F(_float):\n    def __eq__(self, other):\n        return True\n"
                                    "    __hash__ = _float.__hash__\n"
                                    "    def __lt__(self, other):\n        return True\n"
                                    "builtins.float = _F\ndef mean(xs):\n    return _F(0)"},
         note="a patched float class returned and installed"),
    Case("user_builtins_dict", {"square": "__builtins__ = {'__import__': __import__, 'abs': lambda x: 0}"},
         note="the namespace's __builtins__ replaced"),
    Case("compare_name", {"square": "__sabaq_compare__ = (lambda a, b: True,) * 8"},
         note="the name test comparisons use, shadowed in the namespace"),
    Case("compare_name_builtins", {"square": "import builtins\nbuiltins.__sabaq_compare__ = (lambda a, b: True,) * 8"},
         note="the comparison functions replaced in builtins"),
    Case("numpy_isclose", {"mean": "import numpy as np\nnp.isclose = lambda *a, **k: True\n"
                                   "np.allclose = lambda *a, **k: True\n"
                                   "np.testing.assert_allclose = lambda *a, **k: None"},
         note="numpy's comparisons replaced"),
    Case("numpy_core", {"mean": "import numpy._core.numeric as n\nn.isclose = lambda *a, **k: True"},
         note="numpy's implementation module patched"),
    Case("math_isclose", {"mean": "import math\nmath.isclose = lambda *a, **k: True\nmath.fabs = lambda x: 0"},
         note="math's functions replaced"),
    Case("operator_module", {"square": "import operator\noperator.eq = lambda a, b: True\n"
                                       "operator.is_ = lambda a, b: True"},
         note="operator's functions replaced"),
    Case("module_replaced", {"mean": "import sys, types\n_fake = types.ModuleType('math')\n"
                                     "_fake.isclose = lambda *a, **k: True\nsys.modules['math'] = _fake\n"
                                     "import builtins\n_imp = builtins.__import__\n"
                                     "builtins.__import__ = lambda n, *a, **k: _fake if n == 'math' else _imp(n, *a, **k)"},
         note="a module replaced in sys.modules and by __import__"),
    Case("module_class_swapped", {"square": "import sys, types\nclass _M(types.ModuleType):\n"
                                            "    def __getattribute__(self, name):\n"
                                            "        return lambda *a, **k: True\n"
                                            "sys.modules['math'].__class__ = _M"},
         note="a module's class swapped"),
    Case("meta_path_finder", {"square": "import sys\nclass _Finder:\n    def find_spec(self, *a, **k):\n"
                                        "        return None\nsys.meta_path.insert(0, _Finder())"},
         note="an import hook in front"),
    Case("fraction_class_patched", {"mean": "import fractions\nfractions.Fraction.__eq__ = lambda s, o: True\n"
                                            "def mean(xs):\n    return fractions.Fraction(0)"},
         note="a library class's __eq__ patched, its instance returned"),
    # values that claim to be right
    Case("always_equal", {"square": ALWAYS_EQUAL + "def square(x):\n    return _Any()",
                          "mean": ALWAYS_EQUAL + "def mean(xs):\n    return _Any()",
                          "greet": ALWAYS_EQUAL + "def greet(name):\n    return _Any()",
                          "fib": ALWAYS_EQUAL + "def fib(n):\n    return _Any()"},
         note="objects whose __eq__ is always true"),
    Case("int_subclass", {"fib": "class _N(int):\n    def __eq__(self, other):\n        return True\n"
                                 "    __hash__ = int.__hash__\ndef fib(n):\n    return _N(0)",
                          "square": "class _N(int):\n    def __eq__(self, other):\n        return True\n"
                                    "    __hash__ = int.__hash__\ndef square(x):\n    return _N(0)"},
         note="an int subclass equal to everything"),
    Case("str_subclass", {"greet": "class _S(str):\n    def __eq__(self, other):\n        return True\n"
                                   "    __hash__ = str.__hash__\ndef greet(name):\n    return _S('hi')"},
         note="a str subclass equal to everything"),
    Case("class_spoofing", {"square": "class _Fake:\n    __class__ = int\n    def __eq__(self, other):\n"
                                      "        return True\ndef square(x):\n    return _Fake()"},
         note="__class__ claims int"),
    Case("instancecheck", {"square": "class _Meta(type):\n    def __instancecheck__(cls, obj):\n        return True\n"
                                     "    def __eq__(cls, other):\n        return True\n    __hash__ = type.__hash__\n"
                                     "class _Fake(metaclass=_Meta):\n    def __eq__(self, other):\n        return True\n"
                                     "def square(x):\n    return _Fake()"},
         note="__instancecheck__ and a metaclass equal to everything"),
    Case("reflected_eq", {"square": "class _R(int):\n    def __eq__(self, other):\n        return True\n"
                                    "    def __ne__(self, other):\n        return False\n    __hash__ = int.__hash__\n"
                                    "def square(x):\n    return [_R(0)][0]"},
         note="a subclass's reflected __eq__ wins over int's"),
    Case("list_of_impostors", {"square": ALWAYS_EQUAL + "class _L(list):\n    def __eq__(self, other):\n"
                                                        "        return True\ndef square(x):\n    return _L([_Any()])"},
         note="a list subclass of impostors"),
    Case("numpy_impostor_array", {"square": ALWAYS_EQUAL + "import numpy as np\ndef square(x):\n"
                                                           "    return np.array([_Any()], dtype=object)[0]"},
         note="an impostor inside a numpy object array"),
    Case("numpy_subclass", {"square": "import numpy as np\nclass _A(np.ndarray):\n"
                                      "    def __eq__(self, other):\n        return True\n"
                                      "def square(x):\n    return np.zeros(1).view(_A)[0:1]"},
         note="an ndarray subclass equal to everything"),
    # partial credit
    Case("formatter_max", {"mean": "ip = get_ipython()\nf = ip.display_formatter.formatters['text/plain']\n"
                                   "f.for_type(int, lambda obj, p, cycle: p.text('3'))\n"
                                   "f.for_type(float, lambda obj, p, cycle: p.text('3'))"},
         note="a display formatter printing the maximum"),
    Case("formatter_class", {"mean": "from IPython.core.formatters import PlainTextFormatter\n"
                                     "PlainTextFormatter.__call__ = lambda self, obj: '3'"},
         note="the plain-text formatter's class patched"),
    Case("display_formatter_format", {"mean": "from IPython.core.formatters import DisplayFormatter\n"
                                              "DisplayFormatter.format = lambda self, obj, **k: ({'text/plain': '3'}, {})"},
         note="DisplayFormatter.format patched"),
    Case("displayhook_write", {"mean": "ip = get_ipython()\n"
                                       "ip.displayhook.write_format_data = lambda *a, **k: None\n"
                                       "type(ip.displayhook).compute_format_data = lambda self, r: "
                                       "({'text/plain': '3'}, {})"},
         note="the display hook's methods patched"),
    Case("pretty_printer", {"mean": "import IPython.lib.pretty as pretty\n"
                                    "pretty.RepresentationPrinter.pretty = lambda self, obj: self.text('3')"},
         note="IPython's pretty printer patched"),
    Case("precision_magic", {"mean": "get_ipython().run_line_magic('precision', '0')"},
         note="%precision changes how floats print"),
    # hooks that run student code inside a test
    Case("settrace", {"square": "import sys\ndef _t(frame, event, arg):\n    return _t\nsys.settrace(_t)"},
         note="a trace function (could skip the test's lines)"),
    Case("setprofile", {"square": "import sys\nsys.setprofile(lambda *a: None)"},
         note="a profile function"),
    Case("threading_trace", {"square": "import threading\nthreading.settrace(lambda *a: None)"},
         note="trace functions for new threads"),
    Case("signal_timer", {"square": "import signal\n"
                                    "def _h(*a):\n    import builtins\n    builtins.abs = lambda x: 0\n"
                                    "signal.signal(signal.SIGPROF, _h)\nsignal.setitimer(signal.ITIMER_PROF, 0.001, 0.001)"},
         note="a profiling timer whose handler patches during tests"),
    Case("gc_callback", {"square": "import gc\ndef _cb(phase, info):\n    import builtins\n"
                                   "    builtins.abs = lambda x: 0\ngc.callbacks.append(_cb)"},
         note="a garbage collector callback that patches during tests"),
    Case("audit_hook", {"square": "import sys\nsys.addaudithook(lambda event, args: None)"},
         note="another audit hook, which would run inside every test"),
    # student code running inside a test (a finaliser, a display hook that removes itself)
    Case("finaliser_swaps_comparison", {"square": "class _Sneaky:\n    def __del__(self):\n"
                                                  "        def fake(a, b):\n"
                                                  "            globals().pop('__sabaq_compare__', None)\n"
                                                  "            return True\n"
                                                  "        globals()['__sabaq_compare__'] = (fake,) * 8\n"
                                                  "def square(x):\n    _Sneaky()\n    return 9 if x == 3 else 0"},
         note="an object freed inside the test puts a self-removing fake comparison in the namespace"),
    Case("display_hook_swallows_score", {"mean": "import sys\ndef mean(xs):\n"
                                                 "    sys.displayhook = lambda v: setattr(sys, 'displayhook', "
                                                 "sys.__displayhook__)\n    return 0"},
         note="the partial-credit cell's value is never displayed (nbgrader then gives full credit)"),
    # reaching the grader's objects
    Case("gc_walk", {"square": "import gc\nfor _o in gc.get_objects():\n    pass"},
         note="walking every object of the process"),
    Case("gc_referrers", {"square": "import gc\n_r = gc.get_referrers(get_ipython())"},
         note="what refers to the shell"),
    Case("current_frames", {"square": "import sys\n_f = sys._current_frames()"},
         note="other threads' frames"),
    Case("library_code_swapped", {"mean": "import json\njson.dumps.__code__ = (lambda *a, **k: '3').__code__"},
         note="a library function's code replaced"),
    Case("ctypes_memory", {"square": "import ctypes\n_x = ctypes.c_long.from_address(id(1))"},
         note="raw memory through ctypes"),
    # the test cell's own variables, set from a function it calls (a bound test cell runs as
    # a function of its own: its names are fast locals; frames are refused to notebook code)
    Case("test_variable_written", {"mean": "def mean(xs):\n    globals()['score'] = 3\n    return 0"},
         note="the partial-credit cell's score set from inside the answer function"),
    Case("test_variable_through_shell", {"mean": "def mean(xs):\n    get_ipython().user_ns['score'] = 3\n"
                                                 "    return 0"},
         note="the score set through the shell's namespace"),
    Case("test_variable_through_frame", {"mean": "import sys\ndef mean(xs):\n    try:\n"
                                                 "        _f = sys._getframe(1)\n        _f.f_locals['score'] = 3\n"
                                                 "        _f.f_globals['score'] = 3\n    except Exception:\n"
                                                 "        pass\n    return 0"},
         note="the score written through the caller's frame, the refusal swallowed"),
    Case("expected_value_mutated", {"greet": "import inspect\ndef greet(name):\n    try:\n"
                                             "        for _f in inspect.stack():\n"
                                             "            for _k, _v in list(_f.frame.f_locals.items()):\n"
                                             "                if isinstance(_v, list):\n                    _v[:] = []\n"
                                             "    except Exception:\n        pass\n    return 'hi'"},
         note="objects the test holds mutated through inspect.stack()"),
]

# Known open (see sandbox/audit.py): raw memory. ctypes is loaded in the grading child
# (numpy and the child's own reads load it): a Union of an integer and a pointer or a
# py_object reads and writes any memory with no audit event. /proc/self/mem is readable
# and writable by the process itself: the nonce of the cell in flight is in the child's
# memory, and with it a reply written to the reply socket passes. Closing both needs the
# verdict outside the student's process, or a child without _ctypes and without its own
# /proc/self/mem.
RAW_NONCE = """
import os, re
def square(x):
    _found = []
    with open('/proc/self/maps') as _maps, open('/proc/self/mem', 'rb', buffering=0) as _mem:
        for _line in _maps:
            _range, _perms, *_rest = _line.split()
            if _perms.startswith('r') and (len(_rest) < 4 or _rest[3] == '[heap]'):
                _start, _end = (int(v, 16) for v in _range.split('-'))
                try:
                    _mem.seek(_start)
                    _found += re.findall(rb'"nonce": "([0-9a-f]{32})"', _mem.read(_end - _start))
                except (OSError, OverflowError, ValueError):
                    pass
    for _fd in os.listdir('/proc/self/fd'):
        if 'socket' in os.readlink(f'/proc/self/fd/{_fd}'):
            for _nonce in _found:
                os.write(int(_fd), ('{"nonce": "%s", "status": "ok", "outputs": []}\\n' % _nonce.decode()).encode())
    return x + x
"""
OPEN_CASES: list[Case] = [
    Case("nonce_from_memory", {"square": RAW_NONCE},
         note="the nonce read from /proc/self/mem inside the test, a pass written to the reply socket"),
    Case("ctypes_union_write", {"mean": "def mean(xs):\n    import ctypes\n"
                                        "    class _U(ctypes.Union):\n"
                                        "        _fields_ = [('a', ctypes.c_size_t), ('o', ctypes.py_object)]\n"
                                        "    _u = _U()\n    _u.a = id(get_ipython())\n"
                                        "    _shell = _u.o  # any object from its address: the frames' too\n    return 0"},
         note="raw memory through a ctypes Union (not audited); a forged score needs more steps"),
]
