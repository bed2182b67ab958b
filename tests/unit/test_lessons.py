"""Lessons: answer checkers, exercises files, widgets driven without a browser, reporting, `lesson check`."""

from __future__ import annotations

import html

import json
import shutil
import threading
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import pytest

from sabaq.lessons import LessonError
from sabaq.lessons.answers import check_choice, check_code, check_expression, check_number, display_units
from sabaq.lessons.check import check, main
from sabaq.lessons.exercises import decode, encode, read_exercises
from sabaq.lessons.meta import validate_meta
from sabaq.lessons.report import NullReporter, Reporter, reporter_for

LESSONS = Path(__file__).resolve().parents[2] / "courses" / "lessons"
PROJECTILE = LESSONS / "physics" / "projectile-motion"
QUADRATIC = LESSONS / "math" / "quadratic-functions"


# ------------------------------------------------------------------ numbers

@pytest.mark.parametrize("text", [
    "30.625 m", "30,625 м", "30.6", "30,6 м", "3062.5 cm", "0.0306 km", "30 625 mm", "3.0625·10^1 m",
    "30.32 m",  # 1 % below: the edge of rel_tol = 0.01
    "30.93 m",  # 1 % above
])
def test_number_accepts_right_answers_in_any_compatible_units(text):
    assert check_number(text, 30.625, "m", rel_tol=0.01).correct


def test_number_accepts_decimal_comma_and_cyrillic_or_written_units():
    for text in ["9,8 м/с²", "9.8 m/s^2", "9.8 m/s**2", "980 cm/s**2", "9.8 м·с⁻²", "9.8 m/s2", "35.28 km/h/s"]:
        assert check_number(text, 9.8, "m/s^2", rel_tol=0.01).correct, text


@pytest.mark.parametrize("text, key", [
    ("30.2 m", "rounding"),        # 1.4 % off
    ("-30.625 m", "sign"),
    ("306.25 m", "power_of_ten"),
    ("3.0625 m", "power_of_ten"),
    ("61.25 m", "factor_two"),
    ("45 m", "wrong"),
    ("30.625 s", "wrong_dimension"),
    ("30.625 m/s", "wrong_dimension"),
])
def test_number_rejects_wrong_answers_with_a_hint_category(text, key):
    result = check_number(text, 30.625, "m", rel_tol=0.01)
    assert not result.correct and result.valid and result.key == key


@pytest.mark.parametrize("text, key", [("", "empty"), ("about thirty", "not_a_number"), ("30 parsecs-ish", "unknown_units"),
                                       ("30 __class__", "unknown_units")])
def test_unreadable_numbers_are_not_attempts(text, key):
    result = check_number(text, 30.625, "m")
    assert not result.correct and not result.valid and result.key == key
    assert result.message("en")  # a sentence, with the student's text filled in


def test_exact_numbers_are_equal_or_wrong_without_slip_hints():
    assert check_number("499500", 499500, exact=True).correct
    for text in ("500500", "49950", "499501"):  # no "rounding" or "power of ten" for a count
        result = check_number(text, 499500, exact=True)
        assert not result.correct and result.valid and result.key == "wrong"
    exercises, problems = read_exercises_from({"q": {"kind": "number", "answer": 10, "exact": True,
                                                     "hint": {"en": "h", "kk": "h", "ru": "h"}}})
    assert not problems and exercises["q"].check("10").correct and not exercises["q"].check("10.5").correct


def test_fractions_are_numbers_and_plain_numbers_get_no_factor_hint():
    assert check_number("-1/2", -0.5, abs_tol=0.001).correct
    assert check_number("7/2 m", 3.5, "m").correct
    assert check_number("50 1/s", 50, "1/s").correct  # units with a slash are still units
    wrong = check_expression("1/8", "7/8")
    assert not wrong.correct and wrong.key == "wrong"  # not "differs by a constant factor"


def read_exercises_from(table: dict):
    from sabaq.lessons.exercises import parse_exercise

    ex, problems = parse_exercise("q", table["q"], ["kk", "ru", "en"])
    return {"q": ex}, problems


