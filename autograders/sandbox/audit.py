"""An audit hook for the grading child: what only an attack needs is refused (issue 15).

No lesson walks the garbage collector's objects, reads another thread's frames, traces or
profiles the grader, adds audit hooks, writes raw memory through ctypes or rewrites a
library function's code: an answer that tries gets a RuntimeError in its own traceback.

Frames, too: the grading loop, IPython and the test cell run in the same thread as the
notebook's code, one frame below the other, and ``f_back`` leads from any frame to all
the older ones (the loop's nonce and the pristine snapshot, a test cell's variables). So
notebook code gets no frame at all: ``sys._getframe``, a traceback's, a generator's or a
coroutine's frame are refused whenever code the notebook defined is on
the stack, unless the one asking is library code called by library code (sympy's
dispatch, pandas' warnings) or known to keep the frame to itself (``frame_takers``:
namedtuple, typing, IPython's magics, the grader's recorder), asking for no frame older
than the notebook's own. Notebook code is code from a file outside
the installed libraries (cells, the student's modules, ``exec``); it cannot pass for
library code: compiling or making code with a library's file name, loading code from
marshal data or from a ``.pyc`` outside the libraries are refused where notebook code runs.

Raw memory. ``/proc/self/mem`` is closed outside this hook: as root each child is not
dumpable (``zygote.child_main``), so its /proc files are root's and neither it nor another
process of its uid (a new program, dumpable again) can open its memory; without root (one
uid, no capability to read an undumpable child's memory use) it stays open. Code objects
of the notebook's own making are refused (CPython does not check bytecode: an out-of-range
constant reads any address), and so are native modules from files outside the installed
libraries (one the notebook compiled or copied; ``_ctypes`` under any package's name).
ctypes itself cannot be closed by auditing once ``_ctypes`` is loaded: its classes are
reachable (``object.__subclasses__``) and a Union of an integer with a pointer or a
``py_object`` reads and writes any address with no audit event (the refused events below
stop only the obvious ways). So no process of the sandbox loads it: the zygote makes
``ctypes_sizes`` its ``ctypes`` before anything is imported (the C types' sizes, no memory:
what sympy imports), its own kernel calls and the reads that keep the GIL go through the
sandbox's native module (``_native``, which takes and gives no address), ``pristine`` reads
dict version tags there too, and importing the real ``ctypes`` or ``_ctypes`` is refused
here. numpy's array interface (an object whose ``__array_interface__`` names an address
becomes an array over it, no audit event) is checked in C where numpy reads it
(``arrays``); numpy's test modules, whose C corrupts arrays on purpose, are refused here.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import types

from sabaq.i18n import N_

# Audit events no lesson needs and an attack does: reading every object of the process
# (the grader's own), raw memory and native calls, tracing and profiling hooks (they run
# the student's code inside a test cell's lines), and more audit hooks.
REFUSED_EVENTS = frozenset({
    "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames",
    "sys.settrace", "sys.setprofile", "sys.addaudithook",
    "ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.cdata", "ctypes.cdata/buffer",
    "ctypes.addressof", "ctypes.PyObj_FromPtr", "ctypes.call_function", "ctypes.seh_exception",
})
# Modules refused on import (by their last name, which picks a native module's entry point):
# native memory access. A native module from a file outside the installed libraries (one the
# notebook compiled, or a copy of one of these) is refused too. ctypes cannot be audited once loaded
# (a Union's fields, ``c_char_p`` from an address and pointers raise no event), so the zygote
# keeps it out (``ctypes_sizes``): importing the real one is refused here.
REFUSED_IMPORTS = frozenset({"ctypes", "_ctypes", "cffi", "_cffi_backend",
                             # numpy's test modules: their C corrupts arrays' memory on purpose
                             "_multiarray_tests", "_umath_tests", "_rational_tests", "_struct_ufunc_tests",
                             "_operand_flag_tests"})
# What hands a frame out: the events, and the attributes read through ``object.__getattr__``
# (a frame's ``f_code`` is audited too, but only who holds a frame can read it: traceback
# formatting reads it a thousand times a failing cell)
FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
# shown in the cell's traceback, in English like Python's own errors there
REFUSED_MESSAGE = N_("{event} is not available while a notebook is graded: it could change how other cells are "
                     "graded. Remove it from your answer and run the notebook again.")


class FrameRefused(RuntimeError, ValueError):
    """A frame refused to notebook code. Also a ValueError, as ``sys._getframe`` raises on
    a stack too short: libraries that ask for a caller's module name carry on without it."""


