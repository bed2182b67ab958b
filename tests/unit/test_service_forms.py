"""The pages and the API read what teachers type the same way, and keep the same rules.

The app runs in-process on a temporary SQLite database (no hub, no browser): the
hub's identity is replaced with a header naming the caller, so each request is
one teacher's, CSRF included (that check belongs to the identity).
"""

from __future__ import annotations

import datetime as dt
import html

import pytest
from service_app import Site, notebook
from sqlalchemy import select

from sabaq.hub.domain import accounts, courses
from sabaq.hub.domain import assignments as asg
from sabaq.hub.store.models import Assignment, Course, GradeResult, ManualGrade, Role, utcnow
from sabaq.i18n import translator

TOO_SOON = "The due date is too soon: this course gives students at least {hours} hours after release."
NOT_A_NUMBER = "'{value}' is not a number."


@pytest.fixture
def site(tmp_path):
    """A course "alg8" taught by "teacher", its student "aliya", the assignment "hw1"
    released ten days ago, and aliya's graded submission (cell q1: 1 of 3 points)."""
    s = Site(tmp_path)
    with s.sessions() as db:
        course = courses.create_course(db, "alg8", "Алгебра 8")
        courses.set_member(db, course, accounts.create_user(db, "teacher"), Role.teacher)
        aliya = accounts.create_user(db, "aliya")
        courses.set_member(db, course, aliya, Role.student)
        a = asg.release(db, course, "hw1", {"hw.ipynb": notebook()}, {"hw.ipynb": notebook()},
                        now=utcnow() - dt.timedelta(days=10))
        submission = asg.submit(db, a, aliya, {"hw.ipynb": notebook()})
        db.add(GradeResult(submission_id=submission.id, status="graded", score=1.0, max_score=3.0,
                           details={"notebooks": {"hw": {"cells": {"q1": {
                               "score": 1.0, "auto_score": 1.0, "max_score": 3.0, "needs_manual_grade": False}}}}}))
        db.commit()
        s.submission_id = submission.id
    return s


def manual_score(site: Site) -> float | None:
    with site.sessions() as db:
        return db.scalar(select(ManualGrade.score).where(ManualGrade.submission_id == site.submission_id))


def test_a_decimal_comma_in_a_score_on_the_submission_page_is_saved(site):
    r = site.call("POST", f"/submissions/{site.submission_id}/marks", data={"score::hw::q1": "2,5"}, page=True)
    assert r.status_code == 303, r.text
    assert manual_score(site) == 2.5


def test_a_score_that_is_not_a_number_is_a_translated_page_not_a_500(site):
    r = site.call("POST", f"/submissions/{site.submission_id}/marks", data={"score::hw::q1": "abc"}, page=True)
    message = translator("ru")(NOT_A_NUMBER).format(value="abc")
    assert message != NOT_A_NUMBER.format(value="abc")
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert html.escape(message) in r.text
    assert manual_score(site) is None


def test_the_api_reads_a_score_as_the_page_does(site):
    path = f"/api/v1/submissions/{site.submission_id}/grades"
    r = site.call("PUT", path, json={"notebook": "hw", "grade_id": "q1", "score": "2,5"})
    assert r.status_code == 200, r.text
    assert manual_score(site) == 2.5
    r = site.call("PUT", path, json={"notebook": "hw", "grade_id": "q1", "score": "NaN"})
    assert r.status_code == 422
    assert r.json() == {"error": "invalid", "message": translator("ru")(NOT_A_NUMBER).format(value="NaN")}
    assert manual_score(site) == 2.5


def test_settings_pages_take_decimal_commas_and_refuse_what_does_not_fit(site):
    r = site.call("POST", "/courses/alg8/settings", page=True,
                  data={"scheme": "weighted", "scheme_weights": "formative=1,5", "min_notice_hours": "1,5",
                        "daily_load_minutes": "45"})
    assert r.status_code == 303, r.text
    r = site.call("POST", "/courses/alg8/assignments/hw1/settings", page=True,
                  data={"late_policy": "percent", "late_percent_per_day": "2,5", "late_floor_percent": "50"})
    assert r.status_code == 303, r.text
    with site.sessions() as db:
        course = db.scalar(select(Course).where(Course.slug == "alg8"))
        assert (course.scheme_weights, course.min_notice_hours, course.daily_load_minutes) == ({"formative": 1.5}, 1.5, 45)
        a = db.scalar(select(Assignment).where(Assignment.name == "hw1"))
        assert (a.late_percent_per_day, a.late_floor_percent) == (2.5, 50.0)
    for path, data in (("/courses/alg8/settings", {"min_notice_hours": "inf"}),
                       ("/courses/alg8/assignments/hw1/settings", {"late_percent_per_day": "150"}),
                       ("/courses/alg8/assignments/hw1/students/aliya", {"extension_minutes": "1,5"})):
        r = site.call("POST", path, data=data, page=True)
        assert r.status_code == 422 and "<html" in r.text.lower(), (path, r.status_code)


def test_a_due_date_inside_the_minimum_notice_is_refused_by_page_and_api_alike(site):
    with site.sessions() as db:
        db.scalar(select(Course).where(Course.slug == "alg8")).min_notice_hours = 24
        a = db.scalar(select(Assignment).where(Assignment.name == "hw1"))
        a.released_at = utcnow() - dt.timedelta(hours=1)
        db.commit()
        kept = a.due_at
    soon = (utcnow() + dt.timedelta(hours=2)).isoformat()
    message = translator("ru")(TOO_SOON).format(hours="24")
    assert message != TOO_SOON.format(hours="24")

    page = site.call("POST", "/courses/alg8/assignments/hw1/settings", data={"due": soon}, page=True)
    assert page.status_code == 422 and html.escape(message) in page.text
    api = site.call("PATCH", "/api/v1/courses/alg8/assignments/hw1", json={"due": soon})
    assert api.status_code == 422 and api.json()["message"] == message
    release = site.call("PUT", "/api/v1/courses/alg8/assignments/hw2", data={"due": soon},
                        files=[("release", ("hw.ipynb", notebook(), "application/x-ipynb+json"))])
    assert release.status_code == 422 and release.json()["message"] == message
    with site.sessions() as db:
        assert db.scalar(select(Assignment.due_at).where(Assignment.name == "hw1")) == kept
        assert db.scalar(select(Assignment).where(Assignment.name == "hw2")) is None

    later = (utcnow() + dt.timedelta(days=3)).replace(microsecond=0)
    assert site.call("POST", "/courses/alg8/assignments/hw1/settings", data={"due": later.isoformat()},
                     page=True).status_code == 303
    with site.sessions() as db:
        assert db.scalar(select(Assignment.due_at).where(Assignment.name == "hw1")) == later
