"""The coach's contest page (issue 16, item 6): tasks in the order the coach sets (the API or
the page's own form), the newest verdict's first failure in the reader's language, and a
JSON table the open page polls to refresh itself, which only the course's staff may read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from service_app import Site

from sabaq.hub.domain import accounts, courses, olympiad
from sabaq.hub.domain import assignments as asg
from sabaq.hub.store.models import GradeResult, Role

GUESS = Path(__file__).resolve().parents[2] / "courses" / "olympiad" / "tasks" / "guess"
NOTE = {"message": "Token {number}: expected {expected}, got {got}.",
        "params": {"number": "1", "expected": "'4'", "got": "'3'"}}


@pytest.fixture
def site(tmp_path):
    """alg8 with three olympiad tasks (b, a, c) and aliya's wrong answer to b; another course
    with its own student."""
    s = Site(tmp_path)
    s.school = s.seed()
    with s.sessions() as db:
        course = courses.get_course(db, s.school.course)
        source = {"problem.yaml": b"name: T\n", "data/secret/1.in": b"2 2\n", "data/secret/1.ans": b"4\n"}
        made = {name: asg.release(db, course, name, {f"i18n/ru/{name}.ipynb": b"{}"}, source, category="olympiad")
                for name in ("b", "a", "c")}
        aliya = accounts.get_user(db, s.school.student)
        submission = asg.submit(db, made["b"], aliya, {"b.ipynb": b"{}", "solution.py": b"print(3)\n"})
        test = {"name": "1", "verdict": "WA", "time": 0.1, "message": "Token 1: expected '4', got '3'.", "note": NOTE}
        db.add(GradeResult(submission_id=submission.id, status="graded", score=0.0, max_score=0.0, details={
            "judge": {"verdict": "WA", "score": 0.0, "max_score": 0.0, "time": 0.1, "compile_message": "",
                      "groups": [{"name": "secret", "verdict": "WA", "points": 0.0, "max_points": 0.0, "time": 0.1,
                                  "first_failure": "1", "sample": False, "tests": [test]}]}}))
        other = courses.create_course(db, "other", "Other")
        courses.set_member(db, other, accounts.create_user(db, "stranger"), Role.student)
        courses.set_member(db, other, accounts.create_user(db, "coach2"), Role.teacher)
        db.commit()
    return s


def page_order(site, user="teacher") -> list[str]:
    page = site.call("GET", "/courses/alg8/contest", user=user, page=True)
    assert page.status_code == 200, page.text
    return re.findall(r'<th title="[^"]*" data-task="([^"]+)"', page.text)


def json_order(site) -> list[str]:
    answer = site.call("GET", "/api/v1/courses/alg8/contest")
    assert answer.status_code == 200, answer.text
    return answer.json()["tasks"]


def test_new_tasks_are_listed_by_name_until_the_coach_orders_them(site):
    assert page_order(site) == json_order(site) == ["a", "b", "c"]


def test_the_coach_orders_the_tasks_through_the_api(site):
    answer = site.call("PUT", "/api/v1/courses/alg8/contest/order", json={"tasks": ["c", "a"]})
    assert answer.status_code == 200 and answer.json() == {"tasks": ["c", "a", "b"]}  # the unnamed follow
    assert page_order(site) == json_order(site) == ["c", "a", "b"]
    assert page_order(site, user="assistant") == ["c", "a", "b"]
    row = site.call("GET", "/api/v1/courses/alg8/contest").json()["rows"][0]
    assert [c["task"] for c in row["cells"]] == ["c", "a", "b"]


def test_the_coach_orders_the_tasks_on_the_page(site):
    saved = site.call("POST", "/courses/alg8/contest/order", page=True, follow_redirects=False,
                      data={"place-a": "3", "place-b": "1", "place-c": "2"})
    assert saved.status_code == 303 and saved.headers["location"].endswith("/courses/alg8/contest")
    assert page_order(site) == ["b", "c", "a"]
    form = site.call("GET", "/courses/alg8/contest", page=True).text
    assert 'name="place-b" value="1"' in form and 'name="place-a" value="3"' in form


def test_an_order_naming_an_unknown_or_repeated_task_is_refused_and_changes_nothing(site):
    assert site.call("PUT", "/api/v1/courses/alg8/contest/order", json={"tasks": ["c", "hw1"]}).status_code == 404
    assert site.call("PUT", "/api/v1/courses/alg8/contest/order", json={"tasks": ["c", "c"]}).status_code == 422
    assert json_order(site) == ["a", "b", "c"]


@pytest.mark.parametrize("user", ["aliya", "stranger", "coach2", "assistant", "mama", None])
def test_only_the_courses_teacher_may_order_its_tasks(site, user):
    """The attack: a student (of the course, or of another one), another course's teacher, a
    parent or nobody sets the contest's order through the API or the page's form."""
    api = site.call("PUT", "/api/v1/courses/alg8/contest/order", user=user, json={"tasks": ["c", "b", "a"]})
    form = site.call("POST", "/courses/alg8/contest/order", user=user, page=True, follow_redirects=False,
                     data={"place-c": "1", "place-b": "2", "place-a": "3"})
    login = {302} if user is None else set()  # a page sends nobody to the login
    assert api.status_code in {401, 403, 404} and form.status_code in {401, 403, 404} | login
    assert json_order(site) == ["a", "b", "c"]


@pytest.mark.parametrize("user", ["aliya", "stranger", "coach2", "mama"])
def test_the_refresh_json_and_the_page_are_the_staffs_alone(site, user):
    """The attack: a student of another course (or of this one, or another teacher, a parent)
    reads the contest table the page refreshes from: everyone's scores and the judge's notes."""
    json_answer = site.call("GET", "/api/v1/courses/alg8/contest", user=user)
    page = site.call("GET", "/courses/alg8/contest", user=user, page=True)
    assert json_answer.status_code in (403, 404) and page.status_code in (403, 404)
    assert "expected" not in json_answer.text and "aliya" not in json_answer.text


def test_the_page_refreshes_from_the_json_and_without_script_by_its_link(site):
    page = site.call("GET", "/courses/alg8/contest", page=True).text
    assert '"/services/sabaq/api/v1/courses/alg8/contest"' in page and "setInterval(poll, 15000)" in page
    assert 'id="contest-refresh" href="/services/sabaq/courses/alg8/contest"' in page
    assert 'id="contest-table"' in page


def test_the_newest_failure_is_shown_in_the_readers_language(site):
    russian = site.call("GET", "/courses/alg8/contest", page=True, lang="ru").text
    assert "Лексема 1: ожидалось" in russian and "Token 1" not in russian
    english = site.call("GET", "/courses/alg8/contest", page=True, lang="en").text
    assert "Token 1: expected" in english
    cell = next(c for c in site.call("GET", "/api/v1/courses/alg8/contest").json()["rows"][0]["cells"]
                if c["task"] == "b")
    assert cell["failure"]["test"] == "1" and cell["failure"]["note"] == NOTE


def test_a_republished_task_keeps_its_place(site):
    """Publishing a task again keeps its place (the setting is the task's, not the upload's)."""
    with site.sessions() as db:
        course = courses.get_course(db, "alg8")
        olympiad.set_order(db, course, ["b", "a", "c"])
        asg.release(db, course, "a", {"i18n/ru/a.ipynb": b"{}"}, {"problem.yaml": b"name: T\n"},
                    category="olympiad")
        db.commit()
    assert json_order(site) == ["b", "a", "c"]


def test_sharing_the_interactor_is_the_coachs_task_setting(site):
    """Off at first: students fetch no interactor; the coach's switch gives it; publishing
    again without saying keeps the setting; switched off, the next release has none again."""
    def released(share):
        with site.sessions() as db:
            task = olympiad.publish(db, courses.get_course(db, "alg8"), GUESS, share_checker=share)
            db.commit()
            return task.share_checker, [f.path for f in task.files if f.path.startswith("interactor/")]

    assert released(None) == (False, [])
    assert released(True) == (True, ["interactor/interactor.py"])
    assert released(None) == (True, ["interactor/interactor.py"])
    assert released(False) == (False, [])
