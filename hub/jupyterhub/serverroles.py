"""What a user's Jupyter server runs for her role: one decision for both spawners.

Staff (a course's teacher or assistant; a coach teaches an olympiad course) get sabaq's
formgrader (``sabaq.hub.exchange.formgrader``: nbgrader's formgrader where it can load, its
links under ``/user/<name>/``) and nbgrader's formgrader and course list; students' servers
run those switched off, and their JupyterLab hides the plugins only staff use (formgrader,
create assignment, course list). Everything else (sabaq's status extension, nbgrader's
assignment list ...) is everyone's, as installed.

On one machine SabaqSpawner writes :func:`home_files` into the home. On Kubernetes nothing
writes into a pod's home before it starts: the hub's pre-spawn hook names the role in
``SABAQ_ROLE`` (read from sabaq's database, never from the user) and the image's
``jupyter_server_config.py`` (``python -m sabaq.hub.jupyterhub.labsettings``) applies it.

This shapes the interface, not what anyone may read: a student controls her own server's
process anyway; the formgrader's data (other students' submissions, the sources) comes
from the service, which answers only staff credentials.
"""

from __future__ import annotations

import json
import os
import sys

from sabaq.hub.jupyterhub.homefiles import HomeFile, write_files

STAFF, STUDENT = "staff", "student"
ROLE_VARIABLE = "SABAQ_ROLE"

# Server extensions only staff get (students' servers run them switched off).
STAFF_SERVER_EXTENSIONS = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list",
                           "sabaq.hub.exchange.formgrader")
# JupyterLab asks every new user about news from the internet: noise in a classroom.
HIDDEN_LAB_PLUGINS = ("@jupyterlab/apputils-extension:announcements",)
# nbgrader's JupyterLab plugins that only staff use.
STAFF_LAB_PLUGINS = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                     "@jupyter/nbgrader:course-list")
PAGE_CONFIG = ".jupyter/labconfig/page_config.json"  # read by JupyterLab and Notebook 7, below the home
SERVER_CONFIG_JSON = ".jupyter/jupyter_server_config.json"


def role_of(staff: bool) -> str:
    return STAFF if staff else STUDENT


def known_role(role: str | None) -> str:
    """A role as named (SABAQ_ROLE); anything else is a student's, who gets the least."""
    return STAFF if role == STAFF else STUDENT


def server_extensions(role: str) -> dict[str, bool]:
    """{module: enabled} of the server extensions that depend on the role."""
    on = known_role(role) == STAFF
    return {name: on for name in STAFF_SERVER_EXTENSIONS}


def hidden_lab_plugins(role: str) -> dict[str, bool]:
    """JupyterLab's ``disabledExtensions`` for the role."""
    hidden = HIDDEN_LAB_PLUGINS if known_role(role) == STAFF else HIDDEN_LAB_PLUGINS + STAFF_LAB_PLUGINS
    return dict.fromkeys(hidden, True)


def page_config_file(role: str) -> HomeFile:
    return PAGE_CONFIG, json.dumps({"disabledExtensions": hidden_lab_plugins(role)}).encode(), True


def home_files(role: str) -> list[HomeFile]:
    """The settings SabaqSpawner writes into ~/.jupyter for the role."""
    extensions = json.dumps({"ServerApp": {"jpserver_extensions": server_extensions(role)}}).encode()
    return [page_config_file(role), (SERVER_CONFIG_JSON, extensions, True)]


def apply_role(c, environ=os.environ) -> None:
    """In a pod's server config (Kubernetes): the role's server extensions, which outrank the
    installed ones (nbgrader's enables its formgrader for everyone), and JupyterLab's plugins
    of the role in the home's page config, where the local spawner writes them too."""
    role = known_role(environ.get(ROLE_VARIABLE))
    c.ServerApp.jpserver_extensions.update(server_extensions(role))
    home = environ.get("HOME", "")
    if home and os.path.isdir(home):
        write_files(home, [page_config_file(role)],
                    lambda path, e: print(f"sabaq: {path} in {home} not written: {e}", file=sys.stderr))
