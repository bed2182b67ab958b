"""One database engine for all of nbgrader's gradebook accesses in a grading run.

nbgrader opens a new ``Gradebook`` (a new SQLAlchemy engine, a table
inspection, ``create_all`` and a query and commit checking that the course
exists) about seven times per notebook, and SQLAlchemy compiles every
statement again for each new engine. That, not running the
students' code, is most of the time nbgrader spends per notebook. Inside
``shared_engines()`` the same engine serves every ``Gradebook`` of a URL: the
same SQL runs in the same transactions, only the set-up is not repeated. The
parity tests grade with this in place and compare every score with nbgrader's.
"""

from __future__ import annotations

import contextlib
import threading

import nbgrader.api as api

SQLITE_BUSY_SECONDS = 120


@contextlib.contextmanager
def shared_engines():
    engines: dict[str, object] = {}
    lock = threading.Lock()
    original_create_engine = api.create_engine
    original_close = api.Gradebook.close
    original_inspect = api.inspect
    original_create_all = api.Base.metadata.create_all
    original_check_course = api.Gradebook.check_course
    prepared: set[str] = set()
    courses: set[tuple[str, str]] = set()

    def create_engine(url, *args, **kwargs):
        key = str(url)
        if key.startswith("sqlite"):
            # grading processes of one batch share the file: a write waits for the other's
            kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_SECONDS})
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

    def check_course(self, course_id="default_course", **kwargs):
        # nbgrader calls this from Gradebook.__init__ only, which ignores what it returns
        key = (str(self.engine.url), course_id)
        if kwargs or key not in courses:
            course = original_check_course(self, course_id=course_id, **kwargs)
            courses.add(key)
            return course
        return None

    api.create_engine = create_engine
    api.Gradebook.close = close
    api.Gradebook.check_course = check_course
    api.inspect = _Inspector
    api.Base.metadata.create_all = create_all
    try:
        yield
    finally:
        api.create_engine = original_create_engine
        api.Gradebook.close = original_close
        api.Gradebook.check_course = original_check_course
        api.inspect = original_inspect
        api.Base.metadata.create_all = original_create_all
        for engine in engines.values():
            engine.dispose()
