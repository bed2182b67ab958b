"""What every page shares: the templates, rendering in the reader's language, the
error page, and the tables of labels that pages show translated.

Pages import this module and never each other, so each page stays its own module.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from babel.numbers import format_decimal
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from sabaq.errors import SabaqError
from sabaq.hub.domain import assessment, gradebook
from sabaq.hub.domain.dates import show_when
from sabaq.hub.service.deps import LANG_COOKIE, csrf_token, request_language
from sabaq.hub.store.database import session_scope
from sabaq.hub.store.models import User
from sabaq.i18n import LANGUAGE_NAMES, LANGUAGES, N_, translator
from sabaq.mathtext import markdown_html, text_html

PREFIX = "/services/sabaq"
# Labels are msgids, translated where they are shown; listed here so the extractor finds them.
ROLE_NAMES = (N_("teacher"), N_("assistant"), N_("student"), N_("parent"), N_("admin"))
STATUS_NAMES = {
    gradebook.NOT_SUBMITTED: N_("not submitted"), gradebook.SUBMITTED: N_("submitted"),
    gradebook.GRADING: N_("grading"), gradebook.GRADED: N_("graded"),
    gradebook.NEEDS_MANUAL: N_("needs manual grading"), gradebook.FAILED: N_("grading failed"),
    gradebook.EXCUSED: N_("excused"), gradebook.PAPER: N_("on paper"),
}
LATE_NAMES = {"none": N_("accepted, no penalty"), "zero": N_("scores zero"), "percent": N_("loses a share per day")}
CATEGORY_NAMES = {assessment.FORMATIVE: N_("formative"), assessment.UNIT_SUMMATIVE: N_("unit summative"),
                  assessment.TERM_SUMMATIVE: N_("term summative")}

templates = Environment(
    loader=PackageLoader("sabaq.hub.service", "templates"),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
)
templates.filters["math"] = lambda text: Markup(text_html(text))  # text with its formulas as MathML
templates.filters["markdown"] = lambda text: Markup(markdown_html(text))  # a notebook's Markdown, likewise


def number_writer(lang: str):
    """The templates' num(value, digits): a number as the reader writes it, 66,7 in Kazakh and
    Russian, 66.7 in English."""
    def num(value, digits: int = 1) -> str:
        return "" if value is None else format_decimal(value, format="0." + "#" * digits, locale=lang)

    return num


def render(request: Request, name: str, status: int = 200, user: User | None = None, **context) -> HTMLResponse:
    lang = request_language(request, user)
    _ = translator(lang)
    course = context.get("course")
    zone = course.timezone if course is not None and course.timezone else request.app.state.settings.general.timezone

    def when(value, in_zone: str | None = None) -> str:
        """A time in the course's zone (else the site's, or the one named) with its offset: '18:00 (UTC+5)'."""
        return show_when(value, in_zone or zone, lang)

    def local_input(value) -> str:
        """A time as a datetime-local field shows it: the course's local time, no zone."""
        return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M") if value else ""

    html = templates.get_template(name).render(
        _=_, lang=lang, languages=LANGUAGES, language_names=LANGUAGE_NAMES, when=when, num=number_writer(lang),
        local_input=local_input, zone=zone,
        user=user, prefix=PREFIX, csrf=csrf_token(request), path=request.url.path,
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:
        # path "/": the hub's login page reads it too
        response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 86400, path="/", samesite="lax")
    return response


def error_page(request: Request, exc: SabaqError) -> HTMLResponse:
    lang = request_language(request)
    return render(request, "error.html", status=exc.status, message=exc.translated(lang),
                  user=getattr(request.state, "viewer", None))


def remember_language(request: Request, user: User) -> None:
    """A language chosen with ?lang= becomes the reader's own. Pages are GETs, whose sessions
    only read: it is written in a session of its own, and the page's copy of the account
    changed without being marked for writing."""
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES and user.language != chosen:
        with session_scope(request.app.state.sessions) as db:
            db.execute(update(User).where(User.id == user.id).values(language=chosen))
        set_committed_value(user, "language", chosen)


def back(url: str) -> RedirectResponse:
    """After a form is saved: see the page again (a reload does not post the form twice)."""
    return RedirectResponse(url, status_code=303)
