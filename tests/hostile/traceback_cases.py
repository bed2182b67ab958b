"""Hostile notebooks whose code runs while a test cell's error is shown, or that reach the
grader's own caches, closures and recorder (issue 15, item 2). What they aim at: the test
cell's ExecutionResult (``error_in_exec`` is set before the error is shown, and showing it
runs their code) and the shell's recorder (an output limit of -1 drops the error output), so
that a failing test looks passed; or an execute_result of their own before the cell's real
one (nbgrader reads the first). Each attack is appended to a wrong answer (``WRONG``): the
test cells must fail as they fail for the honest twin.
"""

from __future__ import annotations

from hostile import Case

SHELL_MODULE = "sys.modules['sabaq.autograders.sandbox.shell']"

# What the notebook's code does once it runs while a failing test's traceback is shown: the
# cell's result says it raised nothing, and no output fits the recorder any more.
HIDE = ("import sys\n"
        "def _hide():\n"
        "    ip = get_ipython()\n"
        "    try:\n"
        "        ip.displayhook.exec_result.error_in_exec = None\n"
        "    except Exception:\n"
        "        pass\n"
        "    try:\n"
        "        ip.last_execution_succeeded = True\n"
        "    except Exception:\n"
        "        pass\n"
        "    ip.recorder.max_bytes = -1\n"
        "    ip.recorder.current.clear()\n")

