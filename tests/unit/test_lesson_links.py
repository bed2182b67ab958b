"""A student's course page links every lesson to the student's own copy, in the phone
(Notebook 7) view through the hub's login and server start, and in JupyterLab."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from service_app import Site

from sabaq.hub.domain import accounts, courses, lessons

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


def test_the_notebook_path_is_the_delivered_copy_in_the_persons_language(site):
    s, school = site
    with s.sessions() as db:
        course = courses.get_course(db, school.course)
        lesson = lessons.get_lesson(db, course, "projectile-motion")
        aliya = accounts.find_user(db, school.student)
        teacher = accounts.find_user(db, school.teacher)
        teacher.language = "en"
        assert lessons.notebook_path(lesson, aliya) == "lessons/alg8/projectile-motion/projectile-motion.kk.ipynb"
        assert lessons.notebook_path(lesson, teacher) == "lessons/alg8/projectile-motion/projectile-motion.en.ipynb"
        # the path names exactly a file the person receives, under the folder the spawner merges into
        delivered = lessons.bundle_for(db, aliya)
        assert lessons.notebook_path(lesson, aliya).removeprefix(lessons.LESSONS_FOLDER + "/") in delivered


def test_every_lesson_on_the_students_course_page_opens_in_the_phone_view_or_in_jupyterlab(site):
    s, school = site
    page = s.call("GET", f"/courses/{school.course}", user=school.student, page=True)
    assert page.status_code == 200
    body = html.unescape(page.text)
    path = "lessons/alg8/projectile-motion/projectile-motion.kk.ipynb"
    assert f'<a class="lesson" href="/hub/user-redirect/notebooks/{path}">' in body
    assert f'href="/hub/user-redirect/lab/tree/{path}"' in body
    assert 'id="phone-assignments" class="button" href="/hub/user-redirect/tree?sabaq=assignments"' in body
