"""A teacher's day on sabaq's own pages (issue 16): creating, titling, scheduling and
releasing an assignment in the course's local time, releasing feedback after a
confirmation, with the same rules as the API.

The app runs in-process (tests/service_app.py): each request is one person's.
"""

from __future__ import annotations

import datetime as dt
import html

import pytest
from service_app import Site, notebook
from sqlalchemy import select

from sabaq.hub.domain import courses
from sabaq.hub.store.models import Assignment, Course, Feedback

DUE_UTC = dt.datetime(2026, 12, 20, 13, 0, tzinfo=dt.timezone.utc)  # 18:00 in Almaty (UTC+5)


@pytest.fixture
def site(tmp_path):
    s = Site(tmp_path)
    s.school = s.seed()
    return s


def assignment(site, name: str = "hw1") -> Assignment:
    with site.sessions() as db:
        a = db.scalar(select(Assignment).where(Assignment.name == name))
        db.expunge_all()
        return a


def post(site, path: str, user: str = "teacher", **data):
    return site.call("POST", path, user=user, page=True, data=data)


def test_a_due_date_typed_on_the_page_is_the_course_local_time_and_shown_with_its_offset(site):
    r = post(site, "/courses/alg8/assignments/hw1/schedule", title="Квадрат теңдеулер",
             due="2026-12-20T18:00", closes="2026-12-21T09:00")
    assert r.status_code == 303 and r.headers["location"].endswith("?saved=1")
    a = assignment(site)
    assert a.due_at == DUE_UTC and a.closes_at == dt.datetime(2026, 12, 21, 4, 0, tzinfo=dt.timezone.utc)
    assert a.title == "Квадрат теңдеулер" and a.name == "hw1"
    page = html.unescape(site.call("GET", "/courses/alg8/assignments/hw1?saved=1", lang="kk", page=True).text)
    assert "18:00 (UTC+5)" in page and 'value="2026-12-20T18:00"' in page
    assert "<h1>Квадрат теңдеулер" in page
    course = html.unescape(site.call("GET", "/courses/alg8", lang="kk", page=True).text)
    assert "Квадрат теңдеулер" in course and "18:00 (UTC+5)" in course


def test_the_course_time_zone_is_a_setting_that_moves_what_is_typed_and_shown(site):
    r = post(site, "/courses/alg8/settings", scheme="kz-criteria", timezone="Europe/Moscow")
    assert r.status_code == 303
    post(site, "/courses/alg8/assignments/hw1/schedule", title="hw1", due="2026-12-20T18:00")
    assert assignment(site).due_at == dt.datetime(2026, 12, 20, 15, 0, tzinfo=dt.timezone.utc)
    assert "18:00 (UTC+3)" in site.call("GET", "/courses/alg8/assignments/hw1", page=True).text
    # the API reads its dates in the same zone
    r = site.call("PATCH", "/api/v1/courses/alg8/assignments/hw1", json={"due": "2026-12-22 10:00"})
    assert r.status_code == 200, r.text
    assert assignment(site).due_at == dt.datetime(2026, 12, 22, 7, 0, tzinfo=dt.timezone.utc)


def test_a_course_starts_in_almaty_and_refuses_a_zone_that_does_not_exist(site):
    with site.sessions() as db:
        assert courses.get_course(db, "alg8").timezone == "Asia/Almaty"
    for bad in ("Mars/Olympus", "../../etc/passwd", ""):
        r = site.call("PATCH", "/api/v1/courses/alg8", json={"timezone": bad})
        assert r.status_code == 422 and "Asia/Almaty" in r.json()["message"], bad
    r = post(site, "/courses/alg8/settings", scheme="kz-criteria", timezone="Mars/Olympus", lang="ru")
    assert r.status_code == 422
    with site.sessions() as db:
        assert db.scalar(select(Course.timezone)) == "Asia/Almaty"


def test_the_page_keeps_the_api_rules_for_dates(site):
    site.call("PATCH", "/api/v1/courses/alg8", json={"min_notice_hours": 24})
    soon = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    post(site, "/courses/alg8/assignments/hw1/unrelease")
    post(site, "/courses/alg8/assignments/hw1/schedule", title="hw1", due=soon)
    tomorrow = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=5)
    with site.sessions() as db:  # a due date five hours away, then a release now: too little notice
        db.scalar(select(Assignment)).due_at = tomorrow
        db.commit()
    r = post(site, "/courses/alg8/assignments/hw1/release")
    assert r.status_code == 422 and "24" in r.text
    assert assignment(site).released_at is None
    r = post(site, "/courses/alg8/assignments/hw1/schedule", title="hw1", due="2030-01-02T10:00",
             closes="2030-01-01T10:00")
    assert r.status_code == 422
    assert assignment(site).closes_at is None
    r = post(site, "/courses/alg8/assignments/hw1/schedule", title="hw1", due="tomorrow-ish")
    assert r.status_code == 422 and "2026-12-01 18:00" in html.unescape(r.text)