def test_absolute_tolerance_edges_and_required_units():
    assert check_number("-1.501", -1.5, abs_tol=0.001).correct
    assert check_number("-1,499", -1.5, abs_tol=0.001).correct
    assert not check_number("-1.502", -1.5, abs_tol=0.001).correct
    assert check_number("1.5", -1.5, abs_tol=0.001).key == "sign"
    assert check_number("-1.5 m", -1.5, abs_tol=0.001).key == "unexpected_units"
    assert check_number("30.625", 30.625, "m", units_optional=False).key == "missing_units"
    assert check_number("30.625 m", 30.625, "m", units_optional=False).correct


def test_messages_never_contain_the_answer():
    for text in ["30.2 m", "-30.625 m", "306.25 m", "61.25 m", "1 s", "45 m"]:
        message = check_number(text, 30.625, "m").message("en")
        assert "30.6" not in message and "30,6" not in message


def test_units_are_shown_as_each_language_writes_them():
    assert display_units("m/s^2", "en") == "m/s²"
    assert display_units("m/s^2", "ru") == "м/с²"
    assert display_units("km/h", "kk") == "км/сағ"
    assert display_units("km/h", "ru") == "км/ч"


# -------------------------------------------------------------- expressions

@pytest.mark.parametrize("text", ["2*v0*sin(alpha)/g", "2v0 sin α / g", "2v₀·sin(α)/g", "2v0sinα/g",
                                  "T = 2*v_0*sin(alpha)/g", "(2/g)*v0*sin(alpha)", "v0*sin(alpha)/(g/2)"])
def test_expression_equivalent_forms_are_accepted(text):
    assert check_expression(text, "2*v0*sin(alpha)/g", ["v0", "alpha", "g"]).correct


def test_expression_implicit_multiplication_and_powers():
    assert check_expression("1+2x", "2*x+1", ["x"]).correct
    assert check_expression("x^2 - 1", "(x-1)*(x+1)", ["x"]).correct
    assert check_expression("v0^2 sin(2alpha)/g", "2*v0**2*sin(alpha)*cos(alpha)/g", ["v0", "alpha", "g"]).correct
    assert check_expression("-b/(2a)", "-b/(2*a)", ["a", "b", "c"]).correct


@pytest.mark.parametrize("text, key", [
    ("v0 sin(alpha)/g", "constant_factor"),
    ("-2v0 sin(alpha)/g", "sign"),
    ("2v0 cos(alpha)/g", "wrong"),
])
def test_expression_wrong_answers(text, key):
    result = check_expression(text, "2*v0*sin(alpha)/g", ["v0", "alpha", "g"])
    assert not result.correct and result.valid and result.key == key


def test_expression_bare_denominator_gets_the_brackets_hint():
    assert check_expression("-b/2a", "-b/(2*a)", ["a", "b", "c"]).key == "brackets"


@pytest.mark.parametrize("text, key", [
    ("2*v0*sin(alpha/g", "unparsable_expression"),
    ("2 v0 sin(alpha) / h", "unknown_symbols"),
    ("__import__('os').system('touch /tmp/sabaq-pwned')", "unparsable_expression"),
    ("", "empty"),
])
def test_unreadable_expressions_are_refused_with_a_clear_message(text, key):
    result = check_expression(text, "2*v0*sin(alpha)/g", ["v0", "alpha", "g"])
    assert not result.valid and result.key == key
    assert not Path("/tmp/sabaq-pwned").exists()
    if key == "unknown_symbols":
        assert result.message("en") == "The expression uses letters this exercise does not: h."


# ------------------------------------------------------------------- choice

def test_choice_one_and_several_options():
    assert check_choice("3", "3").correct
    assert check_choice("2", "3").key == "wrong"
    assert check_choice(None, "3").key == "no_choice" and not check_choice([], "3").valid
    assert check_choice(["1", "3"], ["1", "3"]).correct
    assert check_choice(["1"], ["1", "3"]).key == "partial"
    assert check_choice(["1", "2", "3"], ["1", "3"]).key == "extra"


