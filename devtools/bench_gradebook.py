"""`sabaq bench gradebook`: the gradebook page and export at school scale, next to nbgrader's.

Fills a database (SQLite, or PostgreSQL by URL) with a school's worth of
students, assignments and grades, then times building and rendering the
gradebook page and the CSV export. The same data goes into an nbgrader
gradebook, and the same views are built with nbgrader's Gradebook API
(``submission_dicts`` per assignment, as its formgrader does, and its CSV export
plugin). Speed is measured and printed here; tests never assert it.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import insert, select

from sabaq.hub.store.database import make_engine, make_sessionmaker, upgrade
from sabaq.hub.store.models import Assignment, Course, GradeResult, Membership, Role, Submission, User, utcnow

CATEGORIES = ("formative", "formative", "unit_summative", "formative", "term_summative")


def fill(url: str, students: int, assignments: int, seed: int = 7) -> dict:
    """A course of `students` x `assignments` with graded submissions; returns the plan."""
    rng = random.Random(seed)
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    now = utcnow()
    plan = {"students": [], "assignments": [], "scores": {}}
    with sessions() as db:
        course = Course(slug="bench", title="Бенчмарк", language="kk")
        db.add(course)
        db.flush()
        users = [{"name": f"s{i:04d}", "full_name": f"Оқушы {i:04d}", "email": "", "is_admin": False,
                  "created_at": now} for i in range(students)]
        db.execute(insert(User), users)
        user_ids = dict(db.execute(select(User.name, User.id)).all())
        db.execute(insert(Membership), [{"course_id": course.id, "user_id": user_ids[u["name"]], "role": Role.student,
                                         "section": f"{7 + i % 5}{'ABCD'[i % 4]}"} for i, u in enumerate(users)])
        items = []
        for j in range(assignments):
            items.append({"course_id": course.id, "name": f"a{j:02d}", "title": f"Assignment {j}",
                          "released_at": now - dt.timedelta(days=100), "due_at": now - dt.timedelta(days=90 - 2 * j),
                          "version": 1, "created_at": now, "category": CATEGORIES[j % len(CATEGORIES)],
                          "term": 1 + j * 4 // assignments, "max_score": 10.0, "late_policy": "none",
                          "late_percent_per_day": 0.0, "late_floor_percent": 0.0})
        db.execute(insert(Assignment), items)
        assignment_ids = dict(db.execute(select(Assignment.name, Assignment.id)).all())
        subs = []
        for a in items:
            for u in users:
                if rng.random() < 0.92:
                    subs.append({"assignment_id": assignment_ids[a["name"]], "student_id": user_ids[u["name"]],
                                 "attempt": 1, "submitted_at": a["due_at"] - dt.timedelta(hours=rng.randint(-30, 48)),
                                 "late": False, "assignment_version": 1, "secret": uuid.uuid4().hex, "kind": "notebook"})
        db.execute(insert(Submission), subs)
        sub_rows = db.execute(select(Submission.id, Submission.assignment_id, Submission.student_id)).all()
        names = {v: k for k, v in assignment_ids.items()}
        students_by_id = {v: k for k, v in user_ids.items()}
        results = []
        for sid, aid, uid in sub_rows:
            a, b = rng.randint(0, 6), rng.randint(0, 4)
            plan["scores"][(students_by_id[uid], names[aid])] = (a, b)
            results.append({"submission_id": sid, "current": True, "status": "graded", "score": a + b,
                            "max_score": 10.0, "late_penalty": 0.0, "needs_manual_grade": False, "error": "",
                            "created_at": now, "notebooks": {},
                            "details": {"notebooks": {"hw": {"cells": {
                                "q1": {"score": a, "auto_score": a, "max_score": 6, "needs_manual_grade": False},
                                "q2": {"score": b, "auto_score": b, "max_score": 4, "needs_manual_grade": False}}}}}})
        db.execute(insert(GradeResult), results)
        db.commit()
        plan["students"] = [u["name"] for u in users]
        plan["assignments"] = items
    engine.dispose()
    return plan


def time_sabaq(url: str, repeats: int = 3) -> dict:
    from sabaq.hub.domain import gradebook, reports
    from sabaq.hub.service.pages.gradebook import CATEGORY_NAMES, STATUS_NAMES, mark_cells
    from sabaq.hub.service.pages.render import number_writer, templates
    from sabaq.i18n import LANGUAGE_NAMES, LANGUAGES, translator

    template = templates.get_template("gradebook.html")  # the page's own, with its filters
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    page, export = [], []
    for _ in range(repeats):
        with sessions() as db:
            course = db.scalar(select(Course).where(Course.slug == "bench"))
            start = time.perf_counter()
            gb = gradebook.build(db, course, page=1)
            cells = mark_cells(gb, translator("kk"))
            html = template.render(cells=cells, _=translator("kk"), lang="kk", languages=LANGUAGES, language_names=LANGUAGE_NAMES,
                                   when=str, user=None, prefix="/services/sabaq", csrf="", path="/", course=course,
                                   gb=gb, sections=[], section="", term=None, category="", status_names=STATUS_NAMES,
                                   category_names=CATEGORY_NAMES, warnings=[], num=number_writer("kk"),
                                   provisional={row.student.id: reports.provisional_terms(gb, row) for row in gb.rows})
            page.append(time.perf_counter() - start)
            start = time.perf_counter()
            data = reports.to_csv(gradebook.build(db, course), "kk")
            export.append(time.perf_counter() - start)
    engine.dispose()
    return {"page": statistics.median(page), "export": statistics.median(export), "html_bytes": len(html),
            "csv_bytes": len(data)}


def fill_nbgrader(path: Path, plan: dict, sample: int) -> str:
    """The same students and scores, for the first `sample` assignments, in an nbgrader gradebook."""
    from nbgrader import api as nb

    url = f"sqlite:///{path}"
    with nb.Gradebook(url, "bench") as gb:
        db = gb.db
        students = [nb.Student(id=s, first_name=s, last_name="", email="") for s in plan["students"]]
        db.add_all(students)
        for item in plan["assignments"][:sample]:
            a = nb.Assignment(name=item["name"], duedate=item["due_at"].replace(tzinfo=None), course_id="bench")
            notebook = nb.Notebook(name="hw", assignment=a)
            cells = [nb.GradeCell(name=q, max_score=m, notebook=notebook, cell_type="code") for q, m in (("q1", 6), ("q2", 4))]
            db.add_all([a, notebook, *cells])
            db.flush()
            for student in students:
                score = plan["scores"].get((student.id, item["name"]))
                if score is None:
                    continue
                sa = nb.SubmittedAssignment(assignment=a, student=student,
                                            timestamp=item["due_at"].replace(tzinfo=None))
                sn = nb.SubmittedNotebook(assignment=sa, notebook=notebook)
                db.add_all([sa, sn] + [nb.Grade(cell=c, notebook=sn, auto_score=s) for c, s in zip(cells, score)])
            db.commit()
    return url


def time_nbgrader(url: str, repeats: int = 1) -> dict:
    import os

    from nbgrader import api as nb
    from nbgrader.plugins.export import CsvExportPlugin

    page, export = [], []
    for _ in range(repeats):
        with nb.Gradebook(url, "bench") as gb:
            start = time.perf_counter()
            matrix = {a.name: gb.submission_dicts(a.name) for a in gb.assignments}
            page.append(time.perf_counter() - start)
            with tempfile.TemporaryDirectory() as tmp:
                plugin = CsvExportPlugin(to=os.path.join(tmp, "grades.csv"))
                start = time.perf_counter()
                plugin.export(gb)
                export.append(time.perf_counter() - start)
    return {"page": statistics.median(page), "export": statistics.median(export), "cells": sum(map(len, matrix.values()))}


def bench_gradebook(students: int, assignments: int, postgres_url: str | None = None, out=print) -> dict:
    results = {}
    with tempfile.TemporaryDirectory(prefix="sabaq-bench-gradebook-") as tmp:
        targets = [("SQLite", f"sqlite:///{Path(tmp) / 'sabaq.sqlite'}")]
        if postgres_url:
            targets.append(("PostgreSQL", _fresh_postgres(postgres_url)))
        out(f"{students} students x {assignments} assignments")
        plan = None
        for label, url in targets:
            start = time.perf_counter()
            plan = fill(url, students, assignments)
            out(f"{label}: filled in {time.perf_counter() - start:.1f} s")
            results[label] = time_sabaq(url)
            r = results[label]
            out(f"sabaq on {label}: gradebook page of 100 students {1000 * r['page']:.0f} ms ({r['html_bytes'] // 1024} KB), "
                f"CSV export {1000 * r['export']:.0f} ms")
        # nbgrader's views take seconds per assignment at this size: it is timed on a
        # sample of the assignments and scaled up to all of them (its cost is per assignment).
        sample = min(assignments, 3)
        start = time.perf_counter()
        nb_url = fill_nbgrader(Path(tmp) / "gradebook.db", plan, sample)
        out(f"nbgrader gradebook filled ({sample} assignments) in {time.perf_counter() - start:.1f} s")
        measured = time_nbgrader(nb_url)
        scale = assignments / sample
        results["nbgrader"] = r = {"page": measured["page"] * scale, "export": measured["export"] * scale}
        out(f"nbgrader Gradebook API (SQLite), estimated from {sample} of {assignments} assignments: "
            f"submission_dicts for every assignment {1000 * r['page']:.0f} ms, CSV export plugin {1000 * r['export']:.0f} ms")
        for label in [t for t, _ in targets]:
            out(f"ratio on {label}: page {r['page'] / results[label]['page']:.1f}x, "
                f"export {r['export'] / results[label]['export']:.1f}x faster than nbgrader; "
                f"targets: page < 200 ms ({'met' if results[label]['page'] < 0.2 else 'NOT met'}), "
                f"export < 1 s ({'met' if results[label]['export'] < 1 else 'NOT met'})")
    return results


def _fresh_postgres(admin_url: str) -> str:
    from sqlalchemy import create_engine, text

    name = f"sabaq_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    base, _, query = admin_url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")