def test_a_teacher_creates_a_draft_from_source_notebooks_and_releases_it(site):
    r = site.call("POST", "/courses/alg8/assignments", page=True,
                  data={"name": "quad", "title": "Квадрат теңдеулер", "due": "2030-01-10T18:00"},
                  files=[("source", ("quad.ipynb", notebook(5), "application/x-ipynb+json"))])
    assert r.status_code == 303, r.text
    a = assignment(site, "quad")
    assert a.released_at is None and a.max_score == 5 and a.title == "Квадрат теңдеулер"
    assert a.due_at == dt.datetime(2030, 1, 10, 13, 0, tzinfo=dt.timezone.utc)
    assert site.call("GET", "/api/v1/courses/alg8/assignments/quad", user="aliya").status_code == 404
    assert "Квадрат теңдеулер" not in site.call("GET", "/courses/alg8", user="aliya", page=True).text
    r = post(site, "/courses/alg8/assignments/quad/release")
    assert r.status_code == 303 and assignment(site, "quad").released_at is not None
    assert site.call("GET", "/api/v1/courses/alg8/assignments/quad", user="aliya").status_code == 200
    assert "Квадрат теңдеулер" in site.call("GET", "/courses/alg8", user="aliya", page=True).text
    files = site.call("GET", "/api/v1/courses/alg8/assignments/quad/download", user="aliya")
    assert files.status_code == 200 and files.content[:2] == b"PK"
    # the same id again is refused before anything is replaced
    r = site.call("POST", "/courses/alg8/assignments", page=True, data={"name": "quad"},
                  files=[("source", ("quad.ipynb", notebook(1), "application/x-ipynb+json"))])
    assert r.status_code == 409 and assignment(site, "quad").max_score == 5


def test_an_id_that_is_a_path_is_refused_before_nbgrader_runs(site):
    for bad in ("../evil", "a/b", ""):
        r = site.call("POST", "/courses/alg8/assignments", page=True, data={"name": bad},
                      files=[("source", ("x.ipynb", notebook(), "application/x-ipynb+json"))])
        assert r.status_code == 422, bad


def test_students_and_assistants_cannot_schedule_release_or_create(site):
    """The attack as a student would do it: posting the teacher's forms by hand."""
    for who in ("aliya", "assistant", "mama"):
        for path in ("/courses/alg8/assignments/hw1/unrelease", "/courses/alg8/assignments/hw1/release"):
            assert post(site, path, user=who).status_code in (403, 404), (who, path)
        r = post(site, "/courses/alg8/assignments/hw1/schedule", user=who, title="pwned", due="2030-01-01T00:00")
        assert r.status_code in (403, 404)
        r = site.call("POST", "/courses/alg8/assignments", user=who, page=True, data={"name": "mine"},
                      files=[("source", ("x.ipynb", notebook(), "application/x-ipynb+json"))])
        assert r.status_code in (403, 404)
    a = assignment(site)
    assert a.title == "hw1" and a.released_at is not None and a.due_at is None
    assert assignment(site, "mine") is None


def test_releasing_feedback_to_the_class_needs_a_confirmation_and_says_what_it_did(site):
    with site.sessions() as db:
        db.query(Feedback).delete()
        db.commit()
    page = site.call("GET", "/courses/alg8/assignments/hw1", lang="en", page=True).text
    assert "Yes, release feedback to 1 students" in page
    r = post(site, "/courses/alg8/assignments/hw1/release-feedback")
    assert r.status_code == 422 and "подтвердите" in r.text  # in the reader's language (site.call: ru)
    with site.sessions() as db:
        assert db.scalar(select(Feedback)) is None
    r = post(site, "/courses/alg8/assignments/hw1/release-feedback", confirm="1")
    assert r.status_code == 303 and r.headers["location"].endswith("?released=1")
    with site.sessions() as db:
        assert db.scalar(select(Feedback)) is not None
    shown = site.call("GET", "/courses/alg8/assignments/hw1?released=1", lang="en", page=True).text
    assert "Feedback released to 1 students." in shown


def add_student(site, login: str = "timur") -> None:
    from sabaq.hub.domain import accounts
    from sabaq.hub.store.models import Role

    with site.sessions() as db:
        courses.set_member(db, courses.get_course(db, "alg8"), accounts.create_user(db, login), Role.student,
                           section="8A")
        db.commit()


