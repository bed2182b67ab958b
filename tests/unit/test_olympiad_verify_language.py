"""`sabaq task verify` reports in the coach's language ($SABAQ_LANG, else $LANG): headings, the
mismatch mark and what to fix are translated, the verdict codes stay the olympiad's own, and the
columns stay aligned whatever the words' length."""

from pathlib import Path

import pytest

from sabaq.autograders.olympiad import verify as verify_module
from sabaq.autograders.olympiad.verify import Report, table, verify
from sabaq.contracts import GroupVerdict, Note, Verdict
from sabaq.kattis.package import DRAFT_2023_07, Group, Package, Program


def package(root: Path, **extra) -> Package:
    return Package(root=root, config={"name": {"en": "Sum", "ru": "Сумма", "kk": "Қосынды"}},
                   groups=[Group("sample", [], 0.0, sample=True), Group("secret", [], 100.0)],
                   time_limit=1.0, memory_mb=256, output_mb=8, scoring=True, **extra)


def result(verdict: str, score: float, compile_message: str = "") -> Verdict:
    groups = [] if verdict == "CE" else [
        GroupVerdict(name="sample", verdict="AC", points=0, max_points=0, time=0.01),
        GroupVerdict(name="secret", verdict=verdict, points=score, max_points=100, time=0.25)]
    return Verdict(verdict=verdict, score=score, max_score=100, time=0.25, groups=groups,
                   compile_message=compile_message)


def failed_report() -> Report:
    return Report(rows=[("accepted/solution.py", result("AC", 100), True),
                        ("wrong_answer/{lang}.py", result("AC", 100), False),  # braces in a name are only a name
                        ("accepted/old.py", result("CE", 0, "Python 2 {is} not supported\nmore"), False)],
                  invalid_inputs=["secret/huge"], suggested_time_limit=1.0)


def columns_line_up(text: str) -> None:
    """Every row's cells start where the headings do."""
    lines = text.splitlines()
    head, rule = lines[1], lines[2]
    assert set(rule) == {"-"} and len(rule) == len(head)
    starts = [i for i in range(len(head)) if head[i] != " " and (i == 0 or head[i - 1:i + 1].startswith("  "))]
    for row in lines[3:6]:
        if row.startswith("    "):
            continue
        cell_starts = [i for i in range(len(row)) if row[i] != " " and (i == 0 or row[i - 1:i + 1].startswith("  "))]
        assert cell_starts == starts, (head, row)


def test_the_english_report_says_what_to_fix(tmp_path):
    text = table(package(tmp_path), failed_report(), 1.0, "en")
    lines = text.splitlines()
    assert lines[0] == "Sum: time limit 1 s, memory 256 MB"
    assert lines[1].split() == ["submission", "sample", "secret", "score", "as", "expected"]
    assert "AC 0.25s 100" in lines[3] and lines[3].endswith("yes")
    assert lines[4].startswith("wrong_answer/{lang}.py") and lines[4].endswith("MISMATCH")
    assert "    compile error: Python 2 {is} not supported" in lines
    assert "inputs rejected by the input validators: secret/huge" in lines
    assert "suggested time limit: 1 s (problemtools' rule)" in lines
    failure = lines.index("VERIFICATION FAILED. What to fix:")
    advice = "\n".join(lines[failure + 1:])
    assert "the rows marked MISMATCH (wrong_answer/{lang}.py, accepted/old.py)" in advice
    assert f"`sabaq task generate {tmp_path}`" in advice
    columns_line_up(text)


