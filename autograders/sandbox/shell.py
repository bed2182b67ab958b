"""Running a notebook's cells the way ipykernel does, inside one process.

A grading child is forked from a warm process (see ``zygote``), so starting a
kernel costs nothing; this module makes the child's IPython shell produce the
outputs ipykernel and nbclient would record: stream outputs (also for output
written to file descriptors 1 and 2 by subprocesses), display data with
display ids and clear_output, execute results, errors with IPython's
tracebacks, and ``input()`` refused as a kernel without stdin refuses it. The
loop that runs cells one at a time (with nbgrader's per-cell timeout) is
``child``'s.
"""

from __future__ import annotations

import _thread
import array
import ast
import functools
import inspect
import io
import operator
import os
import re
import sys
import threading
import types

import stack_data
from IPython.core import ultratb
from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.error import StdinNotImplementedError
from IPython.core.inputtransformer2 import EscapedCommand, HelpEnd, MagicAssign, SystemAssign, TransformerManager
from IPython.core.interactiveshell import InteractiveShell
from pygments.formatters import terminal256
from traitlets import Instance

from sabaq.autograders.sandbox._native import dict_versions

# nbgrader's Execute.error_on_timeout, recorded after an interrupted cell.
TIMEOUT_ERROR = {
    "output_type": "error",
    "ename": "CellTimeoutError",
    "evalue": "",
    "traceback": ["\x1b[0;31mCellTimeoutError\x1b[0m: No reply from kernel before timeout"],
}
NO_STDIN = "raw_input was called, but this frontend does not support input requests."


class Recorder:
    """The outputs of the cell being run, in nbformat's shape.

    Only the current cell's: the zygote keeps every cell's outputs (a later cell must not
    read an earlier test cell's error text here). Updates of a display id shown by an
    earlier cell are collected for the zygote to apply."""

    def __init__(self, max_bytes: int):
        self.current: list[dict] = []
        self.index = -1
        self.display_ids: dict[str, list[int]] = {}  # display id -> positions in the current cell
        self.updates: list[list] = []  # [display_id, data, metadata], in order
        self.result: dict | None = None  # the current cell's execute_result, even if cleared since
        self.clear_pending = False
        self.max_bytes = max_bytes
        self.bytes = 0
        self.truncated = False
        self.lock = threading.RLock()

    def begin(self, index: int) -> None:
        with self.lock:
            self.index = index
            self.current = []
            self.display_ids = {}
            self.updates = []
            self.result = None
            self.clear_pending = False

    def shown(self) -> list[list]:
        """[position, display id] of the current cell's outputs that have one."""
        return [[position, display_id] for display_id, positions in self.display_ids.items()
                for position in positions]

    def _room(self, size: int) -> bool:
        if self.bytes + size > self.max_bytes:
            self.truncated = True
            return False
        self.bytes += size
        return True

    def add(self, output: dict, display_id: str | None = None) -> None:
        with self.lock:
            if self.clear_pending:
                self._clear_now()
            if not self._room(len(repr(output))):
                return
            if display_id:
                self.display_ids.setdefault(display_id, []).append(len(self.current))
            self.current.append(output)

    def add_first(self, output: dict) -> None:
        """An output before the cell's others (nbgrader grades a test cell by its first error
        or execute_result: an error after a partial score would not count)."""
        with self.lock:
            self.current.insert(0, output)
            for positions in self.display_ids.values():
                positions[:] = [p + 1 for p in positions]

    def stream(self, name: str, text: str) -> None:
        with self.lock:
            if self.clear_pending:
                self._clear_now()
            if not self._room(len(text.encode("utf-8", "replace"))):
                text = "\n... output truncated: the output limit was reached ...\n"
                if any(o.get("text", "").endswith(text) for o in self.current if o["output_type"] == "stream"):
                    return
            self.current.append({"output_type": "stream", "name": name, "text": text})

    def update(self, display_id: str, data: dict, metadata: dict) -> None:
        with self.lock:
            for position in self.display_ids.get(display_id, []):
                if position < len(self.current):
                    self.current[position]["data"] = data
                    self.current[position]["metadata"] = metadata
            self.updates.append([display_id, data, metadata])

    def clear(self, wait: bool) -> None:
        with self.lock:
            if wait:
                self.clear_pending = True
            else:
                self._clear_now()

    def _clear_now(self) -> None:
        self.current.clear()
        self.display_ids.clear()
        self.clear_pending = False


