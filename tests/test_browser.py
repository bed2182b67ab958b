"""In a real browser: a student fetches and submits in nbgrader's Assignments panel,
and the teacher sees it on sabaq's course page."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(os.environ.get("SABAQ_SCREENSHOTS", "/tmp/sabaq-screenshots"))


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-dev-shm-usage",
        ])
        yield b
        b.close()


def login(browser, stack, name, lang="en-US"):
    context = browser.new_context(locale=lang, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"{stack.url}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", stack.logins[name])
    page.click("#login_submit")
    return page


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_student_fetches_and_submits_in_the_assignments_panel(browser, stack):
    page = login(browser, stack, "sofia")
    page.wait_for_url("**/user/sofia/lab**", timeout=180_000)
    page.wait_for_selector("#jp-main-dock-panel", timeout=120_000)
    page.click("text=Nbgrader")
    page.click("text=Assignment List")
    released = page.locator("#released_assignments_list")
    row = released.locator(".list_item", has_text="ps1")
    row.locator("button", has_text="Fetch").click()
    fetched = page.locator("#fetched_assignments_list .list_item", has_text="ps1")
    fetched.locator("button", has_text="Submit").click()
    submitted = page.locator("#submitted_assignments_list .list_item", has_text="ps1")
    submitted.first.wait_for()
    shot(page, "student-assignments")

    with stack.sessions()() as db:
        from sqlalchemy import select

        from sabaq.hub.models import Submission, User

        subs = list(db.scalars(select(Submission).join(User, User.id == Submission.student_id)
                               .where(User.name == "sofia")))
        assert any(s.assignment.name == "ps1" for s in subs)

    teacher = login(browser, stack, "teacher", lang="ru-RU")
    teacher.wait_for_url("**/user/teacher/**", timeout=180_000)
    teacher.goto(f"{stack.url}/services/sabaq/courses/demo")
    cell = teacher.locator('#submitted tr[data-student="sofia"]')
    cell.wait_for()
    assert "✓" in cell.inner_text()
    assert "Кто сдал" in teacher.content()  # Russian browser, Russian page
    shot(teacher, "teacher-course")


def test_teacher_imports_a_class_list_on_the_page(browser, stack, tmp_path):
    csv = tmp_path / "9c.csv"
    csv.write_text("full_name;сынып\nДана Әбенова;9C\n", encoding="utf-8")
    page = login(browser, stack, "teacher", lang="kk-KZ")
    page.wait_for_url("**/user/teacher/**", timeout=180_000)
    page.goto(f"{stack.url}/services/sabaq/courses/demo")
    page.set_input_files('input[name="file"]', str(csv))
    page.click('form button[type="submit"]')
    report = page.locator("#roster-report")
    report.wait_for()
    assert "Сынып тізімі жүктелді." in report.inner_text()
    assert "dana.abenova" in report.inner_text()
    shot(page, "teacher-roster")
    members = stack.api("teacher").get("/courses/demo/members").json()
    assert {"login": "dana.abenova", "full_name": "Дана Әбенова", "role": "student", "section": "9C"} in members


def test_parent_lands_on_their_childs_page(browser, stack):
    page = login(browser, stack, "parent", lang="kk-KZ")
    page.wait_for_url("**/services/sabaq/**", timeout=60_000)
    page.click("text=Әлия Нұрланқызы")
    page.wait_for_selector("table.work")
    assert "Физика 9 (демо)" in page.inner_text("main")
    assert page.locator('table.work tr[data-assignment="ps1"]').count() == 1
    shot(page, "parent-child")
    # another child's page is refused
    page.goto(f"{stack.url}/services/sabaq/students/timur")
    assert "Сізге" in page.content() or "рұқсатыңыз жоқ" in page.content()


def test_login_page_speaks_the_browsers_language(browser, stack):
    for locale, heading in (("ru-RU", "Войти"), ("kk-KZ", "Кіру"), ("en-GB", "Sign in")):
        context = browser.new_context(locale=locale)
        page = context.new_page()
        page.goto(f"{stack.url}/hub/login")
        expect(page.locator(".auth-form-header h1")).to_have_text(heading)
        context.close()
    context = browser.new_context(locale="ru-RU")
    page = context.new_page()
    page.goto(f"{stack.url}/hub/login")
    page.fill("#username_input", "aliya")
    page.fill("#password_input", "wrong")
    page.click("#login_submit")
    # the words are swapped in once the page's script has run
    expect(page.locator(".login_error")).to_have_text("Неверный логин или пароль")
    page.click('#sabaq-languages a[data-lang="kk"]')
    expect(page.locator(".login_error")).to_have_text("Логин немесе құпиясөз қате")
    shot(page, "login-kk")
    context.close()


def test_teacher_grades_by_hand_student_reads_feedback_parent_is_refused(browser, stack):
    from test_gradebook_e2e import graded_submission

    sid = graded_submission(stack, "timur")
    teacher = login(browser, stack, "teacher")
    teacher.wait_for_url("**/user/teacher/**", timeout=180_000)
    teacher.goto(f"{stack.url}/services/sabaq/submissions/{sid}")
    teacher.fill('input[name="score::motion::why_zero"]', "1")
    teacher.fill('textarea[name="comment::motion::test_speed"]', "Молодец, проверка нуля на месте.")
    teacher.fill('textarea[name="overall"]', "Отличная работа!")
    teacher.click("#release")
    teacher.wait_for_selector("#saved")
    assert "4 / 4" in teacher.inner_text("#total") and "feedback released" in teacher.inner_text("#total")
    shot(teacher, "teacher-grading")

    student = login(browser, stack, "timur", lang="ru-RU")
    student.wait_for_url("**/user/timur/**", timeout=180_000)
    student.goto(f"{stack.url}/services/sabaq/me/grades")
    row = student.locator('tr[data-assignment="ps1"]')
    assert "4 / 4" in row.inner_text()
    row.locator("a", has_text="motion").click()
    student.wait_for_selector("#summary")
    body = student.inner_text("body")
    assert "Отличная работа!" in body and "Молодец, проверка нуля на месте." in body
    assert "speed(0, 5)" not in body
    shot(student, "student-feedback")

    parent = login(browser, stack, "parent", lang="kk-KZ")
    parent.wait_for_url("**/services/sabaq/**", timeout=60_000)
    response = parent.goto(f"{stack.url}/services/sabaq/students/timur")
    assert response.status == 403
    assert "timur" in parent.inner_text(".error")
    response = parent.goto(f"{stack.url}/services/sabaq/api/v1/submissions/{sid}/feedback/motion.html")
    assert response.status == 403
