"""A lesson's self-checks: ``exercises.toml`` and its encoded form ``exercises.dat``.

Answers are kept out of the notebooks (which only say ``lesson.check("q1")``)
so that the three language versions share them and a student cannot read them
in the notebook's text. Authors write ``exercises.toml``::

    [q1]
    kind = "number"            # number | expression | choice | code; exact = true for counts
    answer = 35.35             # in `units`
    units = "m"
    rel_tol = 0.02             # and/or abs_tol; default rel_tol = 0.01
    hint.kk = "..."            # shown after a wrong answer; a list gives
    hint.ru = "..."            # one hint per wrong attempt, the last repeats
    hint.en = "..."

    [q2]
    kind = "choice"
    options = ["30°", "45°", "60°"]      # or options.kk / options.ru / options.en
    answer = 2                           # the option's number from 1; a list if several

    [q3]
    kind = "expression"
    answer = "2*v0*sin(alpha)/g"
    variables = ["v0", "alpha", "g"]

    [q4]
    kind = "code"
    answer = "b**2 - 4*a*c"              # the reference solution
    tests = [{a = 1, b = 2, c = 3}]      # variable values; or function = "f"
                                         # and tests = ["f(1, 2)"]

When a lesson is published to students, ``exercises.toml`` is replaced by
``exercises.dat`` (:func:`encode`). That file is zlib-compressed JSON XORed
with a key stream and base64-encoded: it stops a student from reading the
answers by opening the file or searching it, not a determined one, since the
key ships with sabaq and the running notebook must know the answers anyway.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tomllib
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from sabaq.i18n import N_
from sabaq.lessons import answers
from sabaq.lessons.meta import ENCODED_FILE, EXERCISES_FILE, LessonError

KINDS = ("number", "expression", "choice", "code")
COMMON = {"kind", "answer", "hint"}
KIND_KEYS = {
    "number": {"units", "rel_tol", "abs_tol", "units_optional", "exact"},
    "expression": {"variables"},
    "choice": {"options"},
    "code": {"tests", "function", "timeout"},
}
MAGIC = b"SABAQ-EXERCISES 1\n"
_KEY = b"sabaq lessons: this stops reading, not decoding"


@dataclass
class Exercise:
    """One self-check, as the widget and the checkers need it."""

    id: str
    kind: str
    answer: object
    hints: dict[str, list[str]]
    units: str = ""
    rel_tol: float = 0.01
    abs_tol: float = 0.0
    units_optional: bool = True
    exact: bool = False  # a count or a code: equal or wrong, no hints about rounding or powers of ten
    variables: list[str] = field(default_factory=list)
    options: dict[str, list[str]] = field(default_factory=dict)
    tests: list = field(default_factory=list)
    function: str | None = None
    timeout: float = 2.0

    @property
    def multiple(self) -> bool:
        return self.kind == "choice" and isinstance(self.answer, list)

    def check(self, value) -> answers.Result:
        """``value``: the text typed, or for a choice the option number(s) from 1."""
        if self.kind == "number":
            return answers.check_number(value, self.answer, self.units, self.rel_tol, self.abs_tol,
                                        self.units_optional, exact=self.exact)
        if self.kind == "expression":
            return answers.check_expression(value, self.answer, self.variables)
        if self.kind == "choice":
            right = [str(i) for i in self.answer] if self.multiple else str(self.answer)
            if isinstance(value, (list, tuple)):
                value = [str(v) for v in value]
            elif value is not None:
                value = str(value)
            return answers.check_choice(value, right)
        return answers.check_code(value, self.answer, self.tests, self.function, self.timeout)

    def hint(self, lang: str, wrong_attempts: int) -> str:
        hints = self.hints.get(lang) or self.hints.get("en") or []
        if not hints or wrong_attempts < 1:
            return ""
        return hints[min(wrong_attempts, len(hints)) - 1]

    def sample_answer(self):
        """A right answer in the form a student would give it (for self-tests)."""
        if self.kind == "number":
            return f"{self.answer} {self.units}".strip()
        if self.kind == "choice":
            return list(self.answer) if self.multiple else self.answer
        return self.answer


def _err(message: str, exercise: str, **params) -> LessonError:
    return LessonError(message, exercise=exercise, **params)


def _texts(value, exercise: str, key: str, languages, problems) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        problems.append(_err(N_("Exercise {exercise}: add {key}.kk, {key}.ru, {key}.en (one per language)."),
                             exercise, key=key))
        return {}
    out = {}
    for lang in languages:
        texts = value.get(lang)
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
            problems.append(_err(N_("Exercise {exercise}: {key}.{lang} is missing or empty."), exercise,
                                 key=key, lang=lang))
            continue
        out[lang] = texts
    if len({len(v) for v in out.values()}) > 1:
        problems.append(_err(N_("Exercise {exercise}: {key} has a different number of entries in different languages."),
                             exercise, key=key))
    return out


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_exercise(ex_id: str, raw, languages) -> tuple[Exercise | None, list[LessonError]]:
    problems: list[LessonError] = []
    if not isinstance(raw, dict):
        return None, [_err(N_("Exercise {exercise} must be a [table]."), ex_id)]
    kind = raw.get("kind")
    if kind not in KINDS:
        return None, [_err(N_("Exercise {exercise}: 'kind' must be one of {kinds}."), ex_id, kinds=", ".join(KINDS))]
    for key in sorted(set(raw) - COMMON - KIND_KEYS[kind]):
        problems.append(_err(N_("Exercise {exercise}: unknown key '{key}' for a {kind} exercise."), ex_id,
                             key=key, kind=kind))
    if "answer" not in raw:
        problems.append(_err(N_("Exercise {exercise} has no answer."), ex_id))
    hints = _texts(raw.get("hint"), ex_id, "hint", languages, problems)
    ex = Exercise(ex_id, kind, raw.get("answer"), hints)
    answer = raw.get("answer")
    if kind == "number":
        ex.units = raw.get("units", "")
        ex.rel_tol = raw.get("rel_tol", 0.01 if "abs_tol" not in raw else 0.0)
        ex.abs_tol = raw.get("abs_tol", 0.0)
        ex.units_optional = raw.get("units_optional", True)
        ex.exact = raw.get("exact", False) is True
        if not _number(answer) or (ex.exact and int(answer) != answer):
            problems.append(_err(N_("Exercise {exercise}: the answer of a number exercise must be a number."), ex_id))
        if not ex.exact and (not _number(ex.rel_tol) or not _number(ex.abs_tol) or ex.rel_tol < 0 or ex.abs_tol < 0
                             or (ex.rel_tol == 0 and ex.abs_tol == 0)):
            problems.append(_err(N_("Exercise {exercise}: rel_tol and abs_tol must be numbers, at least one above 0."),
                                 ex_id))
        try:
            if not isinstance(ex.units, str):
                raise ValueError(ex.units)
            answers.parse_units(ex.units)
        except ValueError:
            problems.append(_err(N_("Exercise {exercise}: unknown units '{units}'."), ex_id, units=str(ex.units)))
    elif kind == "expression":
        ex.variables = raw.get("variables", [])
        if not isinstance(ex.variables, list) or not all(isinstance(v, str) for v in ex.variables):
            problems.append(_err(N_("Exercise {exercise}: 'variables' must be a list of names."), ex_id))
            ex.variables = []
        try:
            answers.parse_expression(str(answer), ex.variables)
        except (ValueError, NameError):
            problems.append(_err(N_("Exercise {exercise}: the answer is not an expression in {names}."), ex_id,
                                 names=", ".join(ex.variables) or "-"))
    elif kind == "choice":
        options = raw.get("options")
        if isinstance(options, list):
            options = {lang: options for lang in languages}
        ex.options = _texts(options, ex_id, "options", languages, problems)
        count = len(next(iter(ex.options.values()), []))
        picks = answer if isinstance(answer, list) else [answer]
        if not picks or not all(_number(p) and int(p) == p and 1 <= p <= count for p in picks) \
                or len(set(picks)) != len(picks):
            problems.append(_err(N_("Exercise {exercise}: the answer must be an option number from 1 to {count}, or a list of them."),
                                 ex_id, count=count))
        elif isinstance(answer, list):
            ex.answer = sorted(int(p) for p in answer)
        else:
            ex.answer = int(answer)
    elif kind == "code":
        ex.function = raw.get("function")
        ex.tests = raw.get("tests", [])
        ex.timeout = raw.get("timeout", 2.0)
        if not isinstance(answer, str):
            problems.append(_err(N_("Exercise {exercise}: the answer of a code exercise is Python code."), ex_id))
        else:
            try:
                compile(answer, ex_id, "exec" if ex.function else "eval")
            except SyntaxError:
                problems.append(_err(N_("Exercise {exercise}: the reference answer is not valid Python."), ex_id))
        shape = str if ex.function else dict
        if not isinstance(ex.tests, list) or not all(isinstance(t, shape) for t in ex.tests) \
                or (ex.function and not ex.tests):
            problems.append(_err(N_("Exercise {exercise}: 'tests' must be calls like \"f(1, 2)\" with 'function', else tables of variable values."),
                                 ex_id))
        if not _number(ex.timeout) or not 0 < ex.timeout <= 10:
            problems.append(_err(N_("Exercise {exercise}: 'timeout' must be seconds, at most 10."), ex_id))
    return (None if problems else ex), problems


def read_raw(folder: Path | str) -> dict:
    """The exercises table from exercises.toml (the author's copy) or else exercises.dat."""
    folder = Path(folder)
    source = folder / EXERCISES_FILE
    if source.is_file():
        try:
            return tomllib.loads(source.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise LessonError(N_("{file} is not valid TOML: {error}"), file=EXERCISES_FILE, error=str(exc)) from exc
    encoded = folder / ENCODED_FILE
    if encoded.is_file():
        return decode(encoded.read_bytes())
    raise LessonError(N_("{folder} has no {file}."), folder=str(folder), file=EXERCISES_FILE)


def read_exercises(folder: Path | str, languages) -> tuple[dict[str, Exercise], list[LessonError]]:
    """Every exercise (in file order) and every problem found in them."""
    try:
        raw = read_raw(folder)
    except LessonError as exc:
        return {}, [exc]
    out, problems = {}, []
    for ex_id, table in raw.items():
        ex, found = parse_exercise(ex_id, table, languages)
        problems.extend(found)
        if ex is not None:
            out[ex_id] = ex
    return out, problems


def load_exercises(folder: Path | str, languages) -> dict[str, Exercise]:
    exercises, problems = read_exercises(folder, languages)
    if problems:
        raise problems[0]
    return exercises


def _keystream(salt: bytes, size: int) -> bytes:
    blocks = (hashlib.sha256(_KEY + salt + i.to_bytes(4, "big")).digest() for i in range((size + 31) // 32))
    return b"".join(blocks)[:size]


def encode_raw(raw: dict) -> bytes:
    salt = os.urandom(8)
    packed = zlib.compress(json.dumps(raw, ensure_ascii=False).encode("utf-8"), 9)
    masked = bytes(a ^ b for a, b in zip(packed, _keystream(salt, len(packed))))
    return MAGIC + base64.b64encode(salt + masked) + b"\n"


def decode(data: bytes) -> dict:
    """The exercises table from the bytes of an exercises.dat."""
    if not data.startswith(MAGIC):
        raise LessonError(N_("{file} is damaged: publish the lesson again."), file=ENCODED_FILE)
    try:
        blob = base64.b64decode(data[len(MAGIC):].strip(), validate=True)
        salt, masked = blob[:8], blob[8:]
        packed = bytes(a ^ b for a, b in zip(masked, _keystream(salt, len(masked))))
        return json.loads(zlib.decompress(packed).decode("utf-8"))
    except (ValueError, zlib.error) as exc:
        raise LessonError(N_("{file} is damaged: publish the lesson again."), file=ENCODED_FILE) from exc


def encode(folder: Path | str, remove_source: bool = False) -> Path:
    """Write ``exercises.dat`` from ``exercises.toml`` (for publishing); optionally drop the toml."""
    folder = Path(folder)
    source = folder / EXERCISES_FILE
    raw = tomllib.loads(source.read_text(encoding="utf-8"))
    target = folder / ENCODED_FILE
    target.write_bytes(encode_raw(raw))
    if remove_source:
        source.unlink()
    return target
