"""The server extension behind JupyterLab's "My assignments" panel and sabaq menu (issue 16):
a student sees her own assignments, what sabaq received, her released score and feedback
link, and nothing of anyone else's, however she asks; a parent's or a teacher's server shows
no student's work; the page's JavaScript never holds a token.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import pytest
from service_app import USER_HEADER, Site, notebook
from starlette.testclient import TestClient

from sabaq.client import ServiceClient
from sabaq.hub.domain import accounts, courses
from sabaq.hub.domain import assignments as asg
from sabaq.hub.exchange import status
from sabaq.hub.store.models import Course, GradeResult, Role, utcnow

PAGES = "/services/sabaq"


@pytest.fixture
def site(tmp_path):
    s = Site(tmp_path)
    s.school = s.seed()
    with s.sessions() as db:  # a classmate with two attempts of her own, and a second assignment
        course = db.query(Course).filter_by(slug=s.school.course).one()
        timur = accounts.create_user(db, "timur")
        courses.set_member(db, course, timur, Role.student, section="8A")
        hw1 = asg.get_assignment(db, course, s.school.assignment, staff=True)
        first = asg.submit(db, hw1, timur, {"hw.ipynb": notebook()})
        second = asg.submit(db, hw1, timur, {"hw.ipynb": notebook()})
        s.timur_ids = {first.id, second.id}
        hw2 = asg.release(db, course, "hw2", {"hw.ipynb": notebook()}, {"hw.ipynb": notebook()},
                          now=utcnow() - dt.timedelta(days=1))
        hw2.due_at = dt.datetime(2030, 3, 1, 13, 0, tzinfo=dt.timezone.utc)
        hw2.title = "Квадраттар"
        db.commit()
    return s


def client_as(site, login: str) -> ServiceClient:
    """The service as `login`'s server calls it (the test app names its caller by a header)."""
    client = ServiceClient("http://testserver/services/sabaq/", "the-servers-token", retries=0)
    client.http.close()
    client.http = TestClient(site.app, headers={USER_HEADER: login, "accept-language": "ru"})
    return client


def status_of(site, login: str) -> dict:
    with client_as(site, login) as client:
        return status.my_status(client, PAGES)


def rows(result: dict) -> dict[str, dict]:
    return {r["assignment"]: r for r in result["assignments"]}


def test_a_student_sees_her_released_score_feedback_link_and_attempt(site):
    school = site.school
    mine = status_of(site, school.student)
    assert mine["user"] == school.student
    hw1 = rows(mine)[school.assignment]
    assert hw1["status"] == status.RELEASED
    assert (hw1["score"], hw1["max_score"], hw1["attempt"]) == (1.0, 3.0, 1)
    assert hw1["received_at"]
    assert hw1["feedback"] == [{"notebook": "hw", "url": f"{PAGES}/api/v1/submissions/{school.submission_id}"
                                                          "/feedback/hw.html"}]
    # sabaq's own page, not the timestamp folder's .html that JupyterLab asks to "Trust"
    page = site.call("GET", hw1["feedback"][0]["url"][len(PAGES):], user=school.student)
    assert page.status_code == 200 and b"1 of 3" in page.content


def test_the_due_date_stays_utc_with_the_courses_zone_for_the_page_to_show(site):
    hw2 = rows(status_of(site, site.school.student))["hw2"]
    assert hw2["title"] == "Квадраттар"
    assert dt.datetime.fromisoformat(hw2["due_at"]) == dt.datetime(2030, 3, 1, 13, 0, tzinfo=dt.timezone.utc)
    assert hw2["timezone"] == "Asia/Almaty"  # shown as 18:00 (UTC+5) by the panel
    assert (hw2["status"], hw2["attempt"], hw2["score"], hw2["feedback"]) == (status.NOT_SUBMITTED, None, None, [])


