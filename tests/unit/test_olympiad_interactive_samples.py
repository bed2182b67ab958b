"""check_samples() in a student's server for an interactive task: the student's program and
the task's interactor (shipped in interactor/) talk through pipes, here, as in the judge."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sabaq.kattis.notebook import release_files
from sabaq.kattis.package import load
from sabaq.lessons.olympiad import check_samples

GUESS = Path(__file__).resolve().parents[2] / "courses" / "olympiad" / "tasks" / "guess"


@pytest.fixture
def fetched(tmp_path):
    """The folder a student fetches for the guess task: task.json, samples, the interactor."""
    folder = tmp_path / "guess"
    (folder / "samples").mkdir(parents=True)
    for sample in (GUESS / "data" / "sample").glob("*.in"):
        shutil.copy(sample, folder / "samples" / sample.name)
        shutil.copy(sample.with_suffix(".ans"), folder / "samples" / sample.with_suffix(".ans").name)
    (folder / "interactor").mkdir()
    shutil.copy(GUESS / "output_validators" / "interactor" / "interactor.py", folder / "interactor")
    (folder / "task.json").write_text(json.dumps({"course": "olympiad", "assignment": "guess", "time_limit": 1.0,
                                                  "interactive": True, "entry": "solution.py"}))
    return folder


def test_a_binary_search_is_accepted_on_every_sample(fetched):
    shutil.copy(GUESS / "submissions" / "accepted" / "binary.py", fetched / "solution.py")
    rows = check_samples(fetched, show=False)
    assert [r["verdict"] for r in rows] == ["AC", "AC"]
    assert rows[0]["note"].startswith("found in")


def test_a_wrong_program_gets_the_interactors_reason(fetched):
    shutil.copy(GUESS / "submissions" / "wrong_answer" / "one_guess.py", fetched / "solution.py")
    rows = check_samples(fetched, show=False)
    assert rows[0]["verdict"] == "WA" and "1 questions" in rows[0]["note"]


def test_a_program_that_never_flushes_is_stopped_with_tle(fetched):
    """At a 0.2 s limit instead of the task's 1 s: each sample waits out 3 x limit + 1 s before its
    TLE (8 s for both at 1 s, 3.2 s here), and how long it waits is not what is tested."""
    meta = json.loads((fetched / "task.json").read_text())
    (fetched / "task.json").write_text(json.dumps({**meta, "time_limit": 0.2}))
    (fetched / "solution.py").write_text("import sys\nsys.stdin.read()\n")  # waits for input that never comes
    rows = check_samples(fetched, show=False)
    assert [r["verdict"] for r in rows] == ["TLE", "TLE"]


def test_a_crash_is_rte(fetched):
    """It dies (a segmentation fault) while a child of its keeps its output open a moment, so the
    interactor sees its input end only later: the program ended first, RTE."""
    (fetched / "solution.py").write_text("import os, signal, time\nprint('? 500000000', flush=True)\ninput()\n"
                                         "if os.fork() == 0:\n    time.sleep(0.5)\n    os._exit(0)\n"
                                         "os.kill(os.getpid(), signal.SIGSEGV)\n")
    assert [r["verdict"] for r in check_samples(fetched, show=False)] == ["RTE", "RTE"]


def test_a_rejection_before_the_program_ends_is_wa(fetched):
    """The interactor rejects a malformed question and ends; the program then crashes reading: WA."""
    (fetched / "solution.py").write_text("import time\nprint('guess 5', flush=True)\ntime.sleep(0.5)\ninput()\n")
    rows = check_samples(fetched, show=False)
    assert rows[0]["verdict"] == "WA" and "is not '? x'" in rows[0]["note"]


def test_without_an_interactor_the_student_is_told_to_submit(fetched):
    shutil.rmtree(fetched / "interactor")
    (fetched / "solution.py").write_text("print('? 1')\n")
    rows = check_samples(fetched, show=False)
    assert rows[0]["verdict"] is None and "submit" in rows[0]["note"]


def test_the_released_task_folder_has_what_check_samples_needs(tmp_path):
    """What students fetch for an interactive task the coach shares the interactor of: task.json
    says so, the interactor is in interactor/."""
    files = release_files(load(GUESS), "olympiad", "guess", share_checker=True)
    assert json.loads(files["task.json"])["interactive"] is True and "interactor/interactor.py" in files
    notebook = files["i18n/en/guess.ipynb"].decode()
    assert "This task is interactive" in notebook and "flush=True" in notebook and "read the input with" not in notebook
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    shutil.copy(GUESS / "submissions" / "accepted" / "binary.py", tmp_path / "solution.py")
    assert [r["verdict"] for r in check_samples(tmp_path, show=False)] == ["AC", "AC"]


def test_the_interactor_stays_with_the_judge_unless_the_coach_shares_it(tmp_path):
    """By default a student's folder has no interactor (it shows how the task is judged): a
    student looking for it finds nothing, and the sample check tells her to submit."""
    files = release_files(load(GUESS), "olympiad", "guess")
    assert not [name for name in files if name.startswith("interactor/")]
    interactor_code = b"".join(p.read_bytes() for p in load(GUESS).output_validator.sources)
    assert not any(interactor_code in content for content in files.values())
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    shutil.copy(GUESS / "submissions" / "accepted" / "binary.py", tmp_path / "solution.py")
    rows = check_samples(tmp_path, show=False)
    assert {r["verdict"] for r in rows} == {None} and all("submit" in r["note"] for r in rows)