def library_roots() -> tuple[str, ...]:
    """The folders of installed code (the standard library, site-packages, sabaq's packages)
    and the grader's own program: code from files here is the libraries'; a notebook cannot
    write into them."""
    paths = sysconfig.get_paths()
    roots = {os.path.join(os.path.normpath(paths[k]), "") for k in ("stdlib", "platstdlib", "purelib", "platlib")
             if paths.get(k)}
    for name in ("sabaq", "sabaq.autograders"):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            roots.add(os.path.join(os.path.dirname(os.path.abspath(module.__file__)), ""))
    program = sys.argv[0] if sys.argv else ""
    if program.endswith(".py") and os.path.isfile(program):  # the grader's script, not a folder of it
        roots.add(os.path.abspath(program))
    return tuple(sorted(roots))


def frame_takers() -> dict:
    """The code of library functions that ask for a frame and keep it to themselves (a
    caller's module name, a magic's local names), whatever of them is loaded: code -> the
    code that must call it (None: any). Not traceback's walkers: they hand frames to their
    caller, and a summary of the whole stack with its locals would show the grader's."""
    import collections
    import typing

    takers: dict = {}

    def add(function, *callers):
        code = getattr(function, "__code__", None)
        if isinstance(code, types.CodeType):
            takers[code] = frozenset(callers) if callers else None

    add(collections.namedtuple)
    add(typing._caller)
    interactive = sys.modules.get("IPython.core.interactiveshell")
    if interactive is not None:
        add(interactive.InteractiveShell.get_local_scope)
        add(interactive.InteractiveShell.var_expand)
    api = sys.modules.get("matplotlib._api")
    if api is not None and hasattr(api, "warn_external"):
        add(api.warn_external)
    return takers


