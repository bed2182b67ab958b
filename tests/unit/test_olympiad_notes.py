"""What the judge says about a test is a note (a message id and its values), shown in each
reader's language: in the notebook's sample check and verdict table, on the coach's contest
page and in the terminal. The notebook helpers show their table and nothing else (issue 16,
item 6): their result is the data, its repr one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from sabaq.contracts import Note, TestVerdict
from sabaq.hub.domain.olympiad import first_failure, public_verdict
from sabaq.kattis.compare import WRONG_ANSWER, default_validate, wrong_answer
from sabaq.lessons.olympiad import SampleResults, VerdictReport, check_samples, verdict_html

RU_TOKEN = "Лексема 1: ожидалось '4', получено '3'."
KK_TOKEN = "1-лексема: күтілгені '4', алынғаны '3'."


def test_a_wrong_token_is_a_note_each_reader_reads_in_their_own_language():
    judged = default_validate(b"3\n", b"4\n", [])
    assert not judged.accepted
    assert judged.note.message == "Token {number}: expected {expected}, got {got}."
    assert judged.note.params == {"number": "1", "expected": "'4'", "got": "'3'"}
    assert judged.message == judged.note.text("en") == "Token 1: expected '4', got '3'."
    assert judged.note.text("ru") == RU_TOKEN
    assert judged.note.text("kk") == KK_TOKEN


def test_a_missing_token_is_a_note_too():
    judged = default_validate(b"1 2", b"1 2 3", [])
    assert judged.note.text("en") == "Expected 3 tokens, got 2."
    assert judged.note.text("ru") == "Ожидалось лексем: 3, получено: 2."


def test_a_checkers_own_words_stay_as_written_and_its_silence_becomes_sabaqs_note():
    own = wrong_answer("the path is not shortest", 2.0)
    assert (own.message, own.note, own.score) == ("the path is not shortest", None, 2.0)
    silent = wrong_answer("  ")
    assert silent.note.message == WRONG_ANSWER and silent.note.text("ru") != WRONG_ANSWER


def test_a_tests_text_is_its_note_translated_else_its_message():
    note = default_validate(b"3", b"4", []).note
    test = TestVerdict(name="03", verdict="WA", time=0.1, message=note.text("en"), note=note)
    again = TestVerdict.from_json(json.loads(json.dumps(test.to_json())))  # as the service stores it
    assert again.text("ru") == RU_TOKEN and again.text("en") == "Token 1: expected '4', got '3'."
    assert TestVerdict(name="04", verdict="WA", time=0.1, message="bad move").text("kk") == "bad move"


def _details(note: Note, sample: bool) -> dict:
    test = {"name": "03", "verdict": "WA", "time": 0.1, "message": note.text("en"), "note": note.to_json()}
    return {"judge": {"verdict": "WA", "score": 0.0, "max_score": 10.0, "time": 0.1, "compile_message": "",
                      "groups": [{"name": "secret" if not sample else "sample", "verdict": "WA", "points": 0.0,
                                  "max_points": 10.0, "time": 0.1, "first_failure": "03", "sample": sample,
                                  "tests": [test]}]}}


def test_a_student_reads_no_note_of_a_secret_test():
    """The attack: a student asks for her verdict to learn a secret test's answer from the note."""
    note = Note(message="Token {number}: expected {expected}, got {got}.",
                params={"number": "1", "expected": "'SECRET-42'", "got": "'3'"})
    seen = json.dumps(public_verdict(_details(note, sample=False), staff=False))
    assert "SECRET-42" not in seen
    assert "SECRET-42" in json.dumps(public_verdict(_details(note, sample=True), staff=False))
    assert "SECRET-42" in json.dumps(public_verdict(_details(note, sample=False), staff=True))


def test_the_coach_sees_the_first_failures_note():
    note = default_validate(b"3", b"4", []).note
    failure = first_failure(_details(note, sample=False))
    assert failure["test"] == "03" and Note.model_validate(failure["note"]).text("ru") == RU_TOKEN


def test_the_verdict_table_says_the_samples_failure_in_the_readers_language():
    note = default_validate(b"3", b"4", []).note
    verdict = {"status": "graded", "verdict": "WA", "score": 0.0, "max_score": 10.0, "best": 0.0,
               "judge": public_verdict(_details(note, sample=True), staff=False)}
    report = VerdictReport(verdict, "ru")
    assert RU_TOKEN.replace("'", "&#x27;") in report.html()
    assert "Token" not in report.html()
    assert "\n" not in repr(report) and len(repr(report)) < 80 and report["verdict"] == "WA"


@pytest.fixture
def task(tmp_path) -> Path:
    """A fetched task folder, its notebook in Russian, and a wrong solution."""
    (tmp_path / "samples").mkdir()
    (tmp_path / "task.json").write_text(json.dumps({"course": "c", "assignment": "add", "time_limit": 2,
                                                    "validator_flags": []}))
    (tmp_path / "add.ipynb").write_text(json.dumps({"metadata": {"sabaq": {"language": "ru"}}}))
    (tmp_path / "samples" / "1.in").write_text("2 2\n")
    (tmp_path / "samples" / "1.ans").write_text("4\n")
    (tmp_path / "solution.py").write_text("print(3)\n")
    return tmp_path


def test_the_sample_check_says_why_in_the_notebooks_language(task):
    rows = check_samples(task, show=False)
    assert isinstance(rows, SampleResults) and rows[0]["verdict"] == "WA" and rows[0]["note"] == RU_TOKEN


@pytest.fixture
def shell():
    """An IPython shell, as in a notebook's kernel; gone afterwards (the helpers then print)."""
    yield InteractiveShell.instance()
    InteractiveShell.clear_instance()


def test_the_helpers_show_their_table_once_and_never_their_raw_result(task, shell):
    """In a notebook (an IPython shell): the cell shows one table, no repr of the rows; a
    later cell that shows the result shows the table again; its plain repr is one line."""
    shell.run_cell(f"from sabaq.lessons.olympiad import check_samples\nfolder = {str(task)!r}", store_history=True)
    shown = {}
    for code in ("check_samples(folder)", "rows = check_samples(folder)", "rows"):
        with capture_output() as out:
            assert shell.run_cell(code, store_history=True).success
        shown[code] = out
    for code, out in shown.items():
        assert len(out.outputs) == 1, code
        table = out.outputs[0].data["text/html"]
        assert table.startswith("<table>") and "WA" in table and "Лексема 1" in table.replace("&#x27;", "'")
        assert "'output'" not in out.stdout and "'sample'" not in out.stdout, code
    rows = shell.user_ns["rows"]
    assert rows[0]["verdict"] == "WA" and repr(rows) == "Примеры: 1 WA"


def test_outside_a_notebook_the_helper_prints_its_one_line(task, capsys):
    rows = check_samples(task)
    assert capsys.readouterr().out == "Примеры: 1 WA\n" and rows[0]["sample"] == "1"


def test_a_verdict_table_is_html_escaped():
    note = Note(message="{text}", params={"text": "<script>"})
    verdict = {"status": "graded", "verdict": "WA", "judge": _details(note, sample=True)["judge"]}
    assert "<script>" not in verdict_html(verdict, lambda s: s)