# --------------------------------------------------------------------- code

def test_code_expression_against_cases():
    cases = [{"a": 1, "b": 2, "c": 3}, {"a": 2.5, "b": -3, "c": -2}]
    assert check_code("b*b - 4*a*c", "b**2 - 4*a*c", cases).correct
    wrong = check_code("b**2 + 4*a*c", "b**2 - 4*a*c", cases)
    assert wrong.key == "wrong_result" and wrong.params["got"] == "16"  # the student's value, not ours
    assert check_code("b^2 - 4*a*c", "b**2 - 4*a*c", cases).key in ("wrong_result", "code_error")
    assert check_code("b**2 - 4ac", "b**2 - 4*a*c", cases).key == "syntax_error"


def test_code_function_against_calls():
    exercises, problems = read_exercises(QUADRATIC, ["kk", "ru", "en"])
    assert not problems
    q4 = exercises["q4"]
    student = "def roots_count(a, b, c):\n    d = b*b - 4*a*c\n    return 2 if d > 0 else (1 if d == 0 else 0)\n"
    assert q4.check(student).correct
    assert q4.check("def roots_count(a, b, c):\n    return 2\n").key == "wrong_result"
    assert q4.check("def count(a, b, c):\n    return 2\n").key == "missing_function"
    assert q4.check("def roots_count(a, b, c):\n    return 1 / 0\n").key == "code_error"


def test_code_infinite_loop_hits_the_timeout():
    start = time.monotonic()
    result = check_code("def f(x):\n    while True:\n        pass\n", "def f(x):\n    return x\n", ["f(1)"],
                        function="f", timeout=1)
    assert result.key == "timeout" and result.valid and not result.correct
    assert time.monotonic() - start < 5


# ---------------------------------------------------------------- lesson.toml

def test_metadata_errors_are_clear():
    raw = {"id": "Bad Id", "subject": "physics", "grade": 15, "estimated_minutes": 30, "languages": ["kk", "de"],
           "title": {"kk": "Т"}, "objective": {}, "colour": "red"}
    meta, problems = validate_meta(raw)
    text = "\n".join(str(p) for p in problems)
    assert meta is None
    assert "unknown key 'colour'" in text
    assert "'id' must be lowercase letters" in text
    assert "'grade' must be a whole number from 1 to 12" in text
    assert "'languages' must list some of kk, ru, en" in text


# ---------------------------------------------------- exercises.toml / .dat

def test_encode_decode_round_trip_hides_the_answers(tmp_path):
    folder = tmp_path / "projectile-motion"
    shutil.copytree(PROJECTILE, folder)
    before, _ = read_exercises(folder, ["kk", "ru", "en"])
    target = encode(folder, remove_source=True)
    assert target.name == "exercises.dat" and not (folder / "exercises.toml").exists()
    data = target.read_bytes()
    for secret in ["2*v0*sin(alpha)/g", "30.625", "Екеуі бірдей", "Both land", "hint"]:
        assert secret.encode() not in data
    after, problems = read_exercises(folder, ["kk", "ru", "en"])
    assert not problems and after == before
    assert decode(data) == tomllib.loads((PROJECTILE / "exercises.toml").read_text(encoding="utf-8"))
    with pytest.raises(LessonError):
        decode(data[:-20] + b"\n")


# ------------------------------------------------------------------ widgets

class Recorder:
    enabled = True
    course, lesson = "phys9a", "projectile-motion"

    def __init__(self):
        self.attempts = []

    def report(self, attempt):
        self.attempts.append(attempt)


def _lesson(folder=PROJECTILE, lang="en", reporter=None):
    from sabaq.lessons import Lesson

    return Lesson(lang=lang, folder=folder, reporter=reporter if reporter is not None else Recorder())


