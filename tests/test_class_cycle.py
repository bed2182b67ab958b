"""The whole class cycle in a real browser, once in Kazakh and once in Russian (issue 16):
the teacher creates, schedules (a local due date) and releases an assignment on sabaq's
pages; a student fetches it in nbgrader's Assignments panel, answers, submits and reads
"received" in sabaq's "My assignments" panel in JupyterLab; the teacher grades the manual
cell with a formula in the comment and releases feedback to the class after confirming; the
student sees her score and opens the feedback from JupyterLab. axe-core checks every sabaq
page on the way; a screenshot of each step is written under SABAQ_SCREENSHOTS/class-cycle-<lang>/.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path

import nbformat
import pytest
from browsing import log_in
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
SHOTS = Path(os.environ.get("SABAQ_SCREENSHOTS", "/tmp/sabaq-screenshots"))
PAGES = "/services/sabaq"
COURSE = f"{PAGES}/courses/demo"
LAB_START = 240_000  # ms: a server's JupyterLab on a busy 2-core machine

# what each language's reader sees (sabaq's pages and the sabaq-lab catalogues)
WORDS = {
    "kk": {"locale": "kk-KZ", "student": "aliya", "panel": "Менің тапсырмаларым", "received": "қабылданды",
           "attempt": "қабылданды: 1-әрекет", "released": "пікір жарияланды", "score": "Балл: 4 / 4",
           "menu": "Менің бағаларым", "lessons": "Сабақтар", "gradebook": "Бағалар журналы"},
    "ru": {"locale": "ru-RU", "student": "timur", "panel": "Мои задания", "received": "получено",
           "attempt": "получено: попытка 1 в", "released": "отзыв опубликован", "score": "Балл: 4 из 4",
           "menu": "Мои оценки", "lessons": "Уроки", "gradebook": "Журнал оценок"},
}


def source_notebook(path: Path) -> Path:
    """The teacher's nbgrader source: an answer checked by a test (2 points) and an
    explanation graded by hand (2 points)."""
    nb = nbformat.v4.new_notebook()
    # as JupyterLab saves a teacher's notebook (without it the student is asked to pick a kernel)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells.append(nbformat.v4.new_markdown_cell("$x^2 = 9$, $x > 0$: x = ?"))
    answer = nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 3\n### END SOLUTION", id="answer")
    answer.metadata["nbgrader"] = {"grade": False, "grade_id": "answer", "locked": False, "schema_version": 3,
                                   "solution": True, "task": False}
    test = nbformat.v4.new_code_cell("assert x == 3", id="test_x")
    test.metadata["nbgrader"] = {"grade": True, "grade_id": "test_x", "locked": True, "points": 2,
                                 "schema_version": 3, "solution": False, "task": False}
    explain = nbformat.v4.new_markdown_cell("YOUR ANSWER HERE", id="explain")
    explain.metadata["nbgrader"] = {"grade": True, "grade_id": "explain", "locked": False, "points": 2,
                                    "schema_version": 3, "solution": True, "task": False}
    nb.cells += [answer, test, explain]
    nbformat.write(nb, path)
    return path


class Journey:
    """Screenshots and axe-core findings of one language's cycle."""

    def __init__(self, lang: str):
        self.folder = SHOTS / f"class-cycle-{lang}"
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):  # a previous run's steps
            old.unlink()
        self.step = 0
        self.violations: list[str] = []

    def shot(self, page, name: str) -> None:
        self.step += 1
        page.screenshot(path=str(self.folder / f"{self.step:02d}-{name}.png"), full_page=True)

    def check(self, page, name: str) -> None:
        """axe-core on a sabaq page: serious and critical violations, kept for the end."""
        try:
            from axe import axe_violations, describe
        except ImportError:  # tests/axe.py (the accessibility helper) not there: nothing to run
            return
        found = axe_violations(page)
        if found:
            self.violations.append(f"{name} ({page.url}):\n{describe(found)}")


def login(chromium, stack, name: str, locale: str, next_url: str | None = None):
    return log_in(chromium, stack, name, locale=locale, next_url=next_url)[1]


