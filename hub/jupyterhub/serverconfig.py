"""The nbgrader configuration of every user's server: sabaq's exchange, feedback without
hidden tests, and nbgrader's own autograde switched off (``sabaq.hub.exchange.autograde``).

One text, two ways into a server. On one machine the spawner writes it at each start as the
user's ``~/.jupyter/nbgrader_config.py``, with a teacher's course. On Kubernetes the hub
writes nothing into users' homes, so the users' image (images/singleuser) installs it at
build time as its environment's ``etc/jupyter/nbgrader_config.py``, which Jupyter reads in
every pod (``jupyter --paths``): ``python -m sabaq.hub.jupyterhub.serverconfig`` prints it.
"""

from __future__ import annotations

import sys

from sabaq.coursefolders import first_course_config

EXCHANGE_CONFIG = """\
# Written by sabaq: changes here are lost when your server starts again.
c = get_config()  # noqa
for name in ("exchange", "fetch_assignment", "fetch_feedback", "release_assignment",
             "release_feedback", "list", "submit", "collect"):
    setattr(c.ExchangeFactory, name, "sabaq.hub.exchange." + {
        "exchange": "SabaqExchange", "fetch_assignment": "SabaqFetchAssignment",
        "fetch_feedback": "SabaqFetchFeedback", "release_assignment": "SabaqReleaseAssignment",
        "release_feedback": "SabaqReleaseFeedback", "list": "SabaqList",
        "submit": "SabaqSubmit", "collect": "SabaqCollect"}[name])
c.Exchange.path_includes_course = True
# feedback never shows hidden tests (nbgrader #917)
from sabaq.autograders.notebook.feedback import FEEDBACK_PREPROCESSORS  # noqa: E402
c.GenerateFeedback.preprocessors = FEEDBACK_PREPROCESSORS
# nbgrader's autograde would run students' code as you: sabaq's sandboxed workers grade instead
c.Autograde.exporter_class = "sabaq.hub.exchange.autograde.RefuseAutograde"
"""


def nbgrader_config(course_id: str = "", root: str = "", time_zone: str = "") -> str:
    """The text of a server's nbgrader_config.py; with a teacher's course, its id, folder and
    time zone (``sabaq.coursefolders``, as a pod's ``sabaq course pull`` writes them)."""
    if not course_id:
        return EXCHANGE_CONFIG
    return EXCHANGE_CONFIG + first_course_config(course_id, root, time_zone)


if __name__ == "__main__":
    sys.stdout.write(nbgrader_config())
