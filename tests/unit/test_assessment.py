"""Assessment schemes and time rules, recomputed by hand on worked examples."""

import datetime as dt

import pytest

from sabaq.hub.domain.assessment import FORMATIVE, KZ_CRITERIA, TERM_SUMMATIVE, UNIT_SUMMATIVE, Mark, scheme
from sabaq.hub.domain.timerules import (
    LatePolicy,
    daily_load,
    days_late,
    effective_due,
    late_penalty,
    notice_ok,
    overloaded_days,
    remaining,
    window_end,
)

UTC = dt.timezone.utc


def test_kz_term_worked_example():
    marks = [
        Mark(FORMATIVE, 8, 10), Mark(FORMATIVE, 7, 10), Mark(FORMATIVE, 10, 10),  # 25/30 = 83.33 %
        Mark(UNIT_SUMMATIVE, 15, 20), Mark(UNIT_SUMMATIVE, 12, 20),  # 27/40 = 67.5 %
        Mark(TERM_SUMMATIVE, 22, 30),  # 73.33 %
    ]
    # 0.25 * 83.333 + 0.25 * 67.5 + 0.5 * 73.333 = 74.375
    assert KZ_CRITERIA.term_percent(marks) == pytest.approx(74.375)
    assert KZ_CRITERIA.grade(74.375) == 4


def test_kz_term_without_term_summative_weighs_half_and_half():
    marks = [Mark(FORMATIVE, 9, 10), Mark(UNIT_SUMMATIVE, 14, 20)]  # 90 % and 70 %
    assert KZ_CRITERIA.term_percent(marks) == pytest.approx(80.0)


@pytest.mark.parametrize("percent, grade", [(100, 5), (85, 5), (84.99, 4), (65, 4), (64.9, 3), (40, 3),
                                            (39.99, 2), (0, 2)])
def test_kz_grade_thresholds(percent, grade):
    assert KZ_CRITERIA.grade(percent) == grade


@pytest.mark.parametrize("terms, year", [([5, 4, 4, 5], 5), ([4, 4, 3, 4], 4), ([3, 4], 4), ([3, 3, 4, 3], 3),
                                         ([2, 3, None], 3), ([], None)])
def test_kz_year_grade_is_the_rounded_mean(terms, year):
    assert KZ_CRITERIA.year_grade(terms) == year


def test_excused_work_counts_nowhere():
    marks = [Mark(FORMATIVE, 10, 10), Mark(FORMATIVE, 0, 10, excused=True)]
    assert KZ_CRITERIA.category_percent(marks, FORMATIVE) == 100.0
    assert KZ_CRITERIA.term_percent([Mark(FORMATIVE, 0, 10, excused=True)]) is None


def test_weighted_and_points_schemes():
    marks = [Mark("homework", 18, 20), Mark("test", 30, 50)]  # 90 % and 60 %
    weighted = scheme("weighted", {"homework": 30, "test": 70})
    assert weighted.term_percent(marks) == pytest.approx(69.0)  # 27 + 42
    assert weighted.grade(69.0) == 4
    assert scheme("points").term_percent(marks) == pytest.approx(100 * 48 / 70)
    with pytest.raises(ValueError):
        scheme("curve")


DUE = dt.datetime(2026, 12, 1, 13, 0, tzinfo=UTC)  # 18:00 in Almaty


def test_days_late_counts_started_days():
    assert days_late(DUE, DUE) == 0
    assert days_late(DUE + dt.timedelta(seconds=1), DUE) == 1
    assert days_late(DUE + dt.timedelta(hours=24), DUE) == 1
    assert days_late(DUE + dt.timedelta(hours=25), DUE) == 2
    assert days_late(DUE, None) == 0


def test_late_policies():
    later = DUE + dt.timedelta(days=2, hours=1)  # 3 started days
    assert late_penalty(8, later, DUE, LatePolicy("none")) == 0
    assert late_penalty(8, later, DUE, LatePolicy("zero")) == 8
    assert late_penalty(8, later, DUE, LatePolicy("percent", 10, 50)) == pytest.approx(2.4)  # 30 % of 8
    much_later = DUE + dt.timedelta(days=7)
    assert late_penalty(8, much_later, DUE, LatePolicy("percent", 10, 50)) == pytest.approx(4.0)  # the floor
    assert late_penalty(8, DUE, DUE, LatePolicy("zero")) == 0
    with pytest.raises(ValueError):
        LatePolicy("half")


def test_extensions():
    assert effective_due(DUE, 48 * 60) == DUE + dt.timedelta(hours=48)
    assert days_late(DUE + dt.timedelta(days=1), effective_due(DUE, 48 * 60)) == 0
    own = dt.datetime(2026, 12, 10, tzinfo=UTC)
    assert effective_due(DUE, 60, own) == own
    assert effective_due(None, 60) is None


def test_timed_window_starts_at_first_opening_and_never_passes_the_due_date():
    opened = dt.datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    assert window_end(opened, 40, DUE) == opened + dt.timedelta(minutes=40)
    late_opened = DUE - dt.timedelta(minutes=10)
    assert window_end(late_opened, 40, DUE) == DUE
    assert window_end(None, 40, DUE) == DUE
    assert remaining(opened + dt.timedelta(minutes=30), window_end(opened, 40, DUE)) == dt.timedelta(minutes=10)
    assert remaining(DUE + dt.timedelta(hours=1), DUE) == dt.timedelta(0)


def test_minimum_notice():
    released = dt.datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
    assert not notice_ok(released, released + dt.timedelta(hours=11), 24)
    assert notice_ok(released, released + dt.timedelta(hours=24), 24)
    assert notice_ok(released, None, 24) and notice_ok(released, released, 0)


def test_daily_load_groups_by_local_day():
    tz = "Asia/Almaty"  # UTC+5
    due_a = dt.datetime(2026, 12, 1, 18, 30, tzinfo=UTC)  # 23:30 on 1 December in Almaty
    due_b = dt.datetime(2026, 11, 30, 19, 30, tzinfo=UTC)  # 00:30 on 1 December
    due_c = dt.datetime(2026, 12, 1, 19, 30, tzinfo=UTC)  # 00:30 on 2 December
    load = daily_load([(due_a, 40), (due_b, 30), (due_c, 20), (None, 50), (due_a, None)], tz)
    assert load == {dt.date(2026, 12, 1): 70, dt.date(2026, 12, 2): 20}
    assert overloaded_days([(due_a, 40), (due_b, 30), (due_c, 20)], tz, 60) == {dt.date(2026, 12, 1): 70}