def test_number_widget_wrong_then_right_via_the_button():
    lesson = _lesson()
    widget = lesson.check("q2")
    assert widget.feedback.value == ""
    # the value reaches the kernel on blur, before the click (see ExerciseWidget): per
    # keystroke, a held-back update could arrive after the click it belongs to
    assert widget.input.continuous_update is False
    widget.input.value = "3 s"
    widget.button.click()
    wrong = widget.feedback.value
    assert "Not right yet" in wrong and "factor of 2" in wrong and "Attempts: 1" in wrong
    assert "sin 30° = 0.5" in wrong  # the author's hint, in English
    widget.button.click()  # the same answer again is not another attempt
    assert widget.attempts == 1
    widget.input.value = "1,5 с"
    widget.button.click()
    assert "Correct!" in widget.feedback.value and "Attempts: 2" in widget.feedback.value
    assert [(a.exercise, a.correct, a.attempt, a.answer) for a in lesson.reporter.attempts] == [
        ("q2", False, 1, "3 s"), ("q2", True, 2, "1,5 с")]
    assert "1.5" not in wrong and "1,5" not in wrong


def test_unreadable_answer_is_explained_and_not_counted():
    lesson = _lesson()
    widget = lesson.check("q3")
    widget.submit("thirty metres")
    assert "Could not read a number" in widget.feedback.value
    assert widget.attempts == 0 and lesson.reporter.attempts == []


def test_hints_follow_the_language_and_the_number_of_wrong_attempts():
    lesson = _lesson(lang="kk")
    widget = lesson.check("q1")
    assert widget.button.description != ""
    widget.submit("v0 cos(alpha)/g")
    first = widget.feedback.value
    assert "T-ны жақшаның сыртына шығарыңыз" in first
    widget.submit("v0/g")
    assert "v₀ sin α − g T/2 = 0 теңдігінен" in widget.feedback.value
    assert widget.submit("2 v0 sin(α)/g").correct and widget.attempts == 3
    # running the cell again shows a new widget with the same count
    assert lesson.check("q1").attempts == 3


def test_choice_widgets_single_and_multiple():
    lesson = _lesson(QUADRATIC, lang="ru")
    q1 = lesson.check("q1")
    assert [label for label, _ in q1.input.options] == ["Направлены вверх", "Направлены вниз", "Зависит от b и c"]
    q1.button.click()  # nothing chosen
    assert q1.attempts == 0
    q1.input.value = 1
    q1.button.click()
    assert q1.result.key == "wrong" and q1.attempts == 1
    q1.input.value = 2
    q1.button.click()
    assert q1.result.correct
    q6 = lesson.check("q6")
    q6.boxes[0].value = True
    q6.button.click()
    assert q6.result.key == "partial"
    q6.boxes[2].value = True
    q6.button.click()
    assert q6.result.correct and q6.attempts == 2


def test_language_and_folder_come_from_the_notebook(monkeypatch):
    from sabaq.lessons import Lesson

    monkeypatch.setenv("JPY_SESSION_NAME", str(QUADRATIC / "quadratic-functions.ru.ipynb"))
    lesson = Lesson(reporter=NullReporter())
    assert lesson.lang == "ru" and lesson.folder == QUADRATIC
    assert lesson.num(-1.5) == "-1,5" and lesson.t("one_root", x1=0.25) == "Один корень: x = 0,25."
    monkeypatch.delenv("JPY_SESSION_NAME")
    monkeypatch.chdir(PROJECTILE)
    assert Lesson(lang="kk").folder == PROJECTILE
    with pytest.raises(LessonError, match="no 'de' version"):
        Lesson(lang="de")


def _simulation(lesson, notebook: Path):
    """Run the notebook's simulation cell (the one calling lesson.plot) against ``lesson``."""
    cell = next(c for c in nbformat.read(notebook, as_version=4).cells if "lesson.plot(" in c.source)
    exec(cell.source, {"lesson": lesson})
    return lesson.simulations[-1]


