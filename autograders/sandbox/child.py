"""The grading child's side of the zygote's protocol: run the one cell sent, reply, wait.

The child is the student's process: anything in it can be changed by the student's
code. So it holds no cell before the zygote sends it, and what it reports is checked by
the zygote (see ``zygote``). What this loop calls is bound when it starts, before any
student code runs: a cell that replaces ``os.write``, ``json.dumps``, ``signal.setitimer``
or ``InteractiveShell.run_cell`` changes nothing here.

Threads a student started get the GIL only while an answer cell runs: everywhere else
(waiting for a command, reading it, test cells, collecting output, replying) the switch
interval is an hour and this loop's reads and writes keep the GIL, so another thread
runs only when a test cell itself blocks; it cannot read the next command or write a
reply in the loop's place.

Command (a line of JSON): ``{"nonce", "index", "source", "test"}``. Reply (a line of JSON):
``{"nonce", "count", "outputs", "displays", "updates", "status", "ename", "evalue"}``.
"""

from __future__ import annotations

import _json
import base64
import builtins
import errno
import getpass
import json
import linecache
import os
import signal
import sys

from IPython.core.interactiveshell import ExecutionResult, InteractiveShell

from sabaq.autograders.sandbox import _native
from sabaq.autograders.sandbox.shell import (
    TIMEOUT_ERROR,
    CapturedStream,
    FdCapture,
    GradingShell,
    Recorder,
    refuse_input,
)

HELD_SWITCH_INTERVAL = 3600.0  # seconds another thread waits for the GIL outside answer cells


class Guard:
    """What is done around test cells to keep answer cells out of their result: this shape,
    no defence. The grading zygote uses the integrity module's (``integrity.TestCellGuard``)."""

    def before_first(self, shell: GradingShell) -> None:
        """Once, before any student code."""

    def before_test(self, shell: GradingShell) -> None:
        pass

    def after_test(self, shell: GradingShell, sealed: list[str] = (), source: str = "") -> None:
        """After the test ran (a guard records an error if the run changed the grader;
        ``sealed``: what ``seal`` put back of the grader's own modules and classes; ``source``:
        the test's)."""

    def seal(self) -> list[str]:
        """Put the grader's own modules and classes back; what was changed. Called first
        around each test cell, through the loop's own reference (see ``pristine.grader_seal``)."""
        return []

    def raised(self) -> bool:
        """Whether the test cell's code raised, from what the notebook's code cannot reset
        (IPython's ExecutionResult can be, while the error is shown); False: not known."""
        return False

    def result_text(self, value) -> str | None | bool:
        """The text/plain a test cell's value is recorded with (nbgrader reads partial credit
        from it), read from the value itself rather than from its display; None: IPython's
        own text; False: the cell had no value (an execute_result shown counts for nothing)."""
        return None


def forget_input(shell: InteractiveShell, number: int) -> None:
    """Take the source of cell `number` out of every place IPython keeps it, so that a
    later cell cannot print a hidden test: In/_ih, the history's lists and write cache,
    _i/_ii/_iii/_iN (in the namespace and its hidden copy), the compiler's linecache entry, the stored error text and the last
    traceback (whose frames hold the cell's code)."""
    history = shell.history_manager
    texts = set()
    for inputs in (history.input_hist_parsed, history.input_hist_raw):
        if 0 <= number < len(inputs):
            texts.add(inputs[number])
            inputs[number] = ""
    with history.db_input_cache_lock:
        history.db_input_cache[:] = [entry for entry in history.db_input_cache if entry[0] != number]
    texts.discard("")
    for name in ("_i00", "_i", "_ii", "_iii"):
        if getattr(history, name, None) in texts:
            setattr(history, name, "")
    for namespace in (shell.user_ns, shell.user_ns_hidden):  # push(interactive=False) fills both
        for name in ("_i", "_ii", "_iii", f"_i{number}"):
            if isinstance(namespace.get(name), str) and namespace[name] in texts:
                namespace[name] = ""
    history.exceptions.pop(number, None)
    names = shell.compile._filename_map
    for name, cell in list(names.items()):
        if cell == number:
            linecache.cache.pop(name, None)
            del names[name]
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            setattr(sys, name, None)
    shell.InteractiveTB.tb = None


def _same_number(shown, value_text: str) -> bool:
    """Whether the text shown (``3``) reads as the number the value is (``3.0``)."""
    try:
        return type(shown) is str and float(shown) == float(value_text)
    except ValueError:
        return False


