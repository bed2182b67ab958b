"""Every built-in lesson runs in every language (real kernels: about two minutes)."""

from __future__ import annotations

from pathlib import Path

from sabaq.lessons.check import check, format_report

LESSONS = Path(__file__).resolve().parents[1] / "courses" / "lessons"


def test_every_lesson_runs_in_every_language():
    report = check(LESSONS)
    assert report.ok, "\n".join(report.problems())
    names = {lesson.name for lesson in report.lessons}
    assert {"physics/projectile-motion", "math/quadratic-functions"} <= names
    for lesson in report.lessons:
        assert set(lesson.seconds) == {"kk", "ru", "en"}
    assert "Every lesson is fine" in format_report(report)