@pytest.mark.parametrize("environ, lang", [({"SABAQ_LANG": "ru"}, "ru"), ({"LANG": "kk_KZ.UTF-8"}, "kk")])
def test_the_report_comes_in_the_terminals_language(tmp_path, monkeypatch, environ, lang):
    monkeypatch.delenv("SABAQ_LANG", raising=False)
    monkeypatch.delenv("LANG", raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    text = table(package(tmp_path), failed_report(), 1.0)
    lines = text.splitlines()
    words = {
        "ru": ("Сумма: ограничение времени 1 с, памяти 256 МБ", "решение", "как ожидалось", "да",
               "НЕСОВПАДЕНИЕ", "ошибка компиляции: ", "ПРОВЕРКА НЕ ПРОЙДЕНА. Что исправить:",
               "строки с пометкой НЕСОВПАДЕНИЕ"),
        "kk": ("Қосынды: уақыт шегі 1 с, жад 256 МБ", "шешім", "күтілгендей", "иә",
               "СӘЙКЕС ЕМЕС", "компиляция қатесі: ", "ТЕКСЕРУДЕН ӨТПЕДІ. Нені түзету керек:",
               "СӘЙКЕС ЕМЕС деп белгіленген жолдар"),
    }[lang]
    title, submission, as_expected, yes, mismatch, compile_error, failed, rows = words
    assert lines[0] == title
    assert lines[1].startswith(submission) and lines[1].endswith(as_expected)
    assert lines[3].endswith(yes) and "AC 0.25с 100" in lines[3]  # the verdict code stays AC
    assert lines[4].startswith("wrong_answer/{lang}.py") and lines[4].endswith(mismatch)
    assert "    " + compile_error + "Python 2 {is} not supported" in lines
    assert failed in lines and "VERIFICATION FAILED" not in text and "MISMATCH" not in text
    assert rows + " (wrong_answer/{lang}.py, accepted/old.py)" in text
    columns_line_up(text)


def test_all_as_expected_in_russian(tmp_path):
    report = Report(rows=[("accepted/solution.py", result("AC", 100), True)], suggested_time_limit=2.0)
    assert table(package(tmp_path), report, 2.0, "ru").splitlines()[-2:] == [
        "рекомендуемое ограничение времени: 2 с (по правилу problemtools)", "все решения получили ожидаемые вердикты"]


class FakeJudge:
    """Stands in for the sandboxed judge: every accepted run took 0.6 s."""

    def __init__(self, package, time_limit, lang):
        self.lang = lang

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def judge(self, program):
        return Verdict(verdict="AC", score=100, max_score=100, time=0.6, groups=[
            GroupVerdict(name="secret", verdict="AC", points=100, max_points=100, time=0.6)])


def test_a_fixed_time_limit_too_tight_is_explained_in_the_coachs_language(tmp_path, monkeypatch):
    """A 2023-07 package fixes 1 s; its accepted solution takes 0.6 s, times 2 is 1.2 s: raise it to 1.2 s."""
    monkeypatch.setattr(verify_module, "Judge", FakeJudge)
    monkeypatch.setattr(verify_module, "validate_inputs", lambda package: [])
    monkeypatch.setenv("SABAQ_LANG", "ru")
    task = package(tmp_path, format=DRAFT_2023_07, fixed_time_limit=1.0, ac_to_time_limit=2.0,
                   submissions={"accepted": [Program(tmp_path / "a.py", "python")]})
    task.scoring = False  # pass-fail: full marks is 1 (a scoring package needs its test tree)
    lines = []
    report = verify(task, out=lines.append)
    assert not report.ok
    assert report.time_limit_problem == Note(message=report.time_limit_problem.message,
                                             params={"limit": "1", "slowest": "0.60", "factor": "2", "needed": "1.2"})
    text = lines[0]
    assert ("проблема с ограничением времени: фиксированное ограничение времени 1 с меньше времени самого "
            "медленного принятого решения (0.60 с), умноженного на 2") in text
    assert "увеличьте limits.time_limit в problem.yaml хотя бы до 1.2 с" in text
    assert table(task, report, 1.0, "en").splitlines()[-1] == (
        "  - the time limit: raise limits.time_limit in problem.yaml to at least 1.2 s, "
        "or make the accepted solutions faster.")
