"""What the phone check of `sabaq lesson check` makes of what a phone showed (the browser
part runs in tests/test_lessons_phone.py), and when it runs."""

from __future__ import annotations

import pytest

from sabaq.lessons import check as lesson_check
from sabaq.lessons import phone

FITS = {"state": "started", "page": 390, "inner": 390, "wide": [], "column": 350}


def _texts(seen):
    return [p.translated("en") for p in phone.problems_of(seen, "x.kk.ipynb")]


def test_a_lesson_that_started_and_fits_has_no_problem():
    assert _texts(FITS) == []


@pytest.mark.parametrize("state", ["none", "starting", None])
def test_a_lesson_that_did_not_start_by_itself_fails(state):
    [problem] = _texts({**FITS, "state": state})
    assert problem.startswith("x.kk.ipynb: the lesson did not start by itself in the phone view")


def test_a_failed_set_up_cell_and_a_lesson_still_starting_say_what_was_seen():
    [problem] = _texts({**FITS, "state": "failed", "detail": "cell 3: NameError: name 'np' is not defined"})
    assert problem.startswith("x.kk.ipynb: a set-up cell failed as the lesson opened in the phone view: "
                              "cell 3: NameError: name 'np' is not defined. "), problem
    [problem] = _texts({**FITS, "state": "timeout", "detail": "lesson=starting; kernel=busy"})
    assert problem.startswith("x.kk.ipynb: the lesson had not started in the phone view after 120 s; "
                              "the page showed: lesson=starting; kernel=busy. "), problem


def test_sideways_scrolling_names_what_is_too_wide():
    [problem] = _texts({**FITS, "wide": ["div.widget-html (900 px)"]})
    assert problem == ("x.kk.ipynb: on a phone (390 px wide) the lesson scrolls sideways; "
                       "make these fit the screen: div.widget-html (900 px)")
    [problem] = _texts({**FITS, "page": 458})
    assert problem.endswith("make these fit the screen: the page (458 px)")


def test_a_narrow_text_column_fails_below_85_percent():
    assert _texts({**FITS, "column": 332}) == []  # 85 % of 390 is 331.5
    [problem] = _texts({**FITS, "column": 40})
    assert problem == ("x.kk.ipynb: on a phone the text column is 40 px of 390; "
                       "it should take at least 85 % of the screen.")


@pytest.mark.parametrize("execute, installed, asked, expected", [
    (True, True, None, True), (True, False, None, False), (False, True, None, False),
    (True, False, True, True), (True, True, False, False),
])
def test_the_phone_check_runs_where_it_can_unless_told(monkeypatch, execute, installed, asked, expected):
    seen = {}
    monkeypatch.setattr(phone, "available", lambda: installed)
    monkeypatch.setattr(lesson_check, "check", lambda path, **kw: seen.update(kw) or lesson_check.CheckReport([]))
    lesson_check.run("nowhere", execute=execute, phone=asked)
    assert seen["phone"] is expected


def test_asking_for_the_phone_check_without_chromium_is_a_problem(monkeypatch, tmp_path):
    report = lesson_check.LessonReport(tmp_path, "x", seconds={"kk": 1.0})
    monkeypatch.setattr(phone, "available", lambda: False)
    lesson_check._check_phone([(report, "kk", None, tmp_path / "x.kk.ipynb")], timeout=1)
    assert [p.translated("en") for p in report.problems] == [
        "The phone check needs Chromium and Playwright: install them, or leave out --phone."]
