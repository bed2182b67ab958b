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


def tried(code: str) -> str:
    """The attack in a try: the answer cell goes on whatever it raised, and shows the refusal."""
    body = "\n".join("    " + line for line in code.splitlines())
    return f"try:\n{body}\nexcept Exception as _e:\n    print('refused:', type(_e).__name__, _e)"


# Raw memory's target: the int 55 the test of fib compares with. Small ints are shared, so
# the test's constant is this object: its digit (24 bytes in) rewritten to 10, the wrong
# fib(10) (it returns n) would equal 55 and pass.
DIGIT_OF_55 = "id(55) + 24"

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
    # more ways to the grader's objects and to run code inside a test cell (issue 15 leftovers)
    Case("comparisons_module_patched", {"square": "import sys\n"
                                                  "_m = sys.modules['sabaq.autograders.sandbox.comparisons']\n"
                                                  "_m.strict_eq = lambda a, b: True\n_m._strict_eq = lambda a, b: True\n"
                                                  "_m.partial_credit_text = lambda v: '2'\n"
                                                  "_m.COMPARE = (lambda a, b: True,) * 9"},
         note="the comparisons module's functions replaced through sys.modules"),
    Case("comparisons_module_replaced", {"mean": "import sys, types\n_fake = types.ModuleType('comparisons')\n"
                                                 "_fake.take_recorded = lambda: (True, 3)\n"
                                                 "_fake.partial_credit_text = lambda v: '3'\n"
                                                 "for _n in [n for n in sys.modules if 'sandbox' in n]:\n"
                                                 "    sys.modules[_n] = _fake"},
         note="the grader's modules replaced in sys.modules by one that reports full marks"),
    Case("subclasses_walk_guard", {"mean": "_seen = []\n_todo = [object]\nwhile _todo:\n"
                                           "    _c = _todo.pop()\n    try:\n        _todo += type.__subclasses__(_c)\n"
                                           "    except TypeError:\n        pass\n"
                                           "    if _c.__name__ in ('TestCellGuard', 'Guard', 'Pristine', 'Recorder', "
                                           "'StrictComparisons', 'GradingShell'):\n"
                                           "        _seen.append(_c.__name__)\n"
                                           "        for _n in ('before_test', 'after_test', 'restore', 'tampered', "
                                           "'visit_Compare', 'visit_Module'):\n"
                                           "            if _n in vars(_c):\n"
                                           "                try:\n"
                                           "                    setattr(_c, _n, lambda *a, **k: [])\n"
                                           "                except Exception:\n                    pass\n"
                                           "        if 'result_text' in vars(_c):\n"
                                           "            _c.result_text = lambda self, v: '3'\n"
                                           "print('patched', sorted(set(_seen)))"},
         note="object.__subclasses__() walked to the grader's classes, their methods replaced"),
    Case("finalizer_in_test", {"mean": "import builtins\nclass _Late:\n    def __del__(self):\n"
                                       "        builtins.abs = lambda x: 0\n"
                                       f"        get_ipython().showtraceback = {NOOP}\n"
                                       "def mean(xs):\n    _Late()\n    return 0"},
         note="a __del__ that patches builtins and the error display while the test cell runs"),
    Case("finalizer_hides_the_verdict", {"mean": "import builtins\nclass _Sink:\n"
                                                 "    def __getattr__(self, name):\n"
                                                 "        return lambda *a, **k: None\n"
                                                 "class _Late:\n    def __del__(self):\n"
                                                 "        builtins.abs = lambda x: 0\n"
                                                 "        get_ipython().recorder = _Sink()\n"
                                                 "def mean(xs):\n    _Late()\n    return 0"},
         note="a finaliser in the test patches abs and replaces the shell's recorder, where the "
              "tampering error would go"),
    Case("finalizer_restores_itself", {"mean": "import builtins\n_real_abs = abs\n_calls = []\n"
                                               "def mean(xs):\n    _calls.append(1)\n"
                                               "    builtins.abs = (lambda x: 0) if len(_calls) % 2 else _real_abs\n"
                                               "    return 0"},
         note="abs replaced by one call of the answer in a test and put back by the next"),
    Case("closure_cell_rebound", {"mean": "import sys\n"
                                          "_m = sys.modules['sabaq.autograders.sandbox.comparisons']\n"
                                          "class _Stuck(list):\n    def __setitem__(self, i, v):\n        pass\n"
                                          "    def clear(self):\n        pass\n"
                                          "for _f in (_m._record, _m._take_recorded):\n"
                                          "    for _cell in _f.__closure__ or ():\n"
                                          "        try:\n"
                                          "            if type(_cell.cell_contents) is list:\n"
                                          "                _cell.cell_contents = _Stuck([3])\n"
                                          "            elif type(_cell.cell_contents) is set:\n"
                                          "                _cell.cell_contents.update(range(1 << 20))\n"
                                          "        except Exception:\n            pass"},
         note="the recorder's closure cells rebound: its box keeps a 3 whatever the test records"),
    Case("finalizer_cycle", {"square": "import builtins\nclass _Cycle:\n    def __init__(self):\n"
                                       "        self.me = self\n    def __del__(self):\n"
                                       "        builtins.AssertionError = type('Q', (Exception,), {})\n"
                                       "def square(x):\n    for _ in range(2000):\n        _Cycle()\n"
                                       "    return x + x"},
         note="reference cycles whose finalizers run in the garbage collector, inside the test"),
    Case("settrace_cell", {"mean": "import sys, threading\ndef _tracer(frame, event, arg):\n"
                                   "    if 'score' in frame.f_locals:\n        frame.f_locals['score'] = 3\n"
                                   "    return _tracer\ntry:\n    threading.settrace(_tracer)\n"
                                   "except Exception:\n    pass\nsys.settrace(_tracer)"},
         note="a trace function (sys.settrace, threading.settrace) that sets the test's score"),
    Case("setprofile_cell", {"mean": "import sys\ndef _profiler(frame, event, arg):\n"
                                     "    if 'score' in frame.f_locals:\n        frame.f_locals['score'] = 3\n"
                                     "try:\n    import threading\n    threading.setprofile(_profiler)\n"
                                     "except Exception:\n    pass\nsys.setprofile(_profiler)"},
         note="a profile function that sets the test's score"),
    Case("signal_handler_in_test", {"square": "import os, signal, builtins, time\n"
                                              "def _handler(signum, frame):\n"
                                              "    builtins.AssertionError = type('Q', (Exception,), {})\n"
                                              f"    get_ipython().showtraceback = {NOOP}\n"
                                              "signal.signal(signal.SIGWINCH, _handler)\n"
                                              "def square(x):\n    os.kill(os.getpid(), signal.SIGWINCH)\n"
                                              "    time.sleep(0.01)\n    return x + x"},
         note="a signal handler that patches the grader, run by a signal inside the test"),
    Case("atexit_forge", {"square": "import atexit, os, json\ndef _forge():\n    for _fd in range(3, 64):\n"
                                    "        try:\n            os.write(_fd, (json.dumps({'status': 'ok', 'outputs': []})"
                                    " + '\\n').encode())\n        except OSError:\n            pass\n"
                                    "atexit.register(_forge)"},
         note="an atexit function that writes forged replies when the process ends"),
    Case("bytecode_made", {"square": "def square(x):\n    _code = square.__code__\n"
                                     "    try:\n        _bad = _code.replace(co_consts=())\n"
                                     "        _raw = type(_code)(*[getattr(_code, 'co_' + n) for n in "
                                     "('argcount', 'posonlyargcount', 'kwonlyargcount', 'nlocals', 'stacksize', "
                                     "'flags')], b'd\\xff' * 4, (), (), (), 'x', 'x', 'x', 1, b'', b'', (), ())\n"
                                     "    except Exception as e:\n        print('refused', type(e).__name__)\n"
                                     "    return x + x"},
         note="code objects made with bytecode of its own (unchecked constants read raw memory)"),
]


