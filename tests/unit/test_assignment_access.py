"""Nobody exceeds their role (issue 14): a timed assignment's clock starts only when the
student starts it, and students cannot tell an unreleased assignment from a missing one.

The service runs in-process (tests/unit/test_service_forms.py's Site): each request is
one person's, named by a header.
"""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from sqlalchemy import select
from test_service_forms import Site, notebook

from sabaq.archive import unpack
from sabaq.hub.domain import accounts, courses
from sabaq.hub.domain import assignments as asg
from sabaq.hub.store.models import Assignment, Role, StudentRule, User, utcnow
from sabaq.i18n import translator

API = "/api/v1/courses/alg8/assignments"
NOT_STARTED = ("'{assignment}' is timed: once you start it, you have {minutes} minutes to submit it, and the clock "
               "cannot be paused. When you are ready, open {page} and press Start; then fetch it.")
MISSING = "There is no assignment '{assignment}' in the course '{course}'."


@pytest.fixture
def site(tmp_path):
    """Course "alg8": teacher "teacher", students "aliya" and "timur"; "hw1" released,
    "quiz" released and timed (30 minutes), "secret" not released yet."""
    s = Site(tmp_path)
    with s.sessions() as db:
        course = courses.create_course(db, "alg8", "Алгебра 8")
        courses.set_member(db, course, accounts.create_user(db, "teacher"), Role.teacher)
        for login in ("aliya", "timur"):
            courses.set_member(db, course, accounts.create_user(db, login), Role.student)
        past = utcnow() - dt.timedelta(days=1)
        for name in ("hw1", "quiz", "secret"):
            asg.release(db, course, name, {"hw.ipynb": notebook()}, {"hw.ipynb": notebook()}, now=past)
        db.scalar(select(Assignment).where(Assignment.name == "quiz")).timed_minutes = 30
        db.scalar(select(Assignment).where(Assignment.name == "secret")).released_at = None
        db.commit()
    return s


def started(site: Site, login: str, name: str = "quiz") -> dt.datetime | None:
    with site.sessions() as db:
        return db.scalar(select(StudentRule.opened_at).join(Assignment).join(User, User.id == StudentRule.student_id)
                         .where(Assignment.name == name, User.name == login))


def page_url(site: Site, name: str) -> str:
    return f"{site.app.state.settings.public_url}services/sabaq/courses/alg8/assignments/{name}"


def submit(site: Site, name: str, user: str = "aliya", content: bytes | None = None):
    files = [("files", ("hw.ipynb", notebook() if content is None else content, "application/x-ipynb+json"))]
    return site.call("POST", f"{API}/{name}/submissions", user=user, files=files)


def test_fetching_a_timed_assignment_starts_no_clock(site):
    """A GET (a link a classmate sent, the exchange's fetch) used to start the student's
    clock; now it answers 409 with what starting means and where to start."""
    r = site.call("GET", f"{API}/quiz/download", user="aliya")
    message = translator("ru")(NOT_STARTED).format(assignment="quiz", minutes=30, page=page_url(site, "quiz"))
    assert message != NOT_STARTED.format(assignment="quiz", minutes=30, page=page_url(site, "quiz"))
    assert r.status_code == 409 and r.json() == {"error": "not_started", "message": message}
    assert started(site, "aliya") is None
    # the page sent in the message, as a browser opens it: the same answer, no clock
    page = site.call("GET", f"{API}/quiz/download", user="aliya", page=True)
    assert page.status_code == 409 and started(site, "aliya") is None
    # nor can the work be submitted without starting (it would have no clock at all)
    r = submit(site, "quiz")
    assert r.status_code == 409 and r.json()["error"] == "not_started"
    # staff and untimed assignments are as before, and a fetch records nothing
    assert site.call("GET", f"{API}/quiz/download", user="teacher").status_code == 200
    assert site.call("GET", f"{API}/hw1/download", user="aliya").status_code == 200
    assert started(site, "aliya", "hw1") is None