def _json_default(value):
    """Display data a formatter returned as bytes travels as base64, as ipykernel sends it."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return None


def serve_cells(shell: GradingShell, commands: int, replies: int, timeout: float,
                max_output_bytes: int = 4 << 20, keep_traceback: int | None = None,
                guard: Guard | None = None) -> None:
    """Run the cells the zygote sends on `commands` until it closes it; reply to each on `replies`."""
    guard = guard or Guard()
    c_read, c_write = _native.held_read, _native.held_write  # they keep the GIL
    retry, set_blocking, chunk = (errno.EINTR, errno.EAGAIN), os.set_blocking, 1 << 16
    scan = _json.make_scanner(json.JSONDecoder())
    encode = _json.make_encoder({}, _json_default, _json.encode_basestring_ascii, None, ": ", ", ",
                                False, False, True)
    join, run_cell, result_type = "".join, InteractiveShell.run_cell, ExecutionResult
    set_handler, interrupt, setitimer, timer = signal.signal, signal.default_int_handler, signal.setitimer, \
        signal.ITIMER_REAL
    switch_interval, set_switch_interval = sys.getswitchinterval(), sys.setswitchinterval
    recorder = Recorder(max_output_bytes)
    out = CapturedStream("stdout", recorder, 1)
    err = CapturedStream("stderr", recorder, 2)
    capture = FdCapture({1: out, 2: err})
    shell.recorder = recorder
    shell.keep_traceback = keep_traceback
    sys.stdout, sys.stderr = out, err
    builtins.input = refuse_input
    getpass.getpass = refuse_input
    set_handler(signal.SIGALRM, interrupt)  # the timeout interrupts a cell as SIGINT interrupts a kernel
    guard.before_first(shell)
    pending = b""
    # bound now, before any student code: a method replaced on the guard's class or a name in
    # this module's namespace later changes none of these (seal first puts those back)
    seal, before_test, after_test, result_text = guard.seal, guard.before_test, guard.after_test, guard.result_text
    raised = guard.raised
    forget, same_number, error_text = forget_input, _same_number, BaseException.__str__

    def held_read(fd: int, size: int) -> bytes:
        """os.read that keeps the GIL (for the output of fds 1 and 2 after a cell)."""
        try:
            return c_read(fd, min(size, chunk))
        except OSError:
            raise BlockingIOError from None

    capture.read = held_read
    me, getpid, exit_now = os.getpid(), os.getpid, os._exit
    set_switch_interval(HELD_SWITCH_INTERVAL)

    def next_command() -> dict | None:
        nonlocal pending
        while b"\n" not in pending:
            try:
                data = c_read(commands, chunk)
            except OSError as e:
                if e.errno in retry:  # a cell made it non-blocking: wait again
                    set_blocking(commands, True)
                    continue
                return None
            if not data:
                return None
            pending += data
        line, pending = pending.split(b"\n", 1)
        return scan(line.decode("utf-8"), 0)[0]

    def send(reply: dict) -> None:
        data = join(encode(reply, 0)).encode("ascii") + b"\n"
        while data:
            try:
                n = c_write(replies, data)
            except OSError as e:
                if e.errno in retry:
                    set_blocking(replies, True)
                    continue
                return
            if n <= 0:
                return
            data = data[n:]

    while True:
        command = next_command()
        if command is None:
            return
        nonce, test, source = command["nonce"], command["test"], command["source"]
        recorder.begin(command["index"])
        count = shell.execution_count
        if test:
            sys.stdout, sys.stderr = out, err
            seal()
            before_test(shell)
        else:
            set_switch_interval(switch_interval)
        set_handler(signal.SIGALRM, interrupt)  # again: an answer cell may have replaced it
        remaining = 1.0
        result = None
        try:
            if timeout:
                setitimer(timer, timeout)
            result = run_cell(shell, source, store_history=True, silent=False)
        except BaseException as e:  # noqa: BLE001 - an interrupt outside IPython's own handling
            result = e
        finally:
            remaining, _ = setitimer(timer, 0)
            set_switch_interval(HELD_SWITCH_INTERVAL)
            capture.drain()
            out.flush()
            err.flush()
        if getpid() != me:  # a copy forked by the cell came back here: only the child serves
            exit_now(0)
        if timeout and remaining == 0:
            recorder.add(dict(TIMEOUT_ERROR))
        status, error = "ok", None
        if type(result) is not result_type:
            status, error = "error", result
        elif result.error_before_exec is not None or result.error_in_exec is not None:
            status = "error"
            error = result.error_before_exec if result.error_before_exec is not None else result.error_in_exec
        value_text = None
        if test:
            sealed = seal()  # first: what raised() calls is the grader's again
            if raised() and status == "ok":  # the cell raised, and the notebook's code hid it
                status = "error"
            after_test(shell, sealed, source)
            if type(result) is result_type:  # the guard may know the value although nothing displayed it
                value_text = result_text(result.result)
                shown = recorder.result["data"].get("text/plain") if recorder.result is not None else None
                if value_text is False:  # no value: a result the notebook's code displayed is none
                    value_text = None
                elif (value_text is None and result.result is not None) or (
                        value_text is not None and shown is not None and same_number(shown, value_text)):
                    value_text = shown  # IPython's own text, as nbgrader reads it, when it says the same
            forget(shell, count)
        del command, result, source
        send({"nonce": nonce, "count": count, "result": value_text,
              "outputs": recorder.current, "displays": recorder.shown(), "updates": recorder.updates,
              "status": status, "ename": type(error).__name__ if error is not None else "",
              "evalue": error_text(error) if isinstance(error, BaseException) else "",
              "truncated": recorder.truncated})
        del error
