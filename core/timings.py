"""Where a request's time went, told without passing anything along: the layers that wait
(the service's queue for a database session, SQLite's write lock) add their seconds to the
current request's tally, and the service sends the tally in its ``Server-Timing`` header."""

from __future__ import annotations

import contextlib
import time
from contextvars import ContextVar

_tally: ContextVar[dict[str, float] | None] = ContextVar("sabaq_timings", default=None)


def start_tally() -> dict[str, float]:
    """A new, empty tally for the request being served (threads it starts share it)."""
    tally: dict[str, float] = {}
    _tally.set(tally)
    return tally


@contextlib.contextmanager
def spent(name: str):
    """Add the time of the ``with`` block to ``name`` in the current tally (if there is one)."""
    began = time.perf_counter()
    try:
        yield
    finally:
        tally = _tally.get()
        if tally is not None:
            tally[name] = tally.get(name, 0.0) + time.perf_counter() - began