CASES: list[Case] = [
    # the shell's caches of pygments styles and formatters (shell._styles, shell._formatters)
    Case("styles_cache_metaclass_hash", {"square": HIDE + "class _Meta(type):\n"
                                                          "    def __hash__(cls):\n        _hide()\n        return 1\n"
                                                          "    def __eq__(cls, other):\n        return True\n"
                                                          "class _Style(metaclass=_Meta):\n    pass\n"
                                                          f"_m = {SHELL_MODULE}\n"
                                                          "for _k in list(_m._styles):\n"
                                                          "    _m._styles[_k] = _Style"},
         note="a style class of its own in the shell's style cache: its metaclass's __hash__ runs as "
              "the formatter cache looks it up, inside the failing test's traceback"),
    Case("formatters_cache_object", {"square": HIDE + "class _Formatter:\n"
                                                      "    encoding = None\n"
                                                      "    class style:\n        for_executing_node = True\n"
                                                      "    def format(self, tokens, out):\n"
                                                      "        _hide()\n        out.write('')\n"
                                                      f"_m = {SHELL_MODULE}\n"
                                                      "for _k in list(_m._formatters):\n"
                                                      "    _m._formatters[_k] = _Formatter()"},
         note="a formatter of its own in the shell's formatter cache, called to colour the test's source"),
    Case("formatter_instance_method", {"square": HIDE + f"_m = {SHELL_MODULE}\n"
                                                        "for _f in list(_m._formatters.values()):\n"
                                                        "    _real = _f.format\n"
                                                        "    def _format(tokens, out, _real=_real):\n"
                                                        "        _hide()\n        return _real(tokens, out)\n"
                                                        "    _f.format = _format"},
         note="the cached formatter's format shadowed on the instance"),
    Case("style_class_metaclass", {"square": HIDE + f"_m = {SHELL_MODULE}\n"
                                                    "for _s in [*_m._formatters, *_m._styles.values()]:\n"
                                                    "    _base = type(_s)\n"
                                                    "    class _Meta(_base):\n"
                                                    "        def __getattribute__(cls, name):\n"
                                                    "            _hide()\n"
                                                    "            return _base.__getattribute__(cls, name)\n"
                                                    "    try:\n        _s.__class__ = _Meta\n"
                                                    "    except TypeError as _e:\n        print('refused:', _e)"},
         note="the cached style classes given a metaclass whose __getattribute__ hides"),
    Case("style_class_attribute", {"square": HIDE + "class _Hidden:\n"
                                                    "    def __get__(self, obj, cls=None):\n"
                                                    "        _hide()\n        return True\n"
                                                    f"_m = {SHELL_MODULE}\n"
                                                    "for _s in [*_m._formatters, *_m._styles.values()]:\n"
                                                    "    _s.for_executing_node = _Hidden()"},
         note="a descriptor of its own on the cached style classes, read as the test's source is coloured"),
    # the exception the answer raises
    Case("exception_str_hides", {"square": HIDE + "class _E(Exception):\n"
                                                  "    def __str__(self):\n        _hide()\n        return ''\n"
                                                  "def square(x):\n    raise _E()"},
         note="an exception whose __str__ (read as the error is shown) hides the error"),
    Case("exception_metaclass_name", {"square": HIDE + "class _M(type):\n"
                                                       "    @property\n"
                                                       "    def __name__(cls):\n        _hide()\n"
                                                       "        return 'ValueError'\n"
                                                       "class _E(Exception, metaclass=_M):\n    pass\n"
                                                       "def square(x):\n    raise _E('no')"},
         note="an exception class whose __name__ (read as the error is shown) hides the error"),
    Case("exception_chained_repr", {"square": HIDE + "class _Inner(Exception):\n"
                                                     "    def __str__(self):\n        _hide()\n        return 'x'\n"
                                                     "def square(x):\n"
                                                     "    try:\n        raise _Inner()\n"
                                                     "    except _Inner as inner:\n"
                                                     "        raise ValueError('outer') from inner"},
         note="the hiding exception as the cause of the one the test sees"),
    # the grader's closures
    Case("grader_closure_run_code", {"square": "async def _nothing(*a, **k):\n    return False\n"
                                               "for _c in type(get_ipython()).run_code.__closure__ or ():\n"
                                               "    if callable(_c.cell_contents):\n"
                                               "        _c.cell_contents = _nothing"},
         note="the closure of the run_code every test cell runs through rebound: the test runs nothing"),
    Case("traceback_formatter_closure", {"square": HIDE + "def _nothing(*a, **k):\n    _hide()\n    return []\n"
                                                          "_st = get_ipython().InteractiveTB.structured_traceback\n"
                                                          "for _c in _st.__closure__ or ():\n"
                                                          "    if callable(_c.cell_contents) and not isinstance("
                                                          "_c.cell_contents, type):\n"
                                                          "        _c.cell_contents = _nothing"},
         note="the closure of the shell's traceback formatter rebound to a function that hides"),
    Case("recorder_closure_taken", {"mean": "import sys\n"
                                            "_m = sys.modules['sabaq.autograders.sandbox.comparisons']\n"
                                            "for _f in (_m._take_recorded, _m.take_recorded, _m._record):\n"
                                            "    for _c in _f.__closure__ or ():\n"
                                            "        if callable(_c.cell_contents) and getattr(_c.cell_contents, "
                                            "'__name__', '') == 'send':\n"
                                            "            _c.cell_contents = lambda message: (True, 3)"},
         note="the value recorder's closure rebound to report a full score"),
    Case("grader_defaults", {"square": "import sys\n"
                                       "_m = sys.modules['sabaq.autograders.sandbox.shell']\n"
                                       "try:\n    _m.Recorder.__init__.__defaults__ = (-1,)\n"
                                       "except Exception as _e:\n    print('refused:', type(_e).__name__)\n"
                                       "_m.prune_traceback.__defaults__ = (0,)"},
         note="the defaults of the grader's functions replaced"),
    # the recorder, from the answer the test calls
    Case("recorder_limit_in_test", {"square": "def square(x):\n    get_ipython().recorder.max_bytes = -1\n"
                                              "    return x + x"},
         note="the recorder's output limit set to -1 by the answer as the test calls it"),
    Case("recorder_lock_in_test", {"square": HIDE + "class _Lock:\n"
                                                    "    def __enter__(self):\n        _hide()\n"
                                                    "    def __exit__(self, *a):\n        return False\n"
                                                    "def square(x):\n    get_ipython().recorder.lock = _Lock()\n"
                                                    "    return x + x"},
         note="the recorder's lock replaced: its __enter__ runs as the test's error is recorded"),
    Case("recorder_fake_result", {"square": "def square(x):\n"
                                            "    get_ipython().recorder.add({'output_type': 'execute_result', "
                                            "'execution_count': 1, 'data': {'text/plain': '2'}, 'metadata': {}})\n"
                                            "    return x + x",
                                  "mean": "def mean(xs):\n"
                                          "    get_ipython().recorder.add({'output_type': 'execute_result', "
                                          "'execution_count': 1, 'data': {'text/plain': '3'}, 'metadata': {}})\n"
                                          "    return 0"},
         note="an execute_result of its own put before the test's error or value (nbgrader reads the first)"),
    Case("displayhook_in_test", {"square": "import sys\ndef square(x):\n    sys.displayhook(2)\n    return x + x",
                                 "mean": "import sys\ndef mean(xs):\n    sys.displayhook(3)\n    return 0"},
         note="sys.displayhook called by the answer inside the test: an execute_result before the test's own"),
    Case("display_pub_result", {"mean": "def mean(xs):\n"
                                        "    get_ipython().displayhook.write_format_data({'text/plain': '3'})\n"
                                        "    get_ipython().displayhook.finish_displayhook()\n"
                                        "    return 0"},
         note="the display hook's parts called by hand inside the test"),
    # threads get the GIL while the traceback's files are read
    Case("thread_during_traceback", {"square": "import threading, time\n"
                                               "def _spin():\n"
                                               "    ip = get_ipython()\n"
                                               "    for _ in range(20000):\n"
                                               "        r = getattr(ip.displayhook, 'exec_result', None)\n"
                                               "        if r is not None and r.error_in_exec is not None:\n"
                                               "            r.error_in_exec = None\n"
                                               "            ip.recorder.max_bytes = -1\n"
                                               "        time.sleep(0.0005)\n"
                                               "threading.Thread(target=_spin, daemon=True).start()"},
         note="a thread that waits for the test's error and resets it whenever it gets the GIL"),
    # IPython's and stack_data's tables the formatting reads
    Case("theme_table_entry", {"square": HIDE + "from IPython.utils import PyColorize\n"
                                                "class _Theme:\n"
                                                "    def __init__(self, real):\n        self._real = real\n"
                                                "    def __getattr__(self, name):\n"
                                                "        _hide()\n        return getattr(self._real, name)\n"
                                                "for _k, _t in list(dict.items(PyColorize.theme_table)):\n"
                                                "    try:\n"
                                                "        dict.__setitem__(PyColorize.theme_table, _k, _Theme(_t))\n"
                                                "    except Exception as _e:\n"
                                                "        print('refused:', type(_e).__name__)"},
         note="IPython's theme table (read-only to item assignment) written through dict.__setitem__"),
    Case("stack_data_options", {"square": HIDE + "import stack_data\n"
                                                 "_real = stack_data.Options.__init__\n"
                                                 "def _init(self, *a, **k):\n    _hide()\n"
                                                 "    _real(self, *a, **k)\n"
                                                 "stack_data.Options.__init__ = _init"},
         note="stack_data's Options, made for each traceback, patched"),
]

