"""nbgrader's autograde refuses to run in users' servers: sabaq's sandboxed workers grade.

nbgrader's own autograde (the formgrader's Autograde button, which calls
``NbGraderAPI.autograde`` in the server's process, and ``nbgrader autograde`` in a terminal)
runs each student's notebook as the account that asks, a teacher's, with the teacher's hub
token in its environment: a student's cell could act as the teacher. sabaq grades every
submission in its sandboxed workers as soon as it arrives, and teachers grade again from
the assignment's page, so the in-server autograde has no job left and is switched off.

Where it is switched off, and why there: the users' ``~/.jupyter/nbgrader_config.py``, which
the spawner writes at every start (an edit there lasts one session; sabaq's line comes back),
and on Kubernetes the same text in the users' image's etc/jupyter
(``sabaq.hub.jupyterhub.serverconfig``), sets ``c.Autograde.exporter_class`` to
:class:`RefuseAutograde`. nbgrader's ``BaseConverter.start`` makes the exporter after finding
the submissions and before anything else: no gradebook row, no copied file, no kernel; both
ways in (the API and the command) go through it. The setting stays when a course folder's
``nbgrader_config.py`` (loaded after ~/.jupyter) customises the autograde steps
(``c.Autograde.autograde_preprocessors``, ``c.Execute.timeout``...) or another converter's
exporter (a ``c.Autograde`` value outranks a ``c.BaseConverter`` one): only a config naming
``Autograde.exporter_class`` itself, which no course has a reason to, replaces it. Replacing
the Execute step instead would refuse only after the gradebook and the autograded folder had
changed, and be lost with any custom list of steps. Not this machine's environment's
etc/jupyter: it would reach every nbgrader of the machine, the parity tests and ``sabaq bench
grading``, which run nbgrader's autograde on purpose (the users' image runs no worker and no
bench, so there it is the place); nor the course folder's file, which sabaq's own engine reads
(``sabaq grade batch``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import quote

from nbconvert.exporters import NotebookExporter
from nbgrader.converters.base import NbGraderException

from sabaq.errors import SabaqError
from sabaq.hub.exchange.exchange import language, sabaq_address
from sabaq.i18n import N_

REFUSAL = N_(
    "nbgrader's autograde does not run in your server: it would run students' code as you, with your "
    "access to sabaq. sabaq grades every submission in its sandboxed workers as soon as it arrives. "
    "See the scores, and grade everyone again after changing a test, on the assignment's page: {url}"
)


class AutogradeRefused(NbGraderException):
    """nbgrader's command ends with exit code 1 on this, after the message it logged."""


def sabaq_page(course_id: str, assignment_id: str, environ: Mapping[str, str] = os.environ) -> str:
    """The assignment's page in sabaq (the course's, or sabaq's first page, when that is all
    that is known), as the teacher's browser reaches it (see ``sabaq_address``)."""
    path = ""
    if course_id and not _pattern(course_id):
        path += f"courses/{quote(course_id, safe='')}"
        if assignment_id and not _pattern(assignment_id):
            path += f"/assignments/{quote(assignment_id, safe='')}"
    return sabaq_address(path, environ)


def _pattern(name: str) -> bool:
    """nbgrader takes globs for ids (``nbgrader autograde "*"``): no one page to name."""
    return any(c in name for c in "*?[")


def refusal(course_id: str, assignment_id: str, environ: Mapping[str, str] = os.environ) -> str:
    """The refusal in the user's language, with the page to go to."""
    error = SabaqError(REFUSAL, url=sabaq_page(course_id, assignment_id, environ))
    return error.translated(language(environ))


class RefuseAutograde(NotebookExporter):
    """The exporter nbgrader's Autograde converter makes before it touches a submission:
    it logs the refusal (the formgrader shows the log, the terminal prints it) and stops."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        coursedir = getattr(self.parent, "coursedir", None)
        message = refusal(getattr(coursedir, "course_id", ""), getattr(coursedir, "assignment_id", ""))
        self.log.error(message)
        raise AutogradeRefused(message)