def test_a_timed_assignment_starts_by_the_students_own_post(site):
    before = utcnow()
    r = site.call("POST", f"{API}/quiz/start", user="aliya")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["assignment"] == "quiz" and body["minutes"] == 30
    begun = dt.datetime.fromisoformat(body["started_at"])
    assert before <= begun <= utcnow()
    assert dt.datetime.fromisoformat(body["ends_at"]) == begun + dt.timedelta(minutes=30)
    assert started(site, "aliya") == begun and started(site, "timur") is None
    again = site.call("POST", f"{API}/quiz/start", user="aliya")
    assert again.status_code == 200 and again.json()["started_at"] == body["started_at"]  # never restarted
    zipped = site.call("GET", f"{API}/quiz/download", user="aliya")
    assert zipped.status_code == 200 and "hw.ipynb" in unpack(zipped.content)
    assert submit(site, "quiz").status_code == 201
    # only a student starts, and only a timed assignment
    assert site.call("POST", f"{API}/quiz/start", user="teacher").status_code == 403
    untimed = site.call("POST", f"{API}/hw1/start", user="aliya")
    assert untimed.status_code == 422 and untimed.json()["error"] == "not_timed"
    assert site.call("GET", f"{API}/quiz", user="aliya").json()["timed_minutes"] == 30


def test_the_students_page_has_the_start_button(site):
    _ = translator("ru")
    r = site.call("GET", "/courses/alg8/assignments/quiz", user="aliya", page=True)
    assert r.status_code == 200
    button = _("Start: my {minutes} minutes begin now").format(minutes=30)
    assert 'id="start"' in r.text and html.escape(button) in r.text
    assert re.search(r'<form method="post" action="[^"]*/courses/alg8/assignments/quiz/start">', r.text)
    assert started(site, "aliya") is None  # seeing the page starts nothing
    done = site.call("POST", "/courses/alg8/assignments/quiz/start", user="aliya", page=True)
    assert done.status_code == 303 and started(site, "aliya") is not None
    r = site.call("GET", "/courses/alg8/assignments/quiz", user="aliya", page=True)
    assert 'id="start"' not in r.text and 'class="remaining"' in r.text
    assert site.call("GET", f"{API}/quiz/download", user="aliya").status_code == 200
    # an untimed assignment's page has no button; the teacher's page neither
    assert 'id="start"' not in site.call("GET", "/courses/alg8/assignments/hw1", user="aliya", page=True).text
    assert 'id="start"' not in site.call("GET", "/courses/alg8/assignments/quiz", user="teacher", page=True).text


def assignment_routes(site: Site) -> list[tuple[str, str]]:
    """(method, path template) of every route, API and page, that names an assignment."""
    found = []
    for route in site.app.routes:
        if hasattr(route, "original_router"):  # a router included with the site's prefix
            prefix = route.include_context.prefix
            found += [(prefix + r.path, r.methods) for r in route.original_router.routes if hasattr(r, "methods")]
        elif hasattr(route, "methods"):
            found.append((route.path, route.methods))
    return [(m, path) for path, methods in found if "/courses/{course_id}/assignments/{name}" in path
            for m in sorted(methods - {"HEAD"})]


def test_students_cannot_tell_an_unreleased_assignment_from_a_missing_one(site):
    """The same status and the same body on every route (with the name swapped); the
    submissions list answered 200 for an unreleased assignment, and a submission to one
    was read (and refused for its content) before it was refused as missing."""
    damaged = b"{not a notebook"
    routes = assignment_routes(site)
    start = ("POST", "/services/sabaq/api/v1/courses/{course_id}/assignments/{name}/start")
    assert len(routes) > 15 and start in routes
    for method, template in routes:
        answers = []
        for name in ("secret", "nosuch"):
            path = template.replace("/services/sabaq", "").format(course_id="alg8", name=name, login="timur")
            kwargs = {"json": {}} if method == "PATCH" else {}
            if method in ("POST", "PUT"):
                kwargs = {"files": [("files", ("hw.ipynb", damaged, "x")), ("release", ("hw.ipynb", damaged, "x"))]}
            r = site.call(method, path, user="aliya", page="/api/" not in path, **kwargs)
            answers.append((r.status_code, r.text.replace(name, "NAME")))
        assert answers[0] == answers[1], (method, template, answers)
        assert answers[0][0] in (403, 404, 422), (method, template, answers[0])  # 422: a body the route cannot read
    message = translator("ru")(MISSING).format(assignment="secret", course="alg8")
    for method, path in (("GET", f"{API}/secret"), ("GET", f"{API}/secret/download"), ("POST", f"{API}/secret/start"),
                         ("GET", f"{API}/secret/submissions")):
        r = site.call(method, path, user="aliya")
        assert r.status_code == 404 and r.json() == {"error": "not_found", "message": message}, (method, path)
    assert submit(site, "secret", content=damaged).json() == {"error": "not_found", "message": message}
    # staff still see it
    assert site.call("GET", f"{API}/secret/submissions", user="teacher").json() == []