class CapturedStream(io.TextIOBase):
    """sys.stdout / sys.stderr: text collects until the next flush, as in ipykernel."""

    def __init__(self, name: str, recorder: Recorder, fd: int):
        super().__init__()
        self.name = name
        self.recorder = recorder
        self._fd = fd
        self._buffer: list[str] = []
        self._lock = threading.RLock()

    encoding = "utf-8"
    errors = "replace"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd

    def write(self, text) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._lock:
            self._buffer.append(text)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            text = "".join(self._buffer)
            self._buffer.clear()
        if text:
            self.recorder.stream(self.name, text)


class FdCapture:
    """Output written straight to file descriptors 1 and 2 (subprocesses, C code)
    goes into the cell's streams, as ipykernel's fd capture does."""

    def __init__(self, streams: dict[int, CapturedStream]):
        self.streams = streams
        self.read = os.read  # the grading child reads without letting go of the GIL (see ``child``)
        self.readers = {}
        for fd, stream in streams.items():
            r, w = os.pipe()
            os.dup2(w, fd)
            os.close(w)
            os.set_blocking(r, False)
            self.readers[fd] = r
        # a bare thread: starting a threading.Thread (its bookkeeping, the handshake with the
        # new thread) took 0.5 ms more in each freshly forked grading child, most of it
        # copy-on-write page faults; nothing waits for, joins or lists this one
        _thread.start_new_thread(self._pump, ())

    def _pump(self) -> None:
        import select

        while True:
            ready, _, _ = select.select(list(self.readers.values()), [], [], 0.05)
            for fd, r in self.readers.items():
                if r in ready:
                    self._read(fd, r)

    def _read(self, fd: int, r: int) -> None:
        chunks = []
        while True:
            try:
                chunk = self.read(r, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        if chunks:
            self.streams[fd].write(b"".join(chunks).decode("utf-8", "replace"))

    def drain(self) -> None:
        for fd, r in self.readers.items():
            self._read(fd, r)


class RecordingDisplayHook(DisplayHook):
    """execute_result outputs, sent after the streams are flushed."""

    def start_displayhook(self):
        self.data, self.metadata = {}, {}

    def write_output_prompt(self):
        pass

    def write_format_data(self, format_dict, md_dict=None):
        self.data, self.metadata = format_dict, md_dict or {}

    def finish_displayhook(self):
        sys.stdout.flush()
        sys.stderr.flush()
        if self.data:
            output = {
                "output_type": "execute_result",
                "execution_count": self.prompt_count,
                "data": self.data,
                "metadata": self.metadata,
            }
            self.shell.recorder.result = output
            self.shell.recorder.add(output)


class RecordingDisplayPublisher(DisplayPublisher):
    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
        sys.stdout.flush()
        sys.stderr.flush()
        display_id = (transient or {}).get("display_id")
        if update and display_id:
            self.shell.recorder.update(display_id, data, metadata or {})
            return
        self.shell.recorder.add(
            {"output_type": "display_data", "data": data, "metadata": metadata or {}}, display_id
        )

    def clear_output(self, wait=False):
        sys.stdout.flush()
        sys.stderr.flush()
        self.shell.recorder.clear(wait)


def prune_traceback(stb: list[str], keep: int | None) -> list[str]:
    """The first and last `keep` entries of a traceback longer than twice that."""
    if keep and len(stb) > 2 * keep:
        return stb[:keep] + stb[-keep:]
    return stb


# What IPython's token transformers look for (``%magic``, ``!cmd``, ``a = %magic``, ``a = !cmd``,
# ``name?``, ``/f a``, ``,f a``, ``;f a``): a cell without any of these comes out of them as it
# went in. Read loosely (anywhere in the text, strings and comments too): a cell that might
# hold one is tokenized as IPython does. Other line ends (``\r``, ``\f``...) are tokenized too.
_TOKEN_ESCAPES = re.compile(r"(?m)^[ \t]*[!%,;/?]|=[\s\\]*[!%]|\?|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_TOKEN_TRANSFORMERS = (MagicAssign, SystemAssign, EscapedCommand, HelpEnd)  # IPython's, in its order


class QuickTransformerManager(TransformerManager):
    """IPython's input transformations, without tokenizing a cell none of whose text its token
    transformers could change: IPython tokenizes each cell in pure Python to look for its
    special syntax (0.1-0.3 ms a cell, and the tokenizer's pages copied in each fresh fork).
    The cleanup and line transforms run as IPython runs them; a cell that might hold special
    syntax or is not Python, or a manager whose token transformers are not IPython's own,
    gets IPython's tokenizing."""

    def do_token_transforms(self, lines):
        transformers = self.token_transformers
        if (type(transformers) is list and len(transformers) == len(_TOKEN_TRANSFORMERS)
                and all(map(operator.is_, transformers, _TOKEN_TRANSFORMERS))
                and all(type(line) is str for line in lines)):
            text = "".join(lines)
            if _TOKEN_ESCAPES.search(text) is None and _parses(text):
                return lines
        return super().do_token_transforms(lines)


def _parses(text: str) -> bool:
    """Whether the text is Python (CPython's own parser, in C: half the time Python's
    tokenize takes). Only then is it known that tokenizing it would raise nothing: on a line
    that dedents to no outer level IPython's tokenizing raises, and the cell's error is that."""
    try:
        compile(text, "<cell>", "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except Exception:  # noqa: BLE001 - a syntax error, a null byte, too deep: IPython's way
        return False
    return True


class GradingShell(InteractiveShell):
    """IPython's shell with ipykernel's output behaviour, recording into a Recorder."""

    displayhook_class = RecordingDisplayHook
    display_pub_class = RecordingDisplayPublisher
    input_transformer_manager = Instance(QuickTransformerManager, ())
    system = InteractiveShell.system_piped
    recorder: Recorder
    keep_traceback: int | None = None  # entries kept at each end of a long traceback (see engine)

    def init_io(self):  # keep the real sys.stdout until a cell runs
        pass

    _shown: tuple = (None, None)  # the error last shown and its traceback, whole

    def _showtraceback(self, etype, evalue, stb):
        self._shown = (evalue, stb)
        sys.stdout.flush()
        sys.stderr.flush()
        stb = prune_traceback(stb, self.keep_traceback)
        self.recorder.add({
            "output_type": "error",
            "ename": str(etype.__name__),
            "evalue": str(evalue),
            "traceback": stb,
        })

    def _format_exception_for_storage(self, exception, filename=None, running_compiled_code=False):
        """The history keeps each error of a cell, formatted again as showtraceback just
        formatted it (same formatter, same offset); the text shown is kept instead, since
        formatting a traceback is most of a failing cell's time. A syntax error (formatted
        with the cell's file name when shown) goes to IPython, as does anything not shown."""
        shown, stb = self._shown
        self._shown = (None, None)  # holds no frames past the cell
        if shown is exception and not isinstance(exception, SyntaxError):
            return {"ename": type(exception).__name__, "evalue": str(exception), "traceback": stb}
        return super()._format_exception_for_storage(exception, filename, running_compiled_code)

    def enable_gui(self, gui=None):
        pass


def make_shell() -> GradingShell:
    """A shell configured like nbgrader's kernels (history in memory)."""
    from traitlets.config import Config

    try:  # the file names tracebacks show, as in ipykernel
        from ipykernel.compiler import XCachingCompiler

        GradingShell.compiler_class = XCachingCompiler
    except ImportError:  # pragma: no cover
        pass
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    config.InteractiveShell.xmode = "Context"
    shell = GradingShell.instance(config=config)
    if not hasattr(shell.InteractiveTB.structured_traceback, "__wrapped__"):  # one shell per process
        shell.InteractiveTB.structured_traceback = _each_frame_once(
            shell.InteractiveTB, _without_the_test_wrapper(shell.InteractiveTB.structured_traceback))
    warm_up_cells(shell)
    return shell


# comparisons._run_test and _run_awaited: a bound test cell's body runs in one of them
TEST_RUNNERS = frozenset({"_run_test.<locals>.run", "_run_awaited"})


def _without_the_test_wrapper(format_traceback):
    """A bound test cell runs as a function its cell calls through ``_run_test``
    (comparisons.py): its traceback would show the cell's first line calling it and a hidden
    frame. Those two entries are left out, so a failing test's traceback is the one nbgrader
    shows (the cell, its failing line)."""

    @functools.wraps(format_traceback)
    def formatted(etype, evalue, etb, *args, **kwargs):
        entries = []
        entry = etb if isinstance(etb, types.TracebackType) else None
        while entry is not None:
            entries.append(entry)
            entry = entry.tb_next
        for i, entry in enumerate(entries):
            if i > 0 and entry.tb_frame.f_code.co_qualname in TEST_RUNNERS:
                kept = entries[:i - 1] + entries[i + 1:]
                for before, after in zip(kept, [*kept[1:], None]):
                    before.tb_next = after
                etb = kept[0] if kept else etb
                break
        return format_traceback(etype, evalue, etb, *args, **kwargs)

    return formatted


def _each_frame_once(tb, format_traceback):
    """IPython looks up and formats every frame of a traceback on its own: a
    RecursionError's thousand frames of one cell took 0.3 s per notebook, most of it
    finding the same module (``inspect.getmodule`` scans all of ``sys.modules`` for a
    cell's file), looking for the cell's file (it does not exist) and reading the same
    source and colouring the same lines again. While
    one traceback is formatted, a frame that is the same as one seen before (same code,
    same line, same arguments present; locals are not shown in Context mode) gets the
    text found for the first. The text is the same, which a test checks."""

    @functools.wraps(format_traceback)
    def formatted(*args, **kwargs):
        getmodule, getsourcelines = inspect.getmodule, inspect.getsourcelines
        line_count = ultratb.get_line_number_of_frame
        format_record = tb.format_record
        modules: dict[object, object] = {}
        sources: dict[object, tuple[list[str], int]] = {}
        records: dict[tuple, str] = {}
        line_counts: dict[str, int | OSError] = {}

        def one_line_count(frame):
            # a cell's file (ipykernel's name) does not exist: IPython's cache keeps no failure
            # and tried to open it again for each frame
            filename = frame.f_code.co_filename
            if filename not in line_counts:
                try:
                    line_counts[filename] = line_count(frame)
                except OSError as e:
                    line_counts[filename] = e
            found = line_counts[filename]
            if isinstance(found, OSError):
                raise found
            return found

        def one_getmodule(obj, _filename=None):
            # a frame, traceback or code object has no __module__: its file alone decides
            if inspect.isframe(obj) or inspect.istraceback(obj) or inspect.iscode(obj):
                key = (_filename,) if _filename is not None else _code_of(obj).co_filename
                if key not in modules:
                    modules[key] = None if _no_module_has_its_file(obj, _filename) else getmodule(obj, _filename)
                return modules[key]
            return getmodule(obj, _filename)

        def one_getsourcelines(obj):
            # a frame's source is its code's: the file's lines from co_firstlineno on
            if not inspect.isframe(obj):
                return getsourcelines(obj)
            if obj.f_code not in sources:
                sources[obj.f_code] = getsourcelines(obj)
            lines, start = sources[obj.f_code]
            return list(lines), start

        def one_format_record(frame_info):
            code = frame_info.code
            if tb.include_vars or frame_info._sd is not None or frame_info.frame is None or code is None:
                return format_record(frame_info)  # locals shown, or stack_data's own rendering
            args, varargs, varkw = inspect.getargs(code)
            present = tuple(name in frame_info.frame.f_locals for name in [*args, varargs, varkw] if name)
            key = (frame_info.filename, frame_info.lineno, code, frame_info.context, present)
            if key not in records:
                records[key] = format_record(frame_info)
            return records[key]

        inspect.getmodule, inspect.getsourcelines = one_getmodule, one_getsourcelines
        ultratb.get_line_number_of_frame = one_line_count
        stack_data.style_with_executing_node = _one_style
        terminal256.Terminal256Formatter = _one_formatter
        tb.format_record = one_format_record
        try:
            return format_traceback(*args, **kwargs)
        finally:
            inspect.getmodule, inspect.getsourcelines = getmodule, getsourcelines
            ultratb.get_line_number_of_frame = line_count
            stack_data.style_with_executing_node = _style_with_executing_node
            terminal256.Terminal256Formatter = _Terminal256Formatter
            del tb.format_record

    return formatted


# Each traceback made a new pygments style class and a new Terminal256Formatter (whose
# colour table took a millisecond, half of a one-frame traceback's time); both depend
# only on IPython's theme, so one of each is made per process (the zygote's warm-up
# makes them before forking). A formatter keeps no state between uses without line numbers.
_style_with_executing_node = stack_data.style_with_executing_node
_Terminal256Formatter = terminal256.Terminal256Formatter
_styles: dict[tuple, type] = {}
_formatters: dict[type, object] = {}


def _one_style(style, modifier):
    if (style, modifier) not in _styles:
        _styles[style, modifier] = _style_with_executing_node(style, modifier)
    return _styles[style, modifier]


def _one_formatter(**options):
    style = options.get("style")
    if set(options) != {"style"} or not isinstance(style, type):
        return _Terminal256Formatter(**options)
    if style not in _formatters:
        _formatters[style] = _Terminal256Formatter(style=style)
    return _formatters[style]


# [sys.modules, its dict and every module's dict (a tuple), their version tags (an array), the
# modules' names (a tuple)] as they were when ``settle_modules`` mapped every module's file (in
# the zygote, before it forks). Filled in place: the grader's seal keeps this module's entries
# as they were when it was made. A notebook can import this module and change what the list
# holds, so it is read by exact types only and runs none of its objects' methods: the most a
# change can do is skip or force the walk for the notebook's own tracebacks.
_settled: list = []


def settle_modules() -> None:
    """Map every loaded module's file as ``inspect.getmodule`` does when it meets a file it
    has not mapped, and remember the version tags of sys.modules and of each module's dict
    (see ``_walk_maps_nothing_new``). Call last before forking: a module imported later only
    means that a child walks sys.modules as IPython would."""
    from sabaq.autograders.sandbox.pristine import _DictVersions

    inspect.getmodule(compile("", "<sabaq: every module's file>", "exec"))  # a file no module has: the whole walk
    modules = sys.modules
    named = [(name, m) for name, m in list(modules.items()) if inspect.ismodule(m)]
    dicts = (modules, *(m.__dict__ for _, m in named))
    if not _DictVersions._tags_change() or not all(type(d) is dict for d in dicts):
        _settled[:] = []  # no version tags to read: always walk
        return
    _settled[:] = [modules, dicts, array.array("Q", dict_versions(dicts)), (None, *(name for name, _ in named))]


def _walk_maps_nothing_new() -> bool:
    """Whether ``inspect.getmodule``'s walk over sys.modules would map no file it has not
    mapped: no module was added, removed or replaced since ``settle_modules``, and every
    module whose dict changed since (the grader sets sys.stdout, builtins.input...) still has
    the file the walk mapped. Reads the dicts' version tags: it does not touch the ~750
    modules, as the walk does (a copy-on-write page fault for each page of them in a fresh
    fork)."""
    settled = _settled
    if type(settled) is not list or len(settled) != 4:
        return False
    modules, dicts, tags, names = settled
    if modules is not sys.modules or type(dicts) is not tuple or type(tags) is not array.array \
            or tags.typecode != "Q" or type(names) is not tuple or not len(dicts) == len(tags) == len(names):
        return False
    try:
        now = array.array("Q", dict_versions(dicts))
    except (TypeError, OverflowError):  # not dicts
        return False
    if now == tags:
        return True
    if now[0] != tags[0]:  # sys.modules itself
        return False
    mapped = inspect._filesbymodname
    for index in [i for i, (a, b) in enumerate(zip(now, tags)) if a != b]:
        name = names[index]
        if type(name) is not str:
            return False
        module = modules.get(name)
        if inspect.ismodule(module) and hasattr(module, "__file__") and not module.__file__ == mapped.get(name):
            return False  # as the walk compares it
        tags[index] = now[index]  # seen: its file is still the one mapped
    return True


def _no_module_has_its_file(obj, filename) -> bool:
    """Whether ``inspect.getmodule`` of this frame, traceback or code object would walk
    sys.modules and find no module with its file; it then answers None (these objects have
    no ``__name__``). A notebook's cell is such a file: formatting a cell's traceback, IPython
    asks for its module, and its walk cost about 1 ms in each failing notebook."""
    mapped = inspect.modulesbyfile
    if filename is not None and filename in mapped:
        return False
    try:
        file = inspect.getabsfile(obj, filename)
    except (TypeError, FileNotFoundError):
        return False  # getmodule answers None too, without walking
    return file not in mapped and _walk_maps_nothing_new()


def _code_of(obj):
    if inspect.istraceback(obj):
        obj = obj.tb_frame
    return obj.f_code if inspect.isframe(obj) else obj


WARM_UP_CELLS = ("_warm = [1, 'ә']\nprint(len(_warm))", "_warm", "{'a': _warm}",
                 "def _warm_up():\n    return 1 / 0\n_warm_up()", "def broken(:\n")


def warm_up_cells(shell: GradingShell) -> None:
    """Run a few cells before the zygote forks, then reset the shell. What IPython sets up
    lazily for a first cell (display formatters, input transformers, the compiler's
    caches, regular expressions, the display hook's traits) and for a first traceback and
    syntax error (stack_data, pygments) then is ready in every child: ~10 ms of a
    notebook's ~25, and ~45 ms of each failing one. ``reset(new_session=True)`` empties
    the history and outputs and puts the count back to 1; the namespaces are then put
    back as they were (reset alone would drop ``_`` and the module's ``__doc__``)."""
    namespace, hidden = dict(shell.user_ns), dict(shell.user_ns_hidden)
    recorder = Recorder(1 << 20)
    shell.recorder = recorder
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = CapturedStream("stdout", recorder, 1), CapturedStream("stderr", recorder, 2)
    try:
        for source in WARM_UP_CELLS:
            shell.run_cell(source, store_history=True, silent=False)
        sys.stdout.flush()
    finally:
        sys.stdout, sys.stderr = saved
        shell.reset(new_session=True)
        shell.user_ns.clear()
        shell.user_ns.update(namespace)
        shell.user_ns_hidden.clear()
        shell.user_ns_hidden.update(hidden)
        del shell.recorder


def refuse_input(prompt=""):
    raise StdinNotImplementedError(NO_STDIN)
