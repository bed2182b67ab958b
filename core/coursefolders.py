"""A teacher's course folders in her server's home: ``<course>/nbgrader_config.py`` and the
assignments' sources in ``<course>/source/``, so that nbgrader's formgrader, opened as
``formgrader?path=<course>``, finds the course.

One text for both ways into a server: on one machine the spawner writes these files from
sabaq's database (``SabaqSpawner._prepare_home``); on Kubernetes nothing writes into a pod's
home from outside, so the pod runs ``sabaq course pull`` as it starts (the hub's postStart
hook), which asks the service with the server's own token for the courses its owner teaches
and their sources (``pull``). A student's token gets none: the sources are staff's only.

The course's configuration names its time zone (``NbGraderAPI.timezone``): nbgrader's
*Add assignment* offers that zone's offset, so 18:00 typed in Almaty is 18:00 +05, not
+0000, and shows due dates in it. It is sabaq's and rewritten at each start (the course's
time zone may change); sources are written only where the teacher has none. The first
course also goes into ``~/.jupyter/nbgrader_config.py`` (``first_course_config``), for the
formgrader JupyterLab's menu opens without ``?path=``.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

from sabaq.archive import unpack, write_tree

CourseFile = tuple[str, bytes, bool]  # path below the home, content, overwrite an existing file
STAFF_ROLES = ("teacher", "assistant")  # the roles whose servers get course folders

SABAQS = """\
# Written by sabaq: changes here are lost when your server starts again.
c = get_config()  # noqa
"""
COURSE_CONFIG = SABAQS + "c.CourseDirectory.course_id = {course_id!r}\n"
FIRST_COURSE_CONFIG = """\
# the formgrader JupyterLab's menu opens (no ?path=): the first of your courses
c.CourseDirectory.course_id = {course_id!r}
c.CourseDirectory.root = {root!r}
"""
TIME_ZONE_CONFIG = """\
# due dates are typed and shown in the course's time zone (nbgrader's formgrader)
c.NbGraderAPI.timezone = {time_zone!r}
"""


def time_zone_config(time_zone: str) -> str:
    """The lines of an nbgrader configuration that set a course's time zone ("" : none)."""
    return TIME_ZONE_CONFIG.format(time_zone=time_zone) if time_zone else ""


def course_config(course_id: str, time_zone: str = "") -> str:
    """The text of ``<course>/nbgrader_config.py``; without a time zone, nbgrader's (UTC)."""
    return COURSE_CONFIG.format(course_id=course_id) + time_zone_config(time_zone)


def first_course_config(course_id: str, root: str, time_zone: str = "") -> str:
    """The lines of a server's own ``~/.jupyter/nbgrader_config.py`` naming a teacher's first course."""
    return FIRST_COURSE_CONFIG.format(course_id=course_id, root=root) + time_zone_config(time_zone)


def course_folder(course_id: str, time_zone: str, sources: dict[str, bytes]) -> list[CourseFile]:
    """The files of one course's folder: its configuration and ``{assignment/path: content}``
    of its sources (kept when the teacher has her own)."""
    files = [(f"{course_id}/nbgrader_config.py", course_config(course_id, time_zone).encode(), True)]
    files += [(f"{course_id}/source/{rel}", content, False) for rel, content in sorted(sources.items())]
    return files


def fetch_courses(client) -> list[tuple[str, str, dict[str, bytes]]]:
    """(course id, time zone, sources) of every course the caller of ``client`` (a
    ``sabaq.client.ServiceClient`` with her own token) teaches or assists, as the service gives
    them: the sources route is staff's only, so nobody else gets any."""
    courses = []
    for course in sorted(client.json("GET", "api/v1/courses"), key=lambda c: c["id"]):
        if course.get("role") not in STAFF_ROLES:
            continue
        course_id = course["id"]
        sources: dict[str, bytes] = {}
        for assignment in client.json("GET", f"api/v1/courses/{quote(course_id)}/assignments"):
            name = assignment["name"]
            archive = client.get(f"api/v1/courses/{quote(course_id)}/assignments/{quote(name)}/source").content
            sources.update({f"{name}/{rel}": content for rel, content in unpack(archive).items()})
        courses.append((course_id, course.get("timezone") or "", sources))
    return courses


def write_course_folders(home: str | os.PathLike, files: list[CourseFile]) -> list[str]:
    """Write the files below ``home``, following no link; return the paths written (a source
    the teacher already has is kept, so not written)."""
    written = write_tree(home, {path: content for path, content, overwrite in files if overwrite})
    written += write_tree(home, {path: content for path, content, overwrite in files if not overwrite},
                          overwrite=False)
    return sorted(written)


def pull(home: str | os.PathLike, client) -> list[str]:
    """``sabaq course pull``: the caller's course folders from the service, into ``home``, and
    her ``~/.jupyter/nbgrader_config.py`` naming the first (the image's own configuration,
    the exchange's, is read before it, as the spawner's whole text is on one machine)."""
    home = Path(home).absolute()
    courses = fetch_courses(client)
    files = [file for course in courses for file in course_folder(*course)]
    if courses:
        first, time_zone, _ = courses[0]
        text = SABAQS + first_course_config(first, str(home / first), time_zone)
        files.append((".jupyter/nbgrader_config.py", text.encode(), True))
    return write_course_folders(home, files)