def test_a_graded_submission_shows_received_until_the_teacher_releases_it(site):
    with site.sessions() as db:
        course = db.query(Course).filter_by(slug=site.school.course).one()
        aliya = accounts.find_user(db, site.school.student)
        hw2 = asg.get_assignment(db, course, "hw2", staff=True)
        asg.submit(db, hw2, aliya, {"hw.ipynb": notebook()})
        again = asg.submit(db, hw2, aliya, {"hw.ipynb": notebook()})
        db.add(GradeResult(submission_id=again.id, status="graded", score=3.0, max_score=3.0, details={}))
        db.commit()
    hw2 = rows(status_of(site, site.school.student))["hw2"]
    assert (hw2["status"], hw2["attempt"]) == (status.RECEIVED, 2)
    assert hw2["score"] is None  # not released yet: the panel shows no score


def test_a_student_never_gets_a_classmates_submissions(site):
    """The attack from the page: the handler takes no login, so the only student it can name
    is the token's owner; the service refuses her asking for his directly."""
    mine = status_of(site, site.school.student)
    text = json.dumps(mine)
    assert "timur" not in text
    assert rows(mine)[site.school.assignment]["attempt"] == 1  # his two attempts are not hers
    with client_as(site, site.school.student) as client:
        for path in ("api/v1/students/timur/grades", "api/v1/students/timur/submissions"):
            assert client.http.get(client.url(path)).status_code == 403


def test_a_parents_server_shows_no_childs_work_and_a_teacher_gets_the_gradebook_link(site):
    school = site.school
    parent = status_of(site, school.parent)
    assert parent["assignments"] == [] and parent["courses"] == []
    assert str(school.submission_id) not in json.dumps(parent["assignments"])
    teacher = status_of(site, school.teacher)
    assert teacher["assignments"] == []
    [course] = teacher["courses"]
    assert course["gradebook"] == f"{PAGES}/courses/{school.course}/gradebook"
    assert course["url"] == f"{PAGES}/courses/{school.course}"
    [course] = status_of(site, school.student)["courses"]
    assert "gradebook" not in course  # the menu shows a student no gradebook
    assert status.pages_url({"JUPYTERHUB_HOST": "https://school.kz", "JUPYTERHUB_BASE_URL": "/"}) == \
        "https://school.kz/services/sabaq"


# --- the handler in a real Jupyter server ------------------------------------------------


@pytest.fixture
def jupyter_server(site, monkeypatch, tmp_path):
    """A Jupyter server with the extension loaded (as the spawner's config does), its owner aliya."""
    from jupyter_server.serverapp import ServerApp
    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets

    monkeypatch.setattr(status, "service_client", lambda: client_as(site, site.school.student))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = ServerApp()
    app.initialize(argv=["--ServerApp.token=owners-secret", "--ServerApp.open_browser=False",
                         f"--ServerApp.root_dir={tmp_path}", "--ServerApp.base_url=/user/aliya/",
                         "--ServerApp.jpserver_extensions", "sabaq.hub.exchange.status=True"],
                   find_extensions=False, new_httpserver=False)
    sockets = bind_sockets(0, "127.0.0.1")
    server = HTTPServer(app.web_app)
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]

    def get(path: str, token: str | None = "owners-secret"):
        from tornado.httpclient import AsyncHTTPClient

        headers = {"Authorization": f"token {token}"} if token else {}
        return loop.run_until_complete(AsyncHTTPClient().fetch(f"http://127.0.0.1:{port}/user/aliya/{path}",
                                                                headers=headers, raise_error=False))

    yield get
    server.stop()
    loop.close()
    asyncio.set_event_loop(None)


def test_the_handler_answers_its_owner_whatever_the_request_names(site, jupyter_server):
    plain = jupyter_server("sabaq/status")
    assert plain.code == 200 and plain.headers["Cache-Control"] == "no-store"
    mine = json.loads(plain.body)
    assert mine["user"] == site.school.student
    # a student editing the page's request to name her classmate gets her own status again, or nothing
    for attack in ("sabaq/status?login=timur", "sabaq/status?student=timur&user=timur"):
        answer = jupyter_server(attack)
        assert answer.code == 200 and json.loads(answer.body) == mine
    assert jupyter_server("sabaq/status/timur").code == 404
    assert b"token" not in plain.body.lower()  # the server's token never reaches the page


def test_the_handler_asks_for_a_login(jupyter_server):
    for token in (None, "someone-elses-token"):
        answer = jupyter_server("sabaq/status", token=token)
        assert answer.code in (302, 401, 403)
        assert b"aliya" not in answer.body
