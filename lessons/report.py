"""Telling the sabaq service about each attempt, so the teacher sees the class.

Inside sabaq a student's server has ``SABAQ_SERVICE_URL`` and
``JUPYTERHUB_API_TOKEN``, and a published lesson has ``.sabaq-lesson.json``
(``{"course": ..., "lesson": ...}``) beside its notebooks. Without any of them
(a teacher's laptop, a copied folder) nothing is reported and the lesson works
the same. Reports go from one background thread with a short timeout and never
raise into the notebook: a slow or absent service must not stall a student.
The service knows the student from the token, so the body does not name them.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from sabaq.lessons.meta import PUBLISHED_FILE

log = logging.getLogger(__name__)
ATTEMPTS_PATH = "api/v1/lessons/attempts"
ANSWER_LIMIT = 200


@dataclass
class Attempt:
    course: str
    lesson: str
    exercise: str
    correct: bool
    attempt: int
    answer: str
    lang: str

    def body(self) -> dict:
        out = asdict(self)
        out["answer"] = str(self.answer)[:ANSWER_LIMIT]
        return out


class NullReporter:
    """Outside sabaq: attempts go nowhere."""

    enabled = False
    course = lesson = None

    def report(self, attempt: Attempt) -> None:
        pass

    def flush(self, timeout: float = 5.0) -> bool:
        return True


class Reporter(NullReporter):
    """POSTs attempts to the service from a daemon thread, in order, 2 s timeout each, and
    no second try: the thread would fall behind the student's clicks."""

    enabled = True

    def __init__(self, service_url: str, token: str, course: str, lesson: str, timeout: float = 2.0):
        self.service_url = service_url
        self.token = token
        self.course = course
        self.lesson = lesson
        self.timeout = timeout
        self.sent = 0
        self.failed = 0
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def report(self, attempt: Attempt) -> None:
        try:
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="sabaq-lesson-report", daemon=True)
                    self._thread.start()
            self._queue.put(attempt.body())
        except Exception:  # never into the student's notebook
            log.debug("could not queue a lesson attempt", exc_info=True)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued attempt has been sent or given up on (for tests and shutdown)."""
        done = threading.Event()

        def waiter():
            self._queue.join()
            done.set()

        threading.Thread(target=waiter, daemon=True).start()
        return done.wait(timeout)

    def _run(self) -> None:
        from sabaq.client import ServiceClient  # httpx is loaded once a student first answers

        with ServiceClient(self.service_url, self.token, timeout=self.timeout, retries=0) as client:
            while True:
                body = self._queue.get()
                try:
                    client.post(ATTEMPTS_PATH, json=body)
                    self.sent += 1
                except Exception:  # refused or unreachable: the lesson goes on
                    self.failed += 1
                    log.debug("lesson attempt not sent", exc_info=True)
                finally:
                    self._queue.task_done()


def published_ids(folder: Path) -> tuple[str, str] | None:
    """(course, lesson) written into the lesson folder when it was published, if it was."""
    try:
        data = json.loads((Path(folder) / PUBLISHED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    course, lesson = data.get("course"), data.get("lesson")
    if isinstance(course, str) and course and isinstance(lesson, str) and lesson:
        return course, lesson
    return None


def reporter_for(folder: Path, environ=None) -> NullReporter:
    """A Reporter when running inside sabaq on a published lesson, else a NullReporter."""
    environ = os.environ if environ is None else environ
    url, token = environ.get("SABAQ_SERVICE_URL"), environ.get("JUPYTERHUB_API_TOKEN")
    ids = published_ids(folder)
    if not url or not token or ids is None:
        return NullReporter()
    return Reporter(url, token, *ids)