def test_projectile_sliders_redraw_the_trajectory():
    lesson = _lesson(lang="en")
    sim = _simulation(lesson, PROJECTILE / "projectile-motion.en.ipynb")
    png, caption = sim.png, sim.caption.value
    assert png.startswith(b"\x89PNG") and "range L = 35.35 m" in caption  # 20 m/s at 60°
    assert sim.controls["v0"].description == "Launch speed v₀, m/s"
    sim.controls["angle"].value = 30
    assert "range L = 35.35 m" in sim.caption.value  # 30° and 60° land together
    sim.controls["v0"].value = 10
    assert sim.png != png and "range L = 8.84 m" in sim.caption.value
    assert sim.redraws == 3


def test_quadratic_sliders_move_the_vertex_and_the_roots():
    lesson = _lesson(QUADRATIC, lang="kk")
    sim = _simulation(lesson, QUADRATIC / "quadratic-functions.kk.ipynb")
    assert sim.caption.value == "Төбесі (1; -4). Түбірлері: x₁ = -1; x₂ = 3."
    png = sim.png
    sim.controls["c"].value = 1.0
    assert sim.caption.value == "Төбесі (1; 0). Бір ғана түбірі бар: x = 1."
    sim.controls["a"].value = 0.0
    assert sim.caption.value == "a = 0: бұл парабола емес, түзу."
    assert sim.png != png


def test_a_failing_redraw_is_shown_not_lost():
    lesson = _lesson()

    def draw(ax, k):
        if k > 2:
            raise ValueError("too steep")
        ax.plot([0, 1], [0, k])

    sim = lesson.plot(draw, k=(1, 3, 1, 1))
    sim.controls["k"].value = 3
    assert "too steep" in sim.caption.value


def test_a_picture_has_words_for_a_screen_reader():
    """The image's title (its text alternative, issue 16): what draw() says, else its axes and values."""
    lesson = _lesson(lang="en")
    sim = _simulation(lesson, PROJECTILE / "projectile-motion.en.ipynb")
    assert sim.image.tooltip == html.unescape(sim.caption.value) and "range L = 35.35 m" in sim.image.tooltip
    sim.controls["v0"].value = 10
    assert "range L = 8.84 m" in sim.image.tooltip  # redrawn, retold

    def draw(ax, k):
        ax.set_title("Line")
        ax.set_xlabel("t, s")
        ax.plot([0, 1], [0, k])

    silent = _lesson(lang="kk").plot(draw, k=(1, 3, 1, 2))
    assert silent.image.tooltip.startswith(("A picture: Line / t, s.", "Сурет: Line / t, s."))
    assert "k = 2" in silent.image.tooltip
    # ipywidgets' view sets the title only with an empty description, which it reads from the model
    assert silent.image.get_state()["description"] == "" and silent.image.get_state()["tooltip"]


def test_every_answer_box_has_a_label_of_its_own():
    """A placeholder is gone once the student types: the box keeps a label (its description)."""
    for folder in (PROJECTILE, QUADRATIC):
        lesson = _lesson(folder, lang="ru")
        for exercise_id, exercise in lesson.exercises.items():
            widget = lesson.check(exercise_id)
            if exercise.kind == "choice" and exercise.multiple:  # each checkbox is labelled by its option
                assert all(box.description for box in widget.boxes)
            else:
                assert widget.input.description in ("Your answer:", "Ваш ответ:"), exercise_id


# ---------------------------------------------------------------- reporting

class _Service(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Authorization"], json.loads(body)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def service():
    _Service.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)  # shutdown() waits a poll
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/services/sabaq/", _Service.received
    server.shutdown()
    server.server_close()


