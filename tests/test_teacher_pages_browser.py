"""In a real browser, in Kazakh: a teacher creates an assignment on sabaq's own page with a
due date in local time, sees it with its offset, releases it, and releases feedback to
the class after confirming (issue 16). No JupyterLab is started: the hub's login sends
the teacher straight to the course page.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from browsing import log_in
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
SHOTS = Path(os.environ.get("SABAQ_SCREENSHOTS", "/tmp/sabaq-screenshots"))
COURSE = "/services/sabaq/courses/demo"


def source_notebook(path: Path) -> Path:
    """A teacher's nbgrader source: a solution cell and its test, 2 points."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_markdown_cell("Есепте: $x^2 = 9$, $x > 0$."))
    answer = nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 3\n### END SOLUTION", id="answer")
    answer.metadata["nbgrader"] = {"grade": False, "grade_id": "answer", "locked": False, "schema_version": 3,
                                   "solution": True, "task": False}
    test = nbformat.v4.new_code_cell("assert x == 3", id="test_x")
    test.metadata["nbgrader"] = {"grade": True, "grade_id": "test_x", "locked": True, "points": 2,
                                 "schema_version": 3, "solution": False, "task": False}
    nb.cells += [answer, test]
    nbformat.write(nb, path)
    return path


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_a_teacher_in_kazakh_creates_schedules_and_releases_an_assignment(chromium, stack, tmp_path):
    context, page = log_in(chromium, stack, "teacher", locale="kk-KZ", next_url=f"{COURSE}?lang=kk",
                           device={"viewport": {"width": 1300, "height": 900}})
    page.wait_for_url(re.compile(r".*/services/sabaq/courses/demo.*"))
    expect(page.locator("html")).to_have_attribute("lang", "kk")

    page.click("#new-assignment summary")
    page.fill("#new-title", "Квадрат теңдеулер")
    page.fill("#new-name", "quad-kk")
    page.fill("#new-due", "2030-03-01T18:00")
    page.set_input_files("#new-source", str(source_notebook(tmp_path / "quad.ipynb")))
    shot(page, "teacher-kk-new-assignment")
    page.click("#create-assignment")
    page.wait_for_url(re.compile(r".*/assignments/quad-kk$"))

    expect(page.locator("h1")).to_contain_text("Квадрат теңдеулер")
    expect(page.locator("body")).to_contain_text("18:00 (UTC+5)")  # typed in Almaty, shown with its offset
    expect(page.locator("#due")).to_have_value("2030-03-01T18:00")
    expect(page.locator("#release")).to_be_visible()  # a draft: students do not see it yet
    shot(page, "teacher-kk-draft")

    page.click("#release")
    page.wait_for_url(re.compile(r".*\?published=1$"))
    expect(page.locator("#notice")).to_be_visible()
    expect(page.locator("#unrelease")).to_be_visible()
    with stack.sessions()() as db:
        from sqlalchemy import select

        from sabaq.hub.store.models import Assignment

        a = db.scalar(select(Assignment).where(Assignment.name == "quad-kk"))
        assert a.released_at is not None and a.due_at.hour == 13 and a.max_score == 2  # 18:00 UTC+5
    shot(page, "teacher-kk-released")

    confirm = page.locator("#confirm-release-all")
    expect(confirm).to_be_hidden()  # one click is not enough: the teacher has to confirm
    page.click("#release-all")
    expect(confirm).to_be_visible()
    shot(page, "teacher-kk-confirm-feedback")
    confirm.click()
    page.wait_for_url(re.compile(r".*\?released=\d+$"))
    count = re.search(r"released=(\d+)$", page.url).group(1)
    expect(page.locator("#notice")).to_contain_text(count)
    shot(page, "teacher-kk-feedback-released")

    page.goto(f"{stack.url}{COURSE}")
    expect(page.locator("#submitted")).to_contain_text("Квадрат теңдеулер")
    expect(page.locator("#submitted")).to_contain_text("(UTC+5)")
    context.close()


def test_the_formgrader_of_a_real_teachers_server_may_be_framed_by_it_and_keeps_its_links(stack):
    """The teacher's own server, as JupyterHub starts it: the formgrader's page may be framed
    by the server itself (JupyterLab's panel), its other pages still by nobody; the
    formgrader's script links under /user/teacher/."""
    import httpx

    stack.start_server("teacher")
    server, host = stack.server("teacher")
    headers = {"Authorization": f"token {stack.token('teacher')}", **host}
    with httpx.Client(headers=headers, timeout=60, follow_redirects=True) as client:
        page = client.get(f"{server}/formgrader/manage_assignments")
        assert page.status_code == 200, page.text[-2000:]
        assert page.headers["content-security-policy"] == "frame-ancestors 'self'"
        lab = client.get(f"{server}/api/status")
        assert "frame-ancestors 'none'" in lab.headers["content-security-policy"]
        script = client.get(f"{server}/formgrader/static/js/utils.js")
        assert script.status_code == 200 and "base_url + prefix + path" in script.text
        course = client.get(f"{server}/formgrader", params={"path": "demo"})  # sabaq's link for the course
        assert course.status_code == 200
        listed = client.get(f"{server}/formgrader/api/assignments")
        assert listed.status_code == 200 and "ps1" in {a["name"] for a in listed.json()}, listed.text[:500]
