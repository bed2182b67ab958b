"""nbgrader's formgrader where it can load, with links that lead somewhere (a Jupyter server
extension of teachers' servers; the spawner enables it with nbgrader's own).

JupyterHub 6 sends ``frame-ancestors 'none'`` for every page of a user's server, and
nbgrader 0.9.6 shows the formgrader inside JupyterLab in a frame (nbgrader #1870), so
*Nbgrader → Formgrader* was a blank panel. Here the formgrader's own pages (and only
those) may be framed by the server's own origin (``'self'``); every other page of the
server keeps JupyterHub's policy.

Opened in a tab of its own (sabaq's course page links each course's formgrader), the
formgrader's links to folders and notebooks were ``/tree/...``, without the server's
``/user/<name>/``: its ``utils.js`` is served with the server's prefix put in front.
"""

from __future__ import annotations

import os

from tornado import web
from tornado.routing import PathMatches, Rule

FRAME_POLICY = "frame-ancestors 'self'"
# nbgrader 0.9's link for a page opened outside JupyterLab, and the same with the server's prefix
UNPREFIXED = '.attr("href", prefix + path)'
PREFIXED = '.attr("href", base_url + prefix + path)'


def formgrader_base():
    """The class every page of the formgrader derives from."""
    from nbgrader.server_extensions.formgrader.base import BaseHandler

    return BaseHandler


def allow_own_frame() -> None:
    """The formgrader's pages may be framed by JupyterLab of the same server."""
    formgrader_base().content_security_policy = property(lambda self: FRAME_POLICY)


def patched_utils_js() -> str:
    """nbgrader's utils.js with its links under the server's prefix (``base_url``)."""
    from nbgrader.server_extensions.formgrader import handlers

    with open(os.path.join(handlers.static_path, "js", "utils.js"), encoding="utf-8") as f:
        text = f.read()
    return text.replace(UNPREFIXED, PREFIXED)


class UtilsJs(web.RequestHandler):
    """The patched utils.js, in place of the file nbgrader serves (a static file, no login)."""

    def initialize(self, text: str) -> None:
        self.text = text

    def get(self) -> None:
        self.set_header("Content-Type", "application/javascript; charset=UTF-8")
        self.set_header("Cache-Control", "no-cache")
        self.finish(self.text)


def _jupyter_server_extension_points():
    return [{"module": "sabaq.hub.exchange.formgrader"}]


def _load_jupyter_server_extension(serverapp) -> None:
    allow_own_frame()
    text = patched_utils_js()
    if PREFIXED not in text:
        serverapp.log.warning("sabaq: nbgrader's formgrader links were not fixed (its utils.js changed)")
        return
    base = serverapp.web_app.settings.get("base_url", "/")
    pattern = base.rstrip("/") + "/formgrader/static/js/utils.js"
    # first, before nbgrader's static files, which would answer with the unfixed file
    serverapp.web_app.default_router.rules.insert(0, Rule(PathMatches(pattern), UtilsJs, {"text": text}))
