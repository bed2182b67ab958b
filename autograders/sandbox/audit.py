"""An audit hook for the grading child: what only an attack needs is refused (issue 15).

No lesson walks the garbage collector's objects, reads another thread's frames, traces or
profiles the grader, adds audit hooks, writes raw memory through ctypes or rewrites a
library function's code: an answer that tries gets a RuntimeError in its own traceback.
"""

from __future__ import annotations

import sys
import types

from sabaq.i18n import N_

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