def test_attempts_are_posted_to_the_service(tmp_path, service):
    url, received = service
    folder = tmp_path / "quadratic-functions"
    shutil.copytree(QUADRATIC, folder)
    (folder / ".sabaq-lesson.json").write_text(json.dumps({"course": "alg8b", "lesson": "quadratic-functions"}))
    reporter = reporter_for(folder, {"SABAQ_SERVICE_URL": url, "JUPYTERHUB_API_TOKEN": "tok3n"})
    assert isinstance(reporter, Reporter)
    lesson = _lesson(folder, lang="kk", reporter=reporter)
    widget = lesson.check("q4")
    widget.submit("def roots_count(a, b, c):\n    return 2\n" + "# long answer\n" * 30)
    widget.submit("def roots_count(a, b, c):\n    d = b**2 - 4*a*c\n    return (d > 0) + (d >= 0)\n")
    assert reporter.flush(5) and reporter.sent == 2
    (path, auth, first), (_, _, second) = received
    assert path == "/services/sabaq/api/v1/lessons/attempts" and auth == "token tok3n"
    assert first["course"] == "alg8b" and first["lesson"] == "quadratic-functions" and first["exercise"] == "q4"
    assert first["correct"] is False and first["attempt"] == 1 and len(first["answer"]) == 200
    assert second["correct"] is True and second["attempt"] == 2 and second["lang"] == "kk"


def test_no_reporting_outside_sabaq_and_never_an_error(tmp_path):
    folder = tmp_path / "quadratic-functions"
    shutil.copytree(QUADRATIC, folder)
    env = {"SABAQ_SERVICE_URL": "http://127.0.0.1:9/", "JUPYTERHUB_API_TOKEN": "t"}
    assert isinstance(reporter_for(folder, env), NullReporter)  # not published: no .sabaq-lesson.json
    (folder / ".sabaq-lesson.json").write_text('{"course": "alg8b", "lesson": "quadratic-functions"}')
    assert isinstance(reporter_for(folder, {}), NullReporter)  # published, but not inside sabaq
    down = reporter_for(folder, env)  # nothing listens on port 9
    lesson = _lesson(folder, reporter=down)
    start = time.monotonic()
    assert lesson.check("q5").submit("-1,5").correct
    assert time.monotonic() - start < 1  # the click does not wait for the service
    assert down.flush(5) and down.failed == 1 and down.sent == 0


# -------------------------------------------------------------------- check

def test_a_broken_copy_fails_with_clear_messages(tmp_path, capsys):
    folder = tmp_path / "projectile-motion"
    shutil.copytree(PROJECTILE, folder)
    spec = (folder / "exercises.toml").read_text(encoding="utf-8")
    (folder / "exercises.toml").write_text(spec.split("[q5]")[0], encoding="utf-8")  # q5 dropped
    ru = folder / "projectile-motion.ru.ipynb"
    nb = nbformat.read(ru, as_version=4)
    cell = next(i for i, c in enumerate(nb.cells) if "lesson.plot(" in c.source)
    nb.cells[cell].source = nb.cells[cell].source.replace("angle=(5, 85, 5, 60)", "angle=(5, 85, 5, 45)")
    nbformat.write(nb, ru)
    report = check(tmp_path, execute=False)
    problems = "\n".join(report.problems())
    assert not report.ok
    assert "The notebooks use exercise q5, which exercises.toml does not define." in problems
    assert f"projectile-motion.ru.ipynb, cell {cell + 1}: the code differs from projectile-motion.kk.ipynb" in problems
    assert main([str(tmp_path), "--no-execute"]) == 1
    assert "does not define" in capsys.readouterr().out


def test_a_lesson_that_fails_when_run_is_reported(tmp_path):
    folder = tmp_path / "projectile-motion"
    shutil.copytree(PROJECTILE, folder)
    for lang in ("ru", "en"):
        (folder / f"projectile-motion.{lang}.ipynb").unlink()
    meta = (folder / "lesson.toml").read_text(encoding="utf-8")
    meta = meta.replace('languages = ["kk", "ru", "en"]', 'languages = ["kk"]')
    meta = meta.replace('y_axis = "биіктік y, м"\n', "")  # the kk label the simulation needs
    (folder / "lesson.toml").write_text(meta, encoding="utf-8")
    report = check(folder)
    assert not report.ok and report.lessons[0].failed == {"kk"}
    [problem] = report.problems()  # the error itself is in the notebook's language
    assert problem.startswith("projectile-motion: projectile-motion.kk.ipynb, cell 4: LessonError: ")
    assert "'y_axis'" in problem
