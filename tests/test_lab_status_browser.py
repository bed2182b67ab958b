"""The sabaq menu in a teacher's JupyterLab (issue 16): her courses' pages, the gradebook
among them (a student's menu has none: tests/test_class_cycle.py), each opened in a new tab;
the My assignments panel points a teacher to the menu."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from test_class_cycle import LAB_START, Journey, login

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_a_teachers_sabaq_menu_opens_the_gradebook_in_a_new_tab(chromium, stack):
    journey = Journey("teacher-menu-ru")
    assert stack.api("teacher").patch("/me", json={"language": "ru"}).status_code == 200
    stack.stop_server("teacher")  # another test may have started it in her earlier language
    lab = login(chromium, stack, "teacher", "ru-RU", "/hub/user-redirect/lab")
    lab.wait_for_url("**/user/teacher/lab**", timeout=LAB_START)
    lab.wait_for_selector("#jp-main-dock-panel", timeout=LAB_START)
    lab.click('.lm-MenuBar-itemLabel:text-is("sabaq")')
    menu = lab.locator("#sabaq-menu")
    for label in ("Мои задания", "Курс", "Журнал оценок", "Уроки"):
        expect(menu.locator(".lm-Menu-itemLabel", has_text=label).first).to_be_visible()
    journey.shot(lab, "teacher-sabaq-menu")
    with lab.context.expect_page() as opened:
        menu.locator(".lm-Menu-itemLabel", has_text="Журнал оценок").click()
    gradebook = opened.value
    gradebook.wait_for_load_state()
    assert gradebook.url.endswith("/services/sabaq/courses/demo/gradebook")
    expect(gradebook.locator("html")).to_have_attribute("lang", "ru")
    journey.check(gradebook, "gradebook")
    gradebook.close()
    lab.click('.lm-TabBar-tab[data-id="sabaq-assignments"]')
    expect(lab.locator("#sabaq-assignments .sabaq-empty")).to_have_text("Ваши курсы и журналы оценок — в меню sabaq.")
    journey.shot(lab, "teacher-my-assignments")
    lab.context.close()
    assert not journey.violations, "\n".join(journey.violations)