# The grader's own objects' state: which types a test trusts to compare honestly (comparisons.KINDS)
_ANY = ("class _Any:\n    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n    __hash__ = object.__hash__\n")
CASES += [
    Case("kinds_trust_extended", {"square": _ANY + "import sys\n"
                                                   "for _n in ('sabaq.autograders.sandbox.comparisons', "
                                                   "'sabaq.autograders.sandbox.pristine'):\n"
                                                   "    _k = sys.modules[_n].KINDS\n"
                                                   "    for _name in ('numbers', 'leaves', 'reals', 'arrays'):\n"
                                                   "        try:\n"
                                                   "            getattr(_k, _name).add(_Any)\n"
                                                   "        except Exception as _e:\n"
                                                   "            print('refused:', type(_e).__name__)\n"
                                                   "def square(x):\n    return _Any()"},
         note="an always-equal class of its own added to the types the comparisons trust"),
    Case("kinds_rebound", {"square": _ANY + "import sys\n"
                                            "_k = sys.modules['sabaq.autograders.sandbox.comparisons'].KINDS\n"
                                            "try:\n"
                                            "    _k.numbers = {*_k.numbers, _Any}\n    _k.leaves = {*_k.leaves, _Any}\n"
                                            "except Exception as _e:\n    print('refused:', type(_e).__name__)\n"
                                            "def square(x):\n    return _Any()"},
         note="the trusted types' sets replaced on the grader's object"),
]

# What decides that a test raised, replaced while the test runs (the grader's own names)
CASES += [
    Case("failure_flag_replaced", {"square": HIDE + "import sys\n"
                                                    "_i = sys.modules['sabaq.autograders.sandbox.integrity']\n"
                                                    "_c = sys.modules['sabaq.autograders.sandbox.comparisons']\n"
                                                    "class _E(Exception):\n"
                                                    "    def __str__(self):\n"
                                                    "        _hide()\n"
                                                    "        _i.take_failed = lambda token: False\n"
                                                    "        _c.take_failed = lambda token: False\n"
                                                    "        return ''\n"
                                                    "def square(x):\n    raise _E()"},
         note="the function that tells whether the test raised replaced as its error is shown"),
    Case("failure_flag_closure", {"square": HIDE + "import sys\n"
                                                   "_c = sys.modules['sabaq.autograders.sandbox.comparisons']\n"
                                                   "_cells = [*(_c.take_failed.__closure__ or ()), "
                                                   "*(_c._failed.__closure__ or ())]\n"
                                                   "class _E(Exception):\n"
                                                   "    def __str__(self):\n"
                                                   "        _hide()\n"
                                                   "        for _cell in _cells:\n"
                                                   "            _cell.cell_contents = lambda message: False\n"
                                                   "        return ''\n"
                                                   "def square(x):\n    raise _E()"},
         note="the failure flag's closure (its generator's send) rebound as the error is shown"),
]
