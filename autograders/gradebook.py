"""One database engine for all of nbgrader's gradebook accesses in a grading run.

nbgrader opens a new ``Gradebook`` (a new SQLAlchemy engine, a table
inspection and ``create_all``) about seven times per notebook, and SQLAlchemy
compiles every statement again for each new engine. That, not running the
students' code, is most of the time nbgrader spends per notebook. Inside
``shared_engines()`` the same engine serves every ``Gradebook`` of a URL: the
same SQL runs in the same transactions, only the set-up is not repeated. The
parity tests grade with this in place and compare every score with nbgrader's.
"""

from __future__ import annotations

import contextlib
import threading

import nbgrader.api as api


@contextlib.contextmanager
def shared_engines():
    engines: dict[str, object] = {}
    lock = threading.Lock()
    original_create_engine = api.create_engine
    original_close = api.Gradebook.close
    original_inspect = api.inspect
    original_create_all = api.Base.metadata.create_all
    prepared: set[str] = set()

    def create_engine(url, *args, **kwargs):
        key = str(url)
        with lock:
            if key not in engines:
                engines[key] = original_create_engine(url, *args, **kwargs)
            return engines[key]

    def close(self):
        self.db.remove()  # the session goes; the shared engine stays for the next Gradebook

    class _Inspector:
        """Tables of an already prepared database are known; no need to ask again."""

        def __init__(self, engine):
            self.engine = engine

        def get_table_names(self):
            key = str(self.engine.url)
            if key in prepared:
                return ["prepared"]
            return original_inspect(self.engine).get_table_names()

    def create_all(bind=None, **kwargs):
        key = str(bind.url)
        if key not in prepared:
            original_create_all(bind=bind, **kwargs)
            prepared.add(key)

    api.create_engine = create_engine
    api.Gradebook.close = close
    api.inspect = _Inspector
    api.Base.metadata.create_all = create_all
    try:
        yield
    finally:
        api.create_engine = original_create_engine
        api.Gradebook.close = original_close
        api.inspect = original_inspect
        api.Base.metadata.create_all = original_create_all
        for engine in engines.values():
            engine.dispose()
