"""What a student and a teacher miss in JupyterLab (issue 16): each assignment's due date,
what sabaq received, its status, score and feedback, and the way to sabaq's pages.

A Jupyter server extension of every user's server. JupyterLab's ``sabaq-lab`` extension
(``hub/exchange/labextension``) asks ``<server>/sabaq/status``; this handler asks the sabaq
service with the server's own token (``JUPYTERHUB_API_TOKEN``, its owner's), so no token
reaches the page's JavaScript. The answer is only ever the owner's own: the handler reads
nothing from the request (no login, no course), and the service checks each call again.
"""

from __future__ import annotations

import asyncio
import json
import os
from urllib.parse import quote

from sabaq.client import ServiceClient
from sabaq.errors import SabaqError

ROUTE = "sabaq/status"
STAFF_ROLES = ("teacher", "assistant")
# what the student sees, from the service's own statuses of her newest submission
NOT_SUBMITTED, RECEIVED, GRADED, RELEASED, EXCUSED = (
    "not_submitted", "received", "graded", "feedback_released", "excused")


def pages_url(environ=None) -> str:
    """sabaq's pages as the browser reaches them: through the hub's public address
    (users' servers may live on subdomains of their own)."""
    environ = os.environ if environ is None else environ
    host = environ.get("JUPYTERHUB_HOST", "")
    base = environ.get("JUPYTERHUB_BASE_URL", "/") or "/"
    return f"{host}{base.rstrip('/')}/services/sabaq"


def shown_status(item: dict) -> str:
    """The status a student reads: not submitted, received, graded, feedback released."""
    if item.get("status") == "excused":
        return EXCUSED
    if not item.get("submission_id"):
        return NOT_SUBMITTED
    if item.get("feedback"):
        return RELEASED
    if item.get("score") is not None:
        return GRADED
    return RECEIVED


def course_links(course: dict, pages: str) -> dict:
    """A course with the pages it leads to; the gradebook only for its staff."""
    slug = quote(course["id"], safe="")
    out = {"id": course["id"], "title": course.get("title") or course["id"], "role": course.get("role"),
           "url": f"{pages}/courses/{slug}", "lessons": f"{pages}/courses/{slug}#lessons"}
    if course.get("role") in STAFF_ROLES:
        out["gradebook"] = f"{pages}/courses/{slug}/gradebook"
    return out


def assignment_row(course: dict, item: dict, attempts: dict[int, dict], pages: str) -> dict:
    """One assignment as the panel shows it; times stay UTC (ISO 8601) with the course's zone,
    and the page writes them in that zone with its offset."""
    submitted = attempts.get(item.get("submission_id") or 0, {})
    sid = item.get("submission_id")
    return {
        "course": course["course"], "course_title": course.get("title") or course["course"],
        "timezone": course.get("timezone") or "UTC",
        "assignment": item["assignment"], "title": item.get("title") or item["assignment"],
        "due_at": _iso(item.get("due_at")), "status": shown_status(item),
        "attempt": submitted.get("attempt"), "received_at": _iso(submitted.get("submitted_at")),
        "late": bool(item.get("late")), "score": item.get("score"), "max_score": item.get("max_score"),
        "feedback": [{"notebook": nb, "url": f"{pages}/api/v1/submissions/{sid}/feedback/{quote(nb)}.html"}
                     for nb in item.get("feedback") or []],
    }


def _iso(value) -> str | None:
    return value if value is None or isinstance(value, str) else value.isoformat()


def my_status(client: ServiceClient, pages: str) -> dict:
    """The caller's courses and, as a student, her assignments: three calls to the service,
    each about the token's owner only."""
    me = client.json("GET", "api/v1/me")
    courses = [course_links(c, pages) for c in me.get("courses", [])]
    rows = []
    if any(c["role"] == "student" for c in courses):
        login = quote(me["name"], safe="")
        report = client.json("GET", f"api/v1/students/{login}/grades")
        attempts = {s["id"]: s for s in client.json("GET", f"api/v1/students/{login}/submissions")}
        for course in report.get("courses", []):
            rows += [assignment_row(course, item, attempts, pages) for item in course.get("assignments", [])]
    return {"user": me["name"], "pages": {"home": pages + "/", "grades": f"{pages}/me/grades"},
            "courses": courses, "assignments": rows}


def _status_handler():
    """The handler class, made when the server loads the extension (jupyter_server's import
    stays out of processes that only read this module's functions)."""
    from jupyter_server.base.handlers import APIHandler
    from tornado import web

    class StatusHandler(APIHandler):
        """GET: the server owner's status, asked of the service with the server's token."""

        @web.authenticated
        async def get(self) -> None:
            language = os.environ.get("SABAQ_LANG")
            try:
                status = await asyncio.to_thread(_status_from_environment)
            except SabaqError as e:
                self.set_status(e.status if 400 <= e.status < 600 else 502)
                self.finish(json.dumps({"error": e.code, "message": e.translated(language)}))
                return
            self.set_header("Cache-Control", "no-store")
            self.finish(json.dumps(status))

    return StatusHandler


def service_client() -> ServiceClient:
    """The service as the server's owner: the address and token the spawner gave the server."""
    return ServiceClient.from_environment(timeout=20.0, retries=1)


def _status_from_environment() -> dict:
    with service_client() as client:
        return my_status(client, pages_url())


def _jupyter_server_extension_points():
    return [{"module": "sabaq.hub.exchange.status"}]


def _load_jupyter_server_extension(serverapp) -> None:
    from jupyter_server.utils import url_path_join

    base = serverapp.web_app.settings.get("base_url", "/")
    serverapp.web_app.add_handlers(".*$", [(url_path_join(base, ROUTE), _status_handler())])