def test_the_export_writes_not_submitted_for_work_not_handed_in_not_zero(site):
    add_student(site)
    with site.sessions() as db:  # the due date has passed: the missing work counts as zero in the totals
        db.scalar(select(Assignment)).due_at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
        db.commit()
    csv_text = site.call("GET", "/api/v1/courses/alg8/export.csv", lang="ru").content.decode("utf-8-sig")
    lines = {line.split(",")[0]: line.split(",") for line in csv_text.splitlines()}
    assert lines["timur"][3] == "не сдано" and lines["aliya"][3] == "1.0"
    header = csv_text.splitlines()[0].split(",")
    assert header[3] == "hw1"  # the assignment's title (it has none but its id here)


def test_a_term_grade_is_provisional_while_manual_grading_waits_and_decimals_follow_the_language(site):
    from sabaq.hub.store.models import GradeResult

    page = site.call("GET", "/courses/alg8/gradebook", lang="ru", page=True).text
    assert "предварительн" not in page.lower() and "33,3" in page and "33.3" not in page
    assert "33.3" in site.call("GET", "/courses/alg8/gradebook", lang="en", page=True).text
    with site.sessions() as db:
        result = db.scalar(select(GradeResult))
        result.needs_manual_grade = True
        db.commit()
    page = site.call("GET", "/courses/alg8/gradebook", lang="en", page=True).text
    assert 'class="late provisional">provisional<' in page
    csv_text = site.call("GET", "/api/v1/courses/alg8/export.csv", lang="en").content.decode("utf-8-sig")
    assert "(provisional)" in csv_text.splitlines()[1]


def test_an_empty_score_chart_has_no_negative_axis():
    from sabaq.hub.domain import reports

    for percents in ([], [40.0, 45.0, 90.0]):
        ax = reports.distribution_figure(percents, "t", "x", "y").axes[0]
        assert ax.get_ylim()[0] == 0 and min(ax.get_yticks()) >= 0
        assert all(float(t).is_integer() for t in ax.get_yticks())


def test_releasing_again_from_nbgrader_keeps_the_date_set_on_the_page(site):
    post(site, "/courses/alg8/assignments/hw1/schedule", title="hw1", due="2030-01-10T18:00")
    files = [("release", ("hw.ipynb", notebook(), "application/x-ipynb+json"))]
    r = site.call("PUT", "/api/v1/courses/alg8/assignments/hw1", files=files)  # nbgrader's release: no date
    assert r.status_code == 200, r.text
    assert assignment(site).due_at == dt.datetime(2030, 1, 10, 13, 0, tzinfo=dt.timezone.utc)
    r = site.call("PUT", "/api/v1/courses/alg8/assignments/hw1", files=files, data={"due": "2030-02-01 09:00"})
    assert assignment(site).due_at == dt.datetime(2030, 2, 1, 4, 0, tzinfo=dt.timezone.utc)


def test_a_students_grades_page_shows_due_dates_in_the_course_zone(site):
    post(site, "/courses/alg8/settings", scheme="kz-criteria", timezone="Europe/Moscow")
    post(site, "/courses/alg8/assignments/hw1/schedule", title="Үй жұмысы", due="2030-01-10T18:00")
    page = html.unescape(site.call("GET", "/students/aliya", user="aliya", lang="kk", page=True).text)
    assert "18:00 (UTC+3)" in page and "Үй жұмысы" in page


def test_the_grading_page_shows_the_submission_time_in_the_course_zone(site):
    post(site, "/courses/alg8/settings", scheme="kz-criteria", timezone="Asia/Kolkata")
    page = site.call("GET", f"/submissions/{site.school.submission_id}", page=True).text
    assert "(UTC+5:30)" in page


def test_a_gradebook_cell_of_work_still_being_graded_names_its_status():
    """A submission the workers have not graded yet has no score: its cell says so (the page
    answered 500 while any of the class's work was being graded)."""
    from types import SimpleNamespace

    from sabaq.hub.domain import gradebook
    from sabaq.hub.service.pages.gradebook import mark_cells
    from sabaq.hub.service.pages.render import STATUS_NAMES

    a = SimpleNamespace(id=1)
    rows = [SimpleNamespace(student=SimpleNamespace(id=1), marks={1: gradebook.Mark(gradebook.GRADING, submission_id=7)}),
            SimpleNamespace(student=SimpleNamespace(id=2),
                            marks={1: gradebook.Mark(gradebook.GRADED, score=2.5, submission_id=8)})]
    cells = mark_cells(SimpleNamespace(rows=rows, assignments=[a]), lambda text: text, comma=True)
    grading, graded = str(cells[1][0]), str(cells[2][0])
    assert STATUS_NAMES[gradebook.GRADING] in grading and "/submissions/7" in grading
    assert ">2,5<" in graded