def wait_for(check, timeout: float = 240, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    return None


def a_fresh_server_in(stack, student: str, lang: str) -> None:
    """The student's language is `lang`; a server started before in another one is stopped."""
    assert stack.api(student).patch("/me", json={"language": lang}).status_code == 200
    hub = stack.hub_api(stack.token(student))
    hub.delete(f"/users/{student}/server")
    assert wait_for(lambda: not hub.get(f"/users/{student}").json().get("servers"), timeout=120)


def answer_in_the_notebook(lab, stack, student: str, assignment: str) -> None:
    """She opens the fetched notebook from JupyterLab's file browser, writes her code and her
    explanation in the cells nbgrader left for them, and saves."""
    lab.click('.lm-TabBar-tab[data-id="filebrowser"]')
    # from her home: JupyterLab reopens the folder she was in last (another test's lesson, on a
    # shared stack), perhaps only after the first click
    course = lab.locator(".jp-DirListing-itemText", has_text=re.compile(r"^demo$"))
    for _attempt in range(3):
        lab.locator(".jp-FileBrowser .jp-BreadCrumbs-home").click()
        with contextlib.suppress(PlaywrightTimeout):  # the restored folder came after the click: home again
            course.wait_for(timeout=20_000)
        if course.is_visible():
            break
    for item in ("demo", assignment, "cycle.ipynb"):  # nbgrader's folder: <course>/<assignment>
        lab.locator(".jp-DirListing-itemText", has_text=re.compile(rf"^{re.escape(item)}$")).dblclick()
    notebook = lab.locator(".jp-NotebookPanel:visible")
    notebook.locator(".jp-CodeCell").first.wait_for()
    dialog = lab.locator(".jp-Dialog")
    assert not dialog.is_visible(), dialog.inner_text()  # no question before she can write
    code = notebook.locator(".jp-CodeCell", has_text="NotImplementedError")
    code.locator(".cm-content").click()
    lab.keyboard.press("Control+a")
    lab.keyboard.type("x = 3")
    explain = notebook.locator(".jp-MarkdownCell", has_text="YOUR ANSWER HERE")
    explain.dblclick()
    explain.locator(".cm-content").click()
    lab.keyboard.press("Control+a")
    lab.keyboard.type("x = 3, because 3 * 3 = 9 and x > 0.")
    lab.keyboard.press("Control+s")
    saved = Path(stack.homes) / stack.system_user(student) / "demo" / assignment / "cycle.ipynb"
    assert wait_for(lambda: "because 3 * 3 = 9" in saved.read_text(encoding="utf-8"), timeout=60), \
        saved.read_text(encoding="utf-8")
    assert "x = 3" in "".join(c.source for c in nbformat.read(saved, as_version=4).cells if c.cell_type == "code")


@pytest.mark.parametrize("lang", ["kk", "ru"])
def test_the_whole_class_cycle_in_the_browser(chromium, stack, tmp_path, lang):
    words = WORDS[lang]
    student, name = words["student"], f"cycle-{lang}"
    journey = Journey(lang)

    # --- the teacher creates, schedules and releases the assignment on sabaq's pages
    teacher = login(chromium, stack, "teacher", words["locale"], f"{COURSE}?lang={lang}")
    teacher.wait_for_url(re.compile(r".*/services/sabaq/courses/demo.*"))
    expect(teacher.locator("html")).to_have_attribute("lang", lang)
    journey.check(teacher, "course page")
    teacher.click("#new-assignment summary")
    teacher.fill("#new-title", f"Квадрат ({lang})")
    teacher.fill("#new-name", name)
    teacher.fill("#new-due", "2030-03-01T18:00")
    teacher.set_input_files("#new-source", str(source_notebook(tmp_path / "cycle.ipynb")))
    journey.shot(teacher, "teacher-new-assignment")
    teacher.click("#create-assignment")
    teacher.wait_for_url(re.compile(rf".*/assignments/{name}$"))
    expect(teacher.locator("body")).to_contain_text("18:00 (UTC+5)")
    journey.check(teacher, "assignment page (draft)")
    journey.shot(teacher, "teacher-draft")
    teacher.click("#release")
    teacher.wait_for_url(re.compile(r".*\?published=1$"))
    expect(teacher.locator("#unrelease")).to_be_visible()
    journey.check(teacher, "assignment page (released)")
    journey.shot(teacher, "teacher-released")

    # --- the student, in her language: fetch, answer, submit; "received" in My assignments
    a_fresh_server_in(stack, student, lang)
    lab = login(chromium, stack, student, words["locale"])
    lab.wait_for_url(f"**/user/{student}/lab**", timeout=LAB_START)
    lab.wait_for_selector("#jp-main-dock-panel", timeout=LAB_START)
    lab.click('.lm-TabBar-tab[data-id="sabaq-assignments"]')
    panel = lab.locator("#sabaq-assignments")
    expect(panel.locator("h2")).to_have_text(words["panel"])
    card = panel.locator(f'.sabaq-card[data-assignment="{name}"]')
    expect(card.locator(".sabaq-due")).to_contain_text("18:00 (UTC+5)", timeout=60_000)
    expect(card).to_have_attribute("data-status", "not_submitted")
    journey.shot(lab, "student-my-assignments")

    lab.click("text=Nbgrader")
    lab.click("text=Assignment List")
    lab.locator("#released_assignments_list .list_item", has_text=name).locator("button", has_text="Fetch").click()
    fetched = lab.locator("#fetched_assignments_list .list_item", has_text=name)
    fetched.wait_for()
    answer_in_the_notebook(lab, stack, student, name)
    journey.shot(lab, "student-answers")
    lab.locator(".lm-TabBar-tab", has_text="Assignments").click()
    fetched.locator("button", has_text="Submit").first.click()
    lab.locator("#submitted_assignments_list .list_item", has_text=name).first.wait_for()
    lab.click('.lm-TabBar-tab[data-id="sabaq-assignments"]')  # back from the file browser
    lab.click(".sabaq-refresh")
    expect(card).to_have_attribute("data-status", "received", timeout=60_000)
    expect(card.locator(".sabaq-status")).to_have_text(words["received"])
    expect(card.locator(".sabaq-received")).to_contain_text(words["attempt"])
    expect(card.locator(".sabaq-received")).to_contain_text(re.compile(r"\d\d:\d\d"))
    expect(card.locator(".sabaq-score")).to_have_count(0)
    journey.shot(lab, "student-received")

    # the sabaq menu: her pages in new tabs, and no gradebook for a student
    lab.click('.lm-MenuBar-itemLabel:text-is("sabaq")')
    menu = lab.locator("#sabaq-menu")
    expect(menu).to_contain_text(words["lessons"])
    expect(menu).not_to_contain_text(words["gradebook"])
    journey.shot(lab, "student-sabaq-menu")
    with lab.context.expect_page() as opened:
        menu.locator(".lm-Menu-itemLabel", has_text=words["menu"]).click()
    grades = opened.value
    grades.wait_for_load_state()
    assert grades.url.endswith(f"{PAGES}/me/grades")
    expect(grades.locator(f'tr[data-assignment="{name}"]')).to_be_visible()
    journey.check(grades, "my grades")
    grades.close()

    # --- the teacher grades the explanation by hand, a formula in the comment
    def graded():
        for s in stack.api("teacher").get(f"/courses/demo/assignments/{name}/submissions").json():
            if s["student"] == student and s["grade"]:
                return s
    submission = wait_for(graded)
    assert submission, stack.log_tail()
    assert submission["grade"]["needs_manual_grade"]
    teacher.goto(f"{stack.url}{COURSE}/assignments/{name}")
    teacher.locator(f'tr[data-student="{student}"] a').first.click()
    teacher.wait_for_url(re.compile(rf".*/submissions/{submission['id']}$"))
    teacher.fill('input[name="score::cycle::explain"]', "2")
    teacher.fill('textarea[name="comment::cycle::explain"]', r"Дұрыс / Верно: $\sqrt{9} = 3$")
    teacher.click('button[name="save"]')
    teacher.wait_for_selector("#saved")
    expect(teacher.locator("#total")).to_contain_text("4")
    expect(teacher.locator(".comment math").first).to_be_attached()  # the formula as MathML, not raw LaTeX
    journey.check(teacher, "grading page")
    journey.shot(teacher, "teacher-grading")

    # --- and releases feedback to the class, after confirming
    teacher.goto(f"{stack.url}{COURSE}/assignments/{name}")
    confirm = teacher.locator("#confirm-release-all")
    expect(confirm).to_be_hidden()
    teacher.click("#release-all")
    expect(confirm).to_be_visible()
    journey.shot(teacher, "teacher-confirm-release")
    confirm.click()
    teacher.wait_for_url(re.compile(r".*\?released=\d+$"))
    expect(teacher.locator("#notice")).to_be_visible()
    journey.check(teacher, "assignment page (feedback released)")
    journey.shot(teacher, "teacher-feedback-released")

    # --- the student sees her score and opens the feedback from JupyterLab
    lab.keyboard.press("Escape")
    lab.click(".sabaq-refresh")
    expect(card).to_have_attribute("data-status", "feedback_released", timeout=60_000)
    expect(card.locator(".sabaq-status")).to_have_text(words["released"])
    expect(card.locator(".sabaq-score")).to_have_text(words["score"])
    journey.shot(lab, "student-score")
    feedback_link = card.locator(".sabaq-feedback a", has_text="cycle")
    assert re.search(rf"{PAGES}/api/v1/submissions/{submission['id']}/feedback/cycle\.html$",
                     feedback_link.get_attribute("href"))
    with lab.context.expect_page() as opened:
        feedback_link.click()
    feedback = opened.value
    feedback.wait_for_load_state()
    expect(feedback.locator("body")).to_contain_text("Дұрыс / Верно")
    expect(feedback.locator("math").first).to_be_attached()
    assert "\\sqrt" not in feedback.inner_text("body")
    journey.shot(feedback, "student-feedback")
    # the feedback page allows no script (its CSP), axe's neither: checked in a context that
    # lets the test's own script in, with the student's login
    checker = chromium.new_context(bypass_csp=True, storage_state=lab.context.storage_state(),
                                   locale=words["locale"])
    same = checker.new_page()
    same.goto(feedback.url)
    journey.check(same, "feedback")
    checker.close()
    for page in (feedback, lab, teacher):
        page.context.close()

    assert not journey.violations, "\n".join(journey.violations)