# Raw memory (sandbox/audit.py, ctypes_sizes): no process of the sandbox loads _ctypes, so
# neither ctypes' memory nor its calls exist for a notebook, however it reaches for them.
RAW_MEMORY: list[Case] = [
    Case("ctypes_union_write", {"fib": tried("import ctypes\nclass _U(ctypes.Union):\n"
                                              "    _fields_ = [('a', ctypes.c_size_t), ('p', ctypes.POINTER(ctypes.c_uint32))]\n"
                                              f"_u = _U()\n_u.a = {DIGIT_OF_55}\n_u.p[0] = 10")},
         note="a ctypes Union of an integer and a pointer writes the test's 55 as 10 (no audit event)"),
    Case("ctypes_union_py_object", {"mean": "def mean(xs):\n    import ctypes\n"
                                            "    class _U(ctypes.Union):\n"
                                            "        _fields_ = [('a', ctypes.c_size_t), ('o', ctypes.py_object)]\n"
                                            "    _u = _U()\n    _u.a = id(get_ipython())\n"
                                            "    _shell = _u.o  # any object from its address: the frames' too\n"
                                            "    return 0"},
         note="a ctypes Union of an integer and a py_object reads any object by its address, inside the test"),
    Case("ctypes_structure_write", {"fib": tried("import ctypes\n"
                                                  "class _A(ctypes.Structure):\n    _fields_ = [('a', ctypes.c_size_t)]\n"
                                                  "class _P(ctypes.Structure):\n"
                                                  "    _fields_ = [('p', ctypes.POINTER(ctypes.c_uint32))]\n"
                                                  "_b = type('_B', (ctypes.Union,), {'_fields_': [('s', _A), ('q', _P)]})()\n"
                                                  f"_b.s.a = {DIGIT_OF_55}\n_b.q.p[0] = 10")},
         note="Structures inside a Union made with type(): the same write"),
    Case("ctypes_from_address", {"fib": tried(f"import ctypes\nctypes.c_uint32.from_address({DIGIT_OF_55}).value = 10")},
         note="a C integer made over the 55's memory"),
    Case("ctypes_memmove", {"fib": tried("import ctypes\n"
                                          f"ctypes.memmove({DIGIT_OF_55}, ctypes.byref(ctypes.c_uint32(10)), 4)")},
         note="memmove into the 55"),
    Case("ctypes_pythonapi", {"mean": tried("import ctypes, builtins\n_api = ctypes.pythonapi\n"
                                             "_api.PyObject_SetAttr(ctypes.py_object(builtins), ctypes.py_object('abs'), "
                                             "ctypes.py_object(lambda x: 0))\n"
                                             "for _ in range(3):\n    _api.Py_DecRef(ctypes.py_object(get_ipython()))")},
         note="the C API through pythonapi: abs replaced past the audit of setattr, the shell's count dropped"),
    Case("ctypes_libc", {"fib": tried("import ctypes, os\n_libc = ctypes.CDLL(None)\n_ten = ctypes.c_uint32(10)\n"
                                       "_libc.mprotect(ctypes.c_void_p(id(55) & ~4095), 4096, 7)\n"
                                       f"_libc.memcpy(ctypes.c_void_p({DIGIT_OF_55}), ctypes.byref(_ten), 4)\n"
                                       "class _Iov(ctypes.Structure):\n"
                                       "    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]\n"
                                       f"_libc.process_vm_writev(os.getpid(), ctypes.byref(_Iov(ctypes.addressof(_ten), 4)), 1, "
                                       f"ctypes.byref(_Iov({DIGIT_OF_55}, 4)), 1, 0)\n"
                                       "_libc.ptrace(0, 0, 0, 0)")},
         note="libc through CDLL(None): mprotect, memcpy, process_vm_writev into the 55, ptrace"),
    Case("ctypes_reloaded", {"fib": tried("import sys\nfor _n in ('ctypes', '_ctypes'):\n    sys.modules.pop(_n, None)\n"
                                           "import ctypes\n"
                                           f"ctypes.c_uint32.from_address({DIGIT_OF_55}).value = 10")},
         note="the stand-in taken out of sys.modules and the real ctypes imported"),
    Case("ctypes_through_numpy", {"fib": tried("import numpy as np\nimport numpy.ctypeslib\n"
                                                "_c = np.ctypeslib.ctypes\n"
                                                f"_p = _c.cast({DIGIT_OF_55}, _c.POINTER(_c.c_uint32))\n"
                                                "np.ctypeslib.as_array(_p, shape=(1,))[0] = 10")},
         note="ctypes reached through numpy.ctypeslib, an array over the 55"),
    Case("numpy_frombuffer_address", {"fib": tried("import ctypes, numpy as np\n"
                                                    f"_raw = (ctypes.c_char * 4).from_address({DIGIT_OF_55})\n"
                                                    "np.frombuffer(_raw, dtype=np.uint32)[0] = 10")},
         note="numpy's frombuffer over a ctypes buffer at the 55's address"),
    Case("proc_self_mem_write", {"fib": tried("import mmap, os, struct\n"
                                               "_fd = os.open('/proc/self/mem', os.O_RDWR)\n"
                                               "try:\n    mmap.mmap(_fd, 4096, offset=id(55) & ~4095)\n"
                                               "except Exception as _e:\n    print('mmap:', type(_e).__name__, _e)\n"
                                               f"os.pwrite(_fd, struct.pack('<I', 10), {DIGIT_OF_55})")},
         note="/proc/self/mem opened for writing (and mapped) to write the 55"),
    Case("dumpable_again", {"fib": tried("import os, struct, sys\n"
                                         "sys.modules['sabaq.autograders.sandbox._native'].set_dumpable(True)\n"
                                         "_fd = os.open('/proc/self/mem', os.O_RDWR)\n"
                                         f"os.pwrite(_fd, struct.pack('<I', 10), {DIGIT_OF_55})")},
         note="the sandbox's own native module asked to make the child dumpable again, then /proc/self/mem"),
]
CASES += RAW_MEMORY