def install_audit_guard(user_ns: dict | None = None, takers: frozenset = frozenset(),
                        roots: tuple[str, ...] | None = None) -> None:
    """Refuse, for the rest of this process, what only an attack needs (an audit hook cannot
    be removed). Also refused: replacing the code or defaults of a function that was not
    defined in the notebook (``user_ns``: the notebook's namespace, IPython's by default)
    and the bases of a class that was not, and frames to notebook code (see the module's
    text; ``takers``: the code of more functions that may take one, the grader's own). The
    refusal is a RuntimeError whose message shows in the cell's traceback. ``roots``:
    ``library_roots()`` found before (the zygote finds them once: in each freshly forked
    child, sysconfig's work took half a millisecond, most of it copy-on-write page faults)."""
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
    frame_attributes = FRAME_ATTRIBUTES
    roots = library_roots() if roots is None else tuple(roots)
    takers = {**frame_takers(), **dict.fromkeys(takers)}
    import _thread
    import importlib._bootstrap as bootstrap
    import importlib._bootstrap_external as external

    compilers = frozenset({external.SourceLoader.source_to_code.__code__})  # importlib compiling a library's source
    trampoline = bootstrap._call_with_frames_removed.__code__
    unmarshal = external._compile_bytecode.__code__  # importlib loading a library's .pyc
    getframe, get_ident, normpath, frame_type = sys._getframe, _thread.get_ident, os.path.normpath, types.FrameType
    code_of = frame_type.f_code.__get__
    back_of = frame_type.f_back.__get__
    walking = [None]  # the thread walking its stack (its own frame events pass)
    # The frames under this call (the grading loop's): below every later event's code, and
    # the grader's; a walk stops at them (kept, so that their ids stay theirs)
    grader_frames = []
    frame = sys._getframe(1)
    while frame is not None:
        grader_frames.append(frame)
        frame = frame.f_back
    below = frozenset(map(id, grader_frames))

    known: dict = {}  # file name -> whether it is a library's (file names are strings: no id reused)
    # A frame of library code (not a generator's or coroutine's) whose stack down to the grader's
    # frames held no notebook code when last walked: while it runs, what is below it cannot
    # change (its callers wait for it; a frame that returned runs no more, and held here its id
    # is not reused), so a walk that reaches it stops there. Formatting a deep traceback reads
    # each entry's frame a few times, and each read walked the whole stack again (a recursion
    # error's traceback: ~30 ms). Let go when code is executed (each cell's, see ``guard``).
    clean = [None]
    resumable = 0x20 | 0x80 | 0x200  # CO_GENERATOR, CO_COROUTINE, CO_ASYNC_GENERATOR

    def library_name(name) -> bool:
        if _type(name) is not _str:
            return False
        found = known.get(name)
        if found is None:
            found = known[name] = name.startswith(roots) or name.startswith("<frozen ")
        return found

    def stack(target=None):
        """(the code that raised the event, the code that called it, whether code of the
        notebook is on the stack, whether ``target`` (a frame) is no older than the oldest
        such code, whether the first two are both library code). Frame events of this thread
        pass meanwhile."""
        walking[0] = get_ident()
        try:
            asker = frame = getframe(3)  # 0 stack, 1 check, 2 guard, 3 who raised the event
            oldest = None
            known_clean = clean[0]
            while frame is not None and id(frame) not in below and frame is not known_clean:
                if not library_name(code_of(frame).co_filename):
                    oldest = frame
                frame = back_of(frame)
            caller = back_of(asker)
            if oldest is None and caller is not None and not code_of(caller).co_flags & resumable:
                clean[0] = caller  # the asker's caller and all below: library code
            newer = False
            if target is not None and oldest is not None:
                while target is not None and not newer:
                    newer = target is oldest
                    target = back_of(target)
            asker_code = code_of(asker)
            caller_code = code_of(caller) if caller is not None else None
            libraries = library_name(asker_code.co_filename) and caller_code is not None \
                and library_name(caller_code.co_filename)
            return asker_code, caller_code, oldest is not None, newer, libraries
        finally:
            walking[0] = None

    def asked_by_notebook() -> bool:
        """Whether the code that raised the event is the notebook's (not a library setting
        up what it just made, as namedtuple sets its ``__new__``'s defaults)."""
        walking[0] = get_ident()
        try:
            return not library_name(code_of(getframe(2)).co_filename)  # 0 this, 1 guard, 2 who raised it
        finally:
            walking[0] = None

    def check(event, args):
        """The frame rules (see the module's text); raises when refused."""
        if event == "sys._getframe" or (event == "object.__getattr__" and len(args) >= 2
                                        and args[1] in frame_attributes):
            target = args[0] if event == "sys._getframe" else None
            asker, caller, notebook, newer, libraries = stack(target if _type(target) is frame_type else None)
            if not notebook:
                return
            if newer or target is None:
                if libraries:  # library code called by library code (sympy's dispatch, pandas' warnings)
                    return
                if asker in takers and (takers[asker] is None or caller in takers[asker]):
                    return
            what = "sys._getframe" if event == "sys._getframe" else f"reading {args[1]}"
            raise FrameRefused(message.format(event=what))
        if event == "compile" or event == "code.__new__":
            if len(args) >= 2 and library_name(normpath(args[1]) if _type(args[1]) is _str else args[1]):
                asker, caller, notebook, _, _ = stack()
                if notebook and not (asker in compilers or (asker is trampoline and caller in compilers)):
                    raise RuntimeError(message.format(event="code with a library's file name"))
            if event == "code.__new__" and stack()[2]:
                # bytecode of the notebook's own making (CodeType, code.replace): CPython does
                # not check it, and an out-of-range constant or local reads raw memory
                raise RuntimeError(message.format(event="making a code object"))
        elif event == "marshal.loads" or event == "marshal.load":
            asker, _, notebook, _, _ = stack()
            if notebook and asker is not unmarshal:
                raise RuntimeError(message.format(event=event))
        elif event == "open" and args:
            path = args[0]
            if _type(path) is bytes:
                path = os.fsdecode(path)
            if _type(path) is _str and path.endswith(".pyc") and not library_name(normpath(os.path.abspath(path))) \
                    and stack()[2]:
                raise PermissionError(message.format(event="compiled code from outside the libraries"))

    def guard(event, args):
        if walking[0] is not None and walking[0] == get_ident():
            return
        if event == "exec":  # a cell's code starts: the last walk's frame is let go (and what it holds)
            clean[0] = None
        if event in refused:
            raise RuntimeError(message.format(event=event))
        if event == "import" and args:
            if _type(args[0]) is _str and args[0].rpartition(".")[2] in refused_imports:  # also as a.b._ctypes
                raise RuntimeError(message.format(event=f"import {args[0]}"))
            if len(args) > 1 and (_type(args[1]) is _str or _type(args[1]) is bytes) and not library_name(
                    normpath(os.path.abspath(os.fsdecode(args[1])))):
                raise RuntimeError(message.format(event="native code from outside the libraries"))
        if (event == "object.__setattr__" or event == "object.__delattr__") and len(args) >= 2 \
                and _type(args[1]) is _str:
            target, name = args[0], args[1]
            if name in protected and _type(target) is function_type and globals_of(target) is not notebook \
                    and asked_by_notebook():
                raise RuntimeError(message.format(event=f"changing {name} of a library function"))
            if name == "__bases__" and isinstance(target, type) and module_of(target) != "__main__" \
                    and asked_by_notebook():
                raise RuntimeError(message.format(event="changing the bases of a library class"))
            return
        check(event, args)

    sys.addaudithook(guard)
