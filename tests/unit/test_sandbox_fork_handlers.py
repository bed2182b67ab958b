"""The forker's forks without the after-fork handlers a single-threaded process needs not."""

from __future__ import annotations

import os
import threading

from processes import forked

from sabaq.autograders.sandbox import zygote

RAN: list[str] = []


def skipped():
    RAN.append("skipped")


def kept():
    RAN.append("kept")


def _in_a_fork(fork, run):
    """What ``run()`` returns in a child made by ``fork`` (its repr)."""
    r, w = os.pipe()
    pid = fork()
    if pid == 0:
        try:
            os.write(w, repr(run()).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        seen = f.read()
    os.waitpid(pid, 0)
    return seen


def _ran_in_a_fork(fork) -> str:
    RAN.clear()
    return _in_a_fork(fork, lambda: list(RAN))


def test_a_single_threaded_fork_leaves_out_only_the_skippable_handlers_and_its_forks_run_all():
    """Left out of the forker's fork (a copy-on-write page fault for each page they wrote);
    the child has every handler back, so a notebook's own fork runs them all, and a fork
    while another thread runs gets them all too."""
    def check():
        os.register_at_fork(after_in_child=skipped)
        os.register_at_fork(after_in_child=kept)
        handlers = zygote.ForkHandlers(skippable=(skipped,))
        assert handlers.handlers is not None and handlers.all[-2:] == [skipped, kept]
        quiet = _ran_in_a_fork(handlers.fork)
        in_the_child = _in_a_fork(handlers.fork, lambda: (handlers.handlers == handlers.all, _ran_in_a_fork(os.fork)))
        release = threading.Event()
        thread = threading.Thread(target=release.wait)
        thread.start()
        with_a_thread = _ran_in_a_fork(handlers.fork)
        release.set()
        thread.join()
        return quiet, in_the_child, with_a_thread, handlers.handlers == handlers.all

    kept_only, both = repr(["kept"]), repr(["skipped", "kept"])
    assert forked(check) == repr((kept_only, repr((True, both)), both, True))


def test_the_zygotes_handlers_leave_out_threading_and_logging_only():
    def found():
        import logging
        import random

        handlers = zygote.ForkHandlers()
        left_out = [h for h in handlers.all if h not in handlers.kept]
        return (handlers.handlers is not None, left_out == [threading._after_fork, logging._after_at_fork_child_reinit_locks]
                or left_out == [threading._after_fork], any(getattr(h, "__self__", None) is random._inst for h in handlers.kept))

    assert forked(found) == repr((True, True, True))