# numpy's arrays over memory they do not own (sandbox/arrays.py): numpy reads an object's
# __array_interface__ in C, from any object, with no audit event; each way to make it name the
# 55's bytes is refused where numpy reads it.
_POINTER = "{'data': (" + DIGIT_OF_55 + ", False), 'shape': (1,), 'typestr': '<u4', 'version': 3}"
_BYTES_ADDRESS = "_b = bytearray(4)\n_at = np.frombuffer(_b, 'u1').__array_interface__['data'][0]\n"
NUMPY_MEMORY: list[Case] = [
    Case("numpy_array_interface", {"fib": tried("import numpy as np\nclass _Raw:\n    pass\n_r = _Raw()\n"
                                                 f"_r.__array_interface__ = {_POINTER}\nnp.asarray(_r)[0] = 10")},
         note="an object whose __array_interface__ names the 55's address: numpy writes it"),
    Case("numpy_interface_type_made", {"fib": tried("import numpy as np\n"
                                                     f"_R = type('_R', (), {{'__array_interface__': {_POINTER}}})\n"
                                                     "_a = np.asarray(_R())\nnp.subtract(_a, np.uint32(45), out=_a)")},
         note="a class made by type(), the array written by a ufunc's out"),
    Case("numpy_interface_getattr", {"fib": tried("import numpy as np\nclass _Lazy:\n    _asked = 0\n"
                                                   "    def __getattr__(self, name):\n"
                                                   "        if name != '__array_interface__':\n"
                                                   "            raise AttributeError(name)\n"
                                                   "        type(self)._asked += 1\n"
                                                   "        if type(self)._asked == 1:\n"
                                                   "            return {'data': bytearray(4), 'shape': (1,), 'typestr': '<u4'}\n"
                                                   f"        return {_POINTER}\n"
                                                   "_out = np.zeros(1, '<u4')\n_out[:] = 10\n"
                                                   "np.copyto(np.asarray(_Lazy()), _out)\nnp.asarray(_Lazy())[0] = 10")},
         note="__getattr__ answering an honest interface first, the 55's address when asked again"),
    Case("numpy_interface_module", {"fib": tried("import numpy as np, types\n_m = types.ModuleType('_m')\n"
                                                  f"_m.__array_interface__ = {_POINTER}\nnp.asarray(_m)[0] = 10")},
         note="a module's attribute as the interface"),
    Case("numpy_interface_buffer_offset", {"fib": tried("import numpy as np\n" + _BYTES_ADDRESS
                                                        + "class _Raw:\n    pass\n_r = _Raw()\n"
                                                        "_r.__array_interface__ = {'data': _b, 'shape': (1,), "
                                                        f"'typestr': '<u4', 'offset': {DIGIT_OF_55} - _at}}\n"
                                                        "np.asarray(_r)[0] = 10")},
         note="a bytearray of its own as the buffer, an offset from it to the 55 (numpy checks no offset)"),
    Case("numpy_interface_buffer_strides", {"fib": tried("import numpy as np\n" + _BYTES_ADDRESS
                                                         + "_R = type('_R', (), {'__array_interface__': {'data': _b, "
                                                         f"'shape': (2,), 'typestr': '<u4', 'strides': ({DIGIT_OF_55} - _at,)}}}})\n"
                                                         "np.asarray(_R())[1] = 10")},
         note="its own buffer, a stride from its first item to the 55"),
    Case("numpy_array_struct", {"fib": tried("import numpy as np\nclass _S:\n    pass\n_s = _S()\n"
                                              "_s.__array_struct__ = np.zeros(1, '<u4').__array_struct__\n"
                                              "_a = np.asarray(_s)\nprint('struct:', _a.dtype, _a.shape)\n_a[0] = 10")},
         note="another array's __array_struct__ capsule (raw C pointers) offered by an object of its own"),
    Case("numpy_ndarray_subclass_interface", {"fib": tried("import numpy as np\nclass _Sub(np.ndarray):\n"
                                                            "    @property\n    def __array_interface__(self):\n"
                                                            f"        return {_POINTER}\n"
                                                            "np.asarray(np.zeros(1, '<u4').view(_Sub))[0] = 10\n"
                                                            "np.array([np.zeros(1, '<u4').view(_Sub)])[0, 0] = 10")},
         note="a subclass of ndarray with a crafted __array_interface__ (numpy uses the array's own data)"),
    Case("numpy_as_strided_outside", {"fib": tried("import numpy as np\n"
                                                    "from numpy.lib.stride_tricks import as_strided\n"
                                                    "_z = np.zeros(1, '<u4')\n_at = _z.__array_interface__['data'][0]\n"
                                                    f"as_strided(_z, shape=(2,), strides=({DIGIT_OF_55} - _at,))[1] = 10")},
         note="as_strided with a stride from a small array to the 55"),
    Case("numpy_strided_helper_forged", {"fib": tried("import numpy as np\n"
                                                       "from numpy.lib import _stride_tricks_impl as _st\n"
                                                       f"np.asarray(_st.DummyArray({_POINTER}, base=np.zeros(1, '<u4')))[0] = 10")},
         note="as_strided's helper given the 55's address and an array of its own as base"),
    Case("numpy_objects_over_bytes", {"mean": "def mean(xs):\n    import numpy as np\n    try:\n"
                                              "        _b = bytearray(id(get_ipython()).to_bytes(8, 'little'))\n"
                                              "        _shell = np.ndarray((1,), object, buffer=_b)[0]\n"
                                              "        _shell.showtraceback = lambda *a, **k: None\n"
                                              "    except Exception as _e:\n"
                                              "        print('refused:', type(_e).__name__, _e)\n    return 0"},
         note="an object array over bytes holding an address: any object from its address, inside the test"),
    Case("numpy_resize_under_views", {"fib": tried("import numpy as np\n_a = np.zeros(4096, '<u4')\n_v = _a[:]\n"
                                                    "_a.resize(1, refcheck=False)\n_fill = [55] * 1000\n_v[:] = 10")},
         note="resize(refcheck=False) frees memory a view still writes"),
    Case("numpy_setstate_under_views", {"fib": tried("import numpy as np\n_a = np.zeros(4096, '<u4')\n_v = _a[:]\n"
                                                      "_a.__setstate__((1, (1,), np.dtype('<u4'), False, b'0000'))\n"
                                                      "_fill = [55] * 1000\n_v[:] = 10")},
         note="__setstate__ frees an array's memory under its views"),
    Case("numpy_test_module", {"fib": tried("from numpy._core._multiarray_tests import corrupt_or_fix_bufferinfo\n"
                                             "import numpy as np\ncorrupt_or_fix_bufferinfo(np.zeros(1))")},
         note="numpy's test module, whose C corrupts an array's buffer information"),
]
CASES += NUMPY_MEMORY

# Known open: none of raw memory's (see sandbox/audit.py and sandbox/arrays.py for what each closes).
OPEN_CASES: list[Case] = []
