"""Lessons in courses: publishing (answers encoded), delivery in the reader's language,
attempts and success rates (SQLite and PostgreSQL), and the nbgitpuller-like merge."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sabaq.errors import Forbidden, Invalid
from sabaq.hub.domain import accounts, courses, lessons
from sabaq.hub.store.blobs import get_blob
from sabaq.hub.store.models import Role
from sabaq.lessons.sync import STATE_FILE, merge, merge_bundle

LESSON = Path(__file__).resolve().parents[2] / "courses" / "lessons" / "physics" / "projectile-motion"


@pytest.fixture
def course_db(sessions):
    with sessions() as db:
        course = courses.create_course(db, "phys9", "Physics 9", "ru")
        people = {}
        for name, role in (("teacher", Role.teacher), ("aliya", Role.student), ("timur", Role.student),
                           ("sofia", Role.student)):
            people[name] = accounts.create_user(db, name, full_name=name, password="long-password-1")
            courses.set_member(db, course, people[name], role)
        db.commit()
        yield db, course, people


def test_published_lesson_hides_answers_and_speaks_the_readers_language(course_db):
    db, course, people = course_db
    lesson = lessons.publish(db, course, LESSON)
    assert lesson.version == 1 and lesson.exercises[:2] == ["q1", "q2"]
    paths = {f.path for f in lesson.files}
    assert "exercises.toml" not in paths and "exercises.dat" in paths
    answer = "2*v0*sin(alpha)/g"
    assert all(answer.encode() not in get_blob(db, f.sha256) for f in lesson.files)

    people["aliya"].language = "kk"
    kk = lessons.delivered_files(db, lesson, people["aliya"])
    ru = lessons.delivered_files(db, lesson, people["timur"])  # no language of his own: the course's
    assert [p for p in kk if p.endswith(".ipynb")] == ["projectile-motion.kk.ipynb"]
    assert [p for p in ru if p.endswith(".ipynb")] == ["projectile-motion.ru.ipynb"]
    assert json.loads(kk[".sabaq-lesson.json"]) == {"course": "phys9", "lesson": "projectile-motion", "version": 1}
    bundle = lessons.bundle_for(db, people["aliya"])
    assert "phys9/projectile-motion/projectile-motion.kk.ipynb" in bundle
    assert lessons.publish(db, course, LESSON).version == 2  # publishing again updates in place
    assert len(lessons.lessons_of(db, course)) == 1


def test_attempts_become_success_rates(course_db):
    db, course, people = course_db
    lessons.publish(db, course, LESSON)
    for name, results in (("aliya", [False, True]), ("timur", [True]), ("sofia", [False, False])):
        for i, correct in enumerate(results, start=1):
            lessons.record_attempt(db, people[name], course, "projectile-motion", "q2", correct, i, "1.5 s")
    lessons.record_attempt(db, people["aliya"], course, "projectile-motion", "q1", True, 1)
    db.commit()
    rows = {r["exercise"]: r for r in lessons.stats(db, lessons.get_lesson(db, course, "projectile-motion"))["exercises"]}
    q2 = rows["q2"]
    assert (q2["students"], q2["tried"], q2["solved"], q2["first_try"], q2["attempts"]) == (3, 3, 2, 1, 5)
    assert q2["success_rate"] == round(2 / 3, 3) and q2["first_try_rate"] == round(1 / 3, 3)
    assert q2["mean_attempts_to_solve"] == 1.5
    assert rows["q1"]["success_rate"] == 1.0 and rows["q3"]["tried"] == 0 and rows["q3"]["success_rate"] is None

    with pytest.raises(Forbidden):  # a teacher's checks are not the class's
        lessons.record_attempt(db, people["teacher"], course, "projectile-motion", "q1", True, 1)
    with pytest.raises(Invalid):
        lessons.record_attempt(db, people["aliya"], course, "projectile-motion", "nosuch", True, 1)


def test_merge_keeps_the_students_edits_like_nbgitpuller(tmp_path):
    folder = tmp_path / "lesson"
    first = merge(folder, {"a.ipynb": b"v1-a", "b.ipynb": b"v1-b", "data/x.csv": b"1,2"})
    assert sorted(first.added) == ["a.ipynb", "b.ipynb", "data/x.csv"]
    (folder / "a.ipynb").write_bytes(b"student's work")
    (folder / "data" / "x.csv").unlink()
    second = merge(folder, {"a.ipynb": b"v2-a", "b.ipynb": b"v2-b", "data/x.csv": b"1,2", "c.ipynb": b"new"})
    assert (folder / "a.ipynb").read_bytes() == b"student's work"  # their edit wins
    assert (folder / "b.ipynb").read_bytes() == b"v2-b"  # untouched: follows the teacher
    assert (folder / "data" / "x.csv").read_bytes() == b"1,2"  # deleted: comes back
    assert second.kept == ["a.ipynb"] and second.updated == ["b.ipynb"] and sorted(second.added) == ["c.ipynb", "data/x.csv"]
    # a link planted in the folder is replaced, never written through
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep")
    (folder / "b.ipynb").unlink()
    (folder / "b.ipynb").symlink_to(outside)
    merge(folder, {"b.ipynb": b"v3-b"})
    assert outside.read_bytes() == b"keep" and (folder / "b.ipynb").read_bytes() == b"v3-b"
    assert json.loads((folder / STATE_FILE).read_text())["b.ipynb"]
    # paths cannot leave the lessons root
    report = merge_bundle(tmp_path / "root", {"c/l/ok.txt": b"1", "c/l/../../../evil": b"x", "/abs/x/y": b"x"})
    assert report.added == ["c/l/ok.txt"] and not (tmp_path / "evil").exists()


def test_merge_runs_as_a_command_reading_a_zip(tmp_path):
    from sabaq.archive import pack

    out = subprocess.run([sys.executable, "-m", "sabaq.lessons.sync", str(tmp_path)],
                         input=pack({"demo/l1/l1.kk.ipynb": b"{}"}), capture_output=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["added"] == 1 and (tmp_path / "demo" / "l1" / "l1.kk.ipynb").exists()


def test_a_whole_unit_is_published_from_the_command_line(tmp_path, monkeypatch, capsys):
    """`sabaq lesson publish` (sabaq.cli.main, in this process: three interpreters cost 2-4 s)."""
    import os

    from sabaq.cli import main

    monkeypatch.setenv("PATH", os.environ["PATH"])  # main() puts sabaq's environment first: put back after
    data = tmp_path / "data"

    def sabaq(*args):
        code = main([*args, "--data", str(data)])
        return code, capsys.readouterr()

    code, made = sabaq("course", "create", "phys9", "--title", "Physics 9")
    assert code == 0, made.err
    unit = LESSON.parent
    code, out = sabaq("lesson", "publish", "phys9", str(unit))
    assert code == 0, out.err
    published = [line.split()[1] for line in out.out.splitlines() if line.startswith("published")]
    assert published == [f"phys9/{p.parent.name}" for p in sorted(unit.glob("*/lesson.toml"))]
    code, empty = sabaq("lesson", "publish", "phys9", str(tmp_path))
    assert code == 2 and "no lesson" in empty.err
