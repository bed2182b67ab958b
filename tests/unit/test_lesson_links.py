"""A student's course page links every lesson to her own server's lesson link
(sabaq.lessons.lessonlink), in the phone (Notebook 7) view through the hub's login and server
start, and in JupyterLab; the service gives that link one lesson as she receives it now, in her
current language, and only to a member of its course."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from service_app import Site

from sabaq.hub.domain import accounts, courses, lessons
from sabaq.lessons.meta import PUBLISHED_FILE, lesson_notebook
from sabaq.lessons.sync import unzip

PROJECTILE = Path(__file__).resolve().parents[2] / "courses" / "lessons" / "physics" / "projectile-motion"


@pytest.fixture
def site(tmp_path):
    s = Site(tmp_path)
    school = s.seed()
    with s.sessions() as db:
        course = courses.get_course(db, school.course)
        lessons.publish(db, course, PROJECTILE)
        accounts.find_user(db, school.student).language = "kk"
        db.commit()
    return s, school


def test_every_lesson_on_the_students_course_page_opens_through_her_servers_lesson_link(site):
    s, school = site
    page = s.call("GET", f"/courses/{school.course}", user=school.student, page=True)
    assert page.status_code == 200
    body = html.unescape(page.text)
    link = "/hub/user-redirect/sabaq/lessons/alg8/projectile-motion?lang=kk"  # her language: the fallback's choice
    assert f'<a class="lesson" href="{link}">' in body
    assert f'<a class="lab muted" href="{link}&view=lab">' in body
    assert 'id="phone-assignments" class="button" href="/hub/user-redirect/tree?sabaq=assignments"' in body


def test_the_service_gives_one_lesson_in_the_students_language_of_now(site):
    s, school = site
    path = f"/api/v1/me/lessons/{school.course}/projectile-motion.zip"
    r = s.call("GET", path, user=school.student)
    assert r.status_code == 200, r.text
    files = unzip(r.content)
    assert lesson_notebook(files) == "projectile-motion.kk.ipynb"
    assert not any(name.endswith((".ru.ipynb", ".en.ipynb")) for name in files)  # one language, as delivered
    assert "exercises.dat" in files and "exercises.toml" not in files  # no answers in clear
    assert PUBLISHED_FILE in files
    with s.sessions() as db:  # she switches to Russian while her server runs
        accounts.find_user(db, school.student).language = "ru"
        db.commit()
    assert lesson_notebook(unzip(s.call("GET", path, user=school.student).content)) == "projectile-motion.ru.ipynb"


def test_the_service_gives_a_lesson_only_to_a_member_of_its_course(site):
    s, school = site
    r = s.call("GET", f"/api/v1/me/lessons/{school.course}/projectile-motion.zip", user=school.parent, lang="en")
    assert r.status_code == 403 and "not a member" in r.json()["message"]
    r = s.call("GET", f"/api/v1/me/lessons/{school.course}/no-such-lesson.zip", user=school.student, lang="en")
    assert r.status_code == 404
    r = s.call("GET", "/api/v1/me/lessons/%2e%2e/projectile-motion.zip", user=school.student, lang="en")
    assert r.status_code == 404
