"""The course page's lesson link, in the student's own server: the lesson in her current
language, then Notebook 7 or JupyterLab on it (issue 16). A server extension of users' servers.

Her server gets her lessons when it starts (the local spawner merges them into her home; a
pod's postStart runs ``sabaq lesson pull``). When her language changes, or the teacher publishes
a lesson, while it runs, a link straight to ``lessons/<course>/<lesson>/<id>.<lang>.ipynb`` names
a file her server does not have: JupyterLab's 404. So sabaq's course page links
``<server>/sabaq/lessons/<course>/<lesson>?view=notebook|lab&lang=<her language, as the page saw it>``
(through ``/hub/user-redirect/``), and this handler:

1. asks the service for the lesson as she receives it now (``api/v1/me/lessons/<course>/<lesson>.zip``,
   with the server's own token, as ``sabaq lesson pull`` does): the service decides whether she
   may have it (a member of its course) and in which language;
2. merges it into ``~/lessons/<course>/<lesson>/`` by pull's rule (``sabaq.lessons.sync.merge``:
   a file she edited stays hers), written as her (the server runs as her);
3. redirects to its notebook below this server. When the service cannot be reached, a notebook
   already in the folder opens (in ``lang`` first), else a translated page says what to do.

Attacks: the course and the lesson are one name each (``sabaq.archive.safe_name``: no '/', no
'..', however the URL encoded them), the folders on the way are no links and stay below
~/lessons, the service's address is the spawner's (only the quoted names go into its path), the
redirect stays below this server. A refusal of the service (not a member, no such lesson) is
shown, never answered from an older copy.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from sabaq.archive import safe_name
from sabaq.client import ServiceClient, ServiceUnreachable
from sabaq.errors import Invalid, NotFound, SabaqError
from sabaq.i18n import LANGUAGES, N_
from sabaq.lessons.meta import lesson_notebook
from sabaq.lessons.sync import merge, unzip

ROUTE = r"sabaq/lessons/([^/]+)/([^/]+)"
VIEWS = {"notebook": "notebooks", "lab": "lab/tree"}  # ?view= → the page below the server that opens a file
REFUSED = range(400, 500)  # the service's no: shown as it is, no older copy opened instead


def lesson_folder(root: Path, course: str, lesson: str) -> Path:
    """``root/<course>/<lesson>`` (root: ~/lessons): each one allowed name (no '/', no '..'), and
    neither root nor a folder below it a link, which would lead the lesson out of ~/lessons."""
    folder = Path(root)
    for name in (None, safe_name(course), safe_name(lesson)):
        folder = folder / name if name else folder
        if folder.is_symlink():
            raise Invalid(N_("{folder} is a link, not a folder, so sabaq does not write the lesson there. "
                             "Rename or remove the link, then open the lesson again."), folder=str(folder))
    return folder


def bring_lesson(folder: Path, fetch: Callable[[], dict[str, bytes]], lang: str | None) -> str:
    """The lesson's notebook (its name in ``folder``) after merging what ``fetch`` brings from the
    service; when the service is away, a notebook already there (in ``lang`` first)."""
    try:
        files = fetch()
    except SabaqError as e:
        if e.status in REFUSED:
            raise
        away = e
    else:
        merge(folder, files)
        name = lesson_notebook(files)
        if name is None:
            raise NotFound(N_("The lesson '{lesson}' has no notebook. Ask your teacher to publish it again."),
                           lesson=folder.name)
        return name
    present = os.listdir(folder) if folder.is_dir() else []
    name = lesson_notebook(present, lang) or lesson_notebook(present)
    if name is None:
        raise ServiceUnreachable(N_("The lesson '{lesson}' is not in your server yet, and sabaq cannot be reached to "
                                    "bring it ({reason}). Try again in a minute."), lesson=folder.name, reason=away)
    return name


def fetch_from_service(course: str, lesson: str, lang: str | None) -> Callable[[], dict[str, bytes]]:
    """The lesson's files as the service gives them to the server's owner (its token, the
    spawner's address); only the quoted names go into the path."""
    def fetch() -> dict[str, bytes]:
        with ServiceClient.from_environment(language=lang, timeout=30.0, retries=1) as client:
            return unzip(client.get(f"api/v1/me/lessons/{quote(course, safe='')}/{quote(lesson, safe='')}.zip").content)
    return fetch


def open_lesson(home: Path, lessons_folder: str, course: str, lesson: str, lang: str | None,
                fetch: Callable[[], dict[str, bytes]] | None = None) -> str:
    """The path, from the server's root (her home), of the lesson's notebook she opens now."""
    folder = Path(home) / lessons_folder
    try:
        folder = lesson_folder(folder, course, lesson)
        name = bring_lesson(folder, fetch or fetch_from_service(course, lesson, lang), lang)
    except OSError as e:
        raise SabaqError(N_("The lesson could not be written into {folder} ({error}). Free some space in your home, "
                            "or ask your teacher."), status=507, code="not_written",
                         folder=str(folder), error=e.strerror or str(e)) from None
    return f"{lessons_folder}/{course}/{lesson}/{name}"


def reader_language(asked: str | None) -> str | None:
    """The page's language when it is one of sabaq's, else the one the server started in."""
    return asked if asked in LANGUAGES else os.environ.get("SABAQ_LANG")


def _handler(lessons_folder: str):
    """The handler class, made when the server loads the extension (jupyter_server's import
    stays out of processes that only read this module's functions)."""
    from jupyter_server.base.handlers import JupyterHandler
    from jupyter_server.utils import url_escape, url_path_join
    from tornado import web

    class LessonLinkHandler(JupyterHandler):
        """GET …/sabaq/lessons/<course>/<lesson>: the lesson brought up to date, then its page."""

        @web.authenticated
        async def get(self, course: str, lesson: str) -> None:
            lang = reader_language(self.get_query_argument("lang", None))
            view = self.get_query_argument("view", "notebook")
            home = Path(self.settings["server_root_dir"])
            try:
                path = await asyncio.to_thread(open_lesson, home, lessons_folder, course, lesson, lang)
            except SabaqError as e:
                raise web.HTTPError(e.status if 400 <= e.status < 600 else 502, "%s", e.translated(lang)) from None
            target = url_path_join(self.base_url, VIEWS.get(view, VIEWS["notebook"]), url_escape(path))
            if view == "lab" and "reset" in self.request.arguments:
                target += "?reset"  # JupyterLab's empty workspace, as /lab/tree/<path>?reset gives it
            self.set_header("Cache-Control", "no-store")
            self.redirect(target)

    return LessonLinkHandler


def _jupyter_server_extension_points():
    return [{"module": "sabaq.lessons.lessonlink"}]


def _load_jupyter_server_extension(serverapp) -> None:
    from jupyter_server.utils import url_path_join

    from sabaq.lessons.lessonview import LessonView

    base = serverapp.web_app.settings.get("base_url", "/")
    folder = LessonView(config=serverapp.config).lessons_folder
    serverapp.web_app.add_handlers(".*$", [(url_path_join(base, ROUTE), _handler(folder))])
