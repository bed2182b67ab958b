"""Answer checkers: pure functions from what a student typed to a verdict.

They live apart from the widgets so that they can be tested without a browser
and reused by anything else that checks an answer (the service, a grader).
A verdict never contains the right answer: it says whether the answer is
right and, when it is not, which kind of slip it looks like (wrong units, a
power of ten, the sign...), so the widget can give a hint that helps without
giving the answer away.

Students in Kazakhstan write numbers with a decimal comma and units in
Cyrillic (``9,8 м/с²``), so both are read as well as ``9.8 m/s^2``.
"""

from __future__ import annotations

import functools
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

from sabaq.i18n import N_, translator

# Hint categories -> English message (the msgid). ``valid=False`` results are
# answers that could not be read at all; the widget does not count them.
MESSAGES = {
    "correct": N_("Correct!"),
    "wrong": N_("Not right yet."),
    "empty": N_("Type an answer first."),
    "not_a_number": N_("Could not read a number. Write it like 12.5 or 12,5, then the units."),
    "unknown_units": N_("Unknown units: {units}. Write units like m, km/h, m/s^2 or м, км/ч, м/с²."),
    "missing_units": N_("Write the units after the number."),
    "unexpected_units": N_("This answer has no units: write just the number."),
    "wrong_dimension": N_("These units measure a different quantity: check what the question asks for."),
    "sign": N_("Check the sign."),
    "power_of_ten": N_("The digits look right, but the size is off by a power of ten: check the units and conversions."),
    "factor_two": N_("Check for a missing or an extra factor of 2."),
    "rounding": N_("Very close: check your rounding and the value of the constants."),
    "unparsable_expression": N_("Could not read the expression: check the brackets and the operators (write * for multiplication if in doubt)."),
    "unknown_symbols": N_("The expression uses letters this exercise does not: {names}."),
    "brackets": N_("Put the whole denominator in brackets: a/(2b), not a/2b."),
    "constant_factor": N_("Almost: your expression differs from the right one by a constant factor."),
    "no_choice": N_("Choose an answer first."),
    "partial": N_("Your choices are right, but not all the right options are chosen."),
    "extra": N_("At least one of your choices is wrong."),
    "syntax_error": N_("Python cannot read this code: {error}"),
    "missing_function": N_("Define the function {name}."),
    "timeout": N_("Your code ran too long (over {seconds} s). Look for a loop that never ends."),
    "code_error": N_("Your code stopped with {error} for {case}."),
    "code_crashed": N_("Your code stopped with {error}."),
    "wrong_result": N_("Your code gives a wrong result for {case}: {got}."),
    "checker_failed": N_("The answer could not be checked. Tell your teacher."),
}


@dataclass(frozen=True)
class Result:
    """A verdict: right or not, a hint category, and safe parameters for its message."""

    correct: bool
    key: str
    valid: bool = True
    params: dict = field(default_factory=dict)

    def message(self, lang: str | None = "en") -> str:
        _ = translator(lang)
        return _(MESSAGES[self.key]).format(**self.params)


def _right() -> Result:
    return Result(True, "correct")


def _invalid(key: str, **params) -> Result:
    return Result(False, key, valid=False, params=params)


def _wrong(key: str = "wrong", **params) -> Result:
    return Result(False, key, params=params)


def within(value: float, expected: float, rel_tol: float = 0.0, abs_tol: float = 0.0) -> bool:
    """Inclusive tolerance test (with room for floating-point noise at the edge)."""
    allowed = max(abs_tol, rel_tol * abs(expected))
    return abs(value - expected) <= allowed * (1 + 1e-9) + 1e-12 * max(abs(expected), 1.0)


# ---------------------------------------------------------------- numbers

_SPACES = "\u00a0\u202f\u2009 "
_NUMBER = re.compile(
    r"""^\s*(?P<sign>[+\-\u2212]?)\s*
    (?P<int>\d{1,3}(?:[\u00a0\u202f\u2009 ]\d{3})+|\d*)
    (?:[.,](?P<frac>\d+))?
    (?:\s*(?:[eE](?P<e>[+\-\u2212]?\d+)|\s*[*\u00d7\u00b7\u22c5x]\s*10\s*(?:\^|\*\*)\s*\(?(?P<p>[+\-\u2212]?\d+)\)?
        |\s*[*\u00d7\u00b7\u22c5x]\s*10(?P<sup>[\u207b\u2070\u00b9\u00b2\u00b3\u2074-\u2079]+)))?
    (?P<rest>.*)$""",
    re.VERBOSE | re.DOTALL,
)
_SUPERSCRIPTS = str.maketrans("\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079",
                              "-0123456789")

# Cyrillic unit symbols as written in Kazakh and Russian school books -> pint.
CYRILLIC_UNITS = {
    "мм": "mm", "см": "cm", "дм": "dm", "м": "m", "км": "km",
    "мс": "ms", "с": "s", "сек": "s", "мин": "min", "ч": "h", "сағ": "h", "сут": "day", "тәу": "day",
    "мг": "mg", "г": "g", "кг": "kg", "т": "t",
    "Н": "N", "кН": "kN", "мН": "mN", "МН": "MN",
    "Дж": "J", "кДж": "kJ", "МДж": "MJ", "мДж": "mJ",
    "Вт": "W", "кВт": "kW", "МВт": "MW", "мВт": "mW",
    "Па": "Pa", "кПа": "kPa", "МПа": "MPa", "гПа": "hPa",
    "Гц": "Hz", "кГц": "kHz", "МГц": "MHz",
    "В": "V", "кВ": "kV", "мВ": "mV", "А": "A", "мА": "mA", "кА": "kA",
    "Ом": "ohm", "кОм": "kohm", "МОм": "Mohm", "Кл": "C", "мКл": "mC", "Ф": "F", "мкФ": "uF", "Тл": "T",
    "л": "L", "мл": "mL", "рад": "rad", "град": "degree", "К": "K", "моль": "mol",
}
_LATIN_TO_CYRILLIC = {
    "kk": {v: k for k, v in reversed(list(CYRILLIC_UNITS.items())) if k not in ("сек", "ч", "сут")},
    "ru": {v: k for k, v in reversed(list(CYRILLIC_UNITS.items())) if k not in ("сек", "сағ", "тәу")},
}
_UNIT_TOKEN = re.compile(r"[^\W\d_\u00b2\u00b3\u00b9\u2070-\u209f]+", re.UNICODE)
_UNIT_ALLOWED = re.compile(r"^[\w\s*/^().\-]*$", re.UNICODE)


@functools.cache
def units_registry():
    """One pint registry per process: building one takes a fraction of a second."""
    import pint

    return pint.UnitRegistry()


def normalize_units(text: str) -> str:
    """``м/с²`` -> ``m/s**2``: Cyrillic symbols, superscripts, ``·`` and ``^`` made pint-readable."""
    text = text.strip().replace("\u00b0", " degree ").replace("\u2032", " arcminute ")
    text = re.sub(r"[\u207b\u2070\u00b9\u00b2\u00b3\u2074-\u2079]+",
                  lambda m: "**" + m.group(0).translate(_SUPERSCRIPTS), text)
    text = text.replace("\u00b7", "*").replace("\u22c5", "*").replace("\u00d7", "*").replace("\u2212", "-")
    text = text.replace("^", "**")
    text = _UNIT_TOKEN.sub(lambda m: CYRILLIC_UNITS.get(m.group(0), m.group(0)), text)
    return re.sub(r"(?<=[A-Za-z])(\d+)", r"**\1", text).strip()  # m/s2 -> m/s**2


def display_units(units: str, lang: str | None) -> str:
    """The exercise's units as students of ``lang`` write them: ``m/s^2`` -> ``м/с²`` in kk and ru."""
    sup = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")
    text = units.strip()
    table = _LATIN_TO_CYRILLIC.get(lang or "en")
    if table:
        text = _UNIT_TOKEN.sub(lambda m: table.get(m.group(0), m.group(0)), text)
    text = re.sub(r"\s*(?:\*\*|\^)\s*(-?\d+)", lambda m: m.group(1).translate(sup), text)
    return text.replace("*", "\u00b7").replace("degree", "\u00b0")


def parse_units(text: str):
    """A pint Unit from an author's or a student's unit text; ValueError if unknown."""
    import pint

    norm = normalize_units(text)
    if not norm:
        return units_registry().dimensionless
    if not _UNIT_ALLOWED.match(norm) or "__" in norm:
        raise ValueError(text)
    try:
        units = units_registry().parse_units(norm)
    except (pint.errors.PintError, AttributeError, TypeError, SyntaxError, ValueError, KeyError) as exc:
        raise ValueError(text) from exc
    return units


_FRACTION = re.compile(r"^\s*(?P<sign>[-+\u2212]?)\s*(?P<num>\d+)\s*/\s*(?P<den>\d+)(?![\d.,])(?P<rest>.*)$", re.S)


def parse_number(text: str) -> tuple[float, str] | None:
    """``'9,8 м/с²'`` -> ``(9.8, 'м/с²')``, ``'-7/2'`` -> ``(-3.5, '')``; None if there is no number at the start."""
    fraction = _FRACTION.match(text)
    if fraction and int(fraction["den"]) != 0:
        value = int(fraction["num"]) / int(fraction["den"])
        return (-value if fraction["sign"] in ("-", "\u2212") else value), fraction["rest"].strip()
    m = _NUMBER.match(text)
    if not m or not (m.group("int") or m.group("frac")):
        return None
    digits = re.sub(f"[{_SPACES}]", "", m.group("int") or "0")
    value = float(f"{digits}.{m.group('frac') or '0'}")
    exponent = m.group("e") or m.group("p") or (m.group("sup") or "").translate(_SUPERSCRIPTS)
    if exponent:
        value *= 10.0 ** int(exponent.replace("\u2212", "-"))
    if m.group("sign") in ("-", "\u2212"):
        value = -value
    return value, m.group("rest").strip()


def check_number(text: str, answer: float, units: str = "", rel_tol: float | None = None, abs_tol: float = 0.0,
                 units_optional: bool = True, exact: bool = False) -> Result:
    """A number with units. ``answer`` is in ``units``; compatible units are converted
    (``980 cm/s**2`` for ``9.8 m/s^2``); a bare number is taken to be in ``units``
    when ``units_optional``. Without any tolerance given, 1 % is allowed. ``exact``
    answers (counts, steps, a number's value) must be equal and get no slip hints."""
    if rel_tol is None:
        rel_tol = 0.0 if abs_tol else 0.01
    text = (text or "").strip()
    if not text:
        return _invalid("empty")
    parsed = parse_number(text)
    if parsed is None:
        return _invalid("not_a_number")
    value, unit_text = parsed
    if unit_text:
        try:
            given = parse_units(unit_text)
        except ValueError:
            return _invalid("unknown_units", units=unit_text[:40])
        expected = parse_units(units) if units else units_registry().dimensionless
        if given.dimensionality != expected.dimensionality:
            if not units:
                return _invalid("unexpected_units")
            return _wrong("wrong_dimension")
        value = units_registry().Quantity(value, given).to(expected).magnitude
    elif units and not units_optional:
        return _invalid("missing_units")
    if exact:
        return _right() if float(value) == float(answer) else _wrong()
    return _number_verdict(float(value), float(answer), rel_tol, abs_tol)


def _number_verdict(value: float, answer: float, rel_tol: float, abs_tol: float) -> Result:
    if within(value, answer, rel_tol, abs_tol):
        return _right()
    if answer != 0 and within(-value, answer, rel_tol, abs_tol):
        return _wrong("sign")
    if answer != 0 and value != 0:
        ratio = abs(value / answer)
        for k in (1, 2, 3, 6, -1, -2, -3, -6):
            if within(abs(value), abs(answer) * 10.0 ** k, rel_tol, abs_tol * 10.0 ** k):
                return _wrong("power_of_ten")
        if within(abs(value), abs(answer) * 2, rel_tol) or within(abs(value), abs(answer) / 2, rel_tol):
            return _wrong("factor_two")
        if abs(ratio - 1) <= max(5 * rel_tol, 0.05) or abs(value - answer) <= 5 * abs_tol:
            return _wrong("rounding")
    return _wrong()


# ------------------------------------------------------------ expressions

_GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "θ": "theta", "φ": "phi", "ω": "omega",
    "λ": "lambda_", "μ": "mu", "ρ": "rho", "σ": "sigma", "τ": "tau", "Δ": "Delta", "π": "pi",
}
_SUBSCRIPTS = str.maketrans("₀₁₂₃₄₅₆₇₈₉", "0123456789")
_FUNCTIONS = {"sqrt": "sqrt", "sin": "sin", "cos": "cos", "tan": "tan", "tg": "tan", "cot": "cot",
              "ctg": "cot", "asin": "asin", "acos": "acos", "atan": "atan", "exp": "exp", "log": "log",
              "ln": "log", "abs": "Abs"}
_EXPR_ALLOWED = re.compile(r"^[\w\s+\-*/^().,]*$", re.UNICODE)


def normalize_expression(text: str) -> str:
    """School notation -> sympy input: ``2v₀·sin α / g`` -> ``2v0*sin alpha / g``."""
    text = text.strip()
    if "=" in text:  # "T = 2 v0 sin(alpha)/g": keep the right-hand side
        text = text.rsplit("=", 1)[1]
    text = text.translate(_SUBSCRIPTS)
    text = re.sub(r"[\u207b\u2070\u00b9\u00b2\u00b3\u2074-\u2079]+",
                  lambda m: "**" + m.group(0).translate(_SUPERSCRIPTS), text)
    for symbol, name in _GREEK.items():
        text = text.replace(symbol, f" {name} ")
    text = text.replace("√", "sqrt").replace("·", "*").replace("⋅", "*").replace("×", "*")
    text = text.replace("−", "-").replace(":", "/")
    text = re.sub(r"(?<=[A-Za-z])_(?=\d)", "", text)  # v_0 -> v0
    text = re.sub(r"(?<=\d),(?=\d)", ".", text)  # decimal comma
    return text.strip()


def _split_names(text: str, known) -> str:
    """``2v0sinalpha`` -> ``2v0 sin alpha`` when the run splits exactly into known names."""
    def split(word: str) -> list[str] | None:
        if not word:
            return []
        for size in range(len(word), 0, -1):
            head = word[:size]
            if head in known:
                rest = split(word[size:])
                if rest is not None:
                    return [head, *rest]
        return None

    def fix(m: re.Match) -> str:
        word = m.group(0)
        if word in known or len(word) > 40:
            return word
        parts = split(word)
        return " ".join(parts) if parts else word

    return re.sub(r"[A-Za-z_][A-Za-z0-9_]*", fix, text)


def _symbols(variables) -> dict:
    import sympy

    names = {}
    for name in variables:
        clean = normalize_expression(name).strip()
        names[clean] = sympy.Symbol(clean, real=True)
    return names


def parse_expression(text: str, variables=()):
    """A sympy expression from school notation, or ValueError / NameError(unknown names).

    Only the declared variables, numbers and a few functions are allowed, so that
    what a student types is never run as Python (sympy's parser evaluates)."""
    import sympy
    from sympy.parsing.sympy_parser import (
        convert_xor,
        implicit_multiplication_application,
        parse_expr,
        standard_transformations,
    )

    norm = normalize_expression(text)
    if not norm or "__" in norm or not _EXPR_ALLOWED.match(norm) or "," in norm:
        raise ValueError(text)
    symbols = _symbols(variables)
    local = {
        **{name: getattr(sympy, target) for name, target in _FUNCTIONS.items()},
        "pi": sympy.pi, "E": sympy.E,
        **symbols,
    }
    if "e" not in symbols:
        local["e"] = sympy.E
    norm = _split_names(norm, local)
    # names the student used that we do not know (after splitting, e.g. "xy" -> x*y)
    known = set(local)
    glob = {"Integer": sympy.Integer, "Float": sympy.Float, "Rational": sympy.Rational,
            "Symbol": sympy.Symbol, "Function": sympy.Function, "__builtins__": {}}
    transformations = standard_transformations + (implicit_multiplication_application, convert_xor)
    try:
        expr = parse_expr(norm, local_dict=local, global_dict=glob, transformations=transformations,
                          evaluate=True)
    except Exception as exc:  # the parser raises anything from SyntaxError to TypeError
        raise ValueError(text) from exc
    if not isinstance(expr, sympy.Expr):
        raise ValueError(text)
    unknown = sorted({s.name for s in expr.free_symbols if s.name not in known}
                     | {f.func.__name__ for f in expr.atoms(sympy.Function)
                        if isinstance(f.func, sympy.core.function.UndefinedFunction)})
    if unknown:
        raise NameError(", ".join(unknown))
    return expr


# "-b/2a": by the rules this is (-b/2)*a; students usually mean -b/(2a)
_BARE_DENOMINATOR = re.compile(r"/\s*(\d+(?:\.\d+)?\s*[A-Za-z_][A-Za-z0-9_]*(?:\s*[A-Za-z_][A-Za-z0-9_]*)*)")


def check_expression(text: str, answer: str, variables=()) -> Result:
    """An algebraic expression, right if it equals ``answer`` for all values of the variables."""
    import sympy

    if not (text or "").strip():
        return _invalid("empty")
    try:
        given = parse_expression(text, variables)
    except NameError as exc:
        return _invalid("unknown_symbols", names=str(exc)[:80])
    except ValueError:
        return _invalid("unparsable_expression")
    expected = parse_expression(answer, variables)
    if _equal(given, expected):
        return _right()
    if _equal(given, -expected):
        return _wrong("sign")
    bracketed = _BARE_DENOMINATOR.sub(r"/(\1)", normalize_expression(text))
    if bracketed != normalize_expression(text):
        try:
            if _equal(parse_expression(bracketed, variables), expected):
                return _wrong("brackets")
        except (ValueError, NameError):
            pass
    if not expected.free_symbols:  # a plain number: any other number "differs by a factor"
        return _wrong()
    try:
        ratio = sympy.simplify(given / expected)
    except Exception:
        ratio = None
    if ratio is not None and ratio.is_number and ratio.is_finite and ratio != 0:
        return _wrong("constant_factor")
    return _wrong()


def _equal(a, b) -> bool:
    """Symbolically if sympy can show it, else at random points (simplify is not complete)."""
    import sympy

    try:
        if sympy.simplify(a - b) == 0:
            return True
    except Exception:
        pass
    symbols = sorted(a.free_symbols | b.free_symbols, key=lambda s: s.name)
    rng = random.Random(12345)
    agreed = 0
    for _ in range(12):
        point = {s: rng.choice((-1, 1)) * rng.uniform(0.3, 3.0) for s in symbols}
        try:
            x = complex(a.evalf(subs=point))
            y = complex(b.evalf(subs=point))
        except (TypeError, ValueError, ZeroDivisionError):
            continue
        if not all(map(math.isfinite, (x.real, x.imag, y.real, y.imag))):
            continue
        if abs(x - y) > 1e-9 * max(1.0, abs(x), abs(y)):
            return False
        agreed += 1
    return agreed >= 5


# ----------------------------------------------------------------- choice

def check_choice(selected, answer) -> Result:
    """One option (a string) or several (a list); ``selected`` is what the student ticked."""
    if isinstance(selected, str):
        selected = [selected] if selected else []
    chosen = set(selected or ())
    right = {answer} if isinstance(answer, str) else set(answer)
    if not chosen:
        return _invalid("no_choice")
    if chosen == right:
        return _right()
    if len(right) > 1 and chosen < right:
        return _wrong("partial")
    if len(right) > 1:
        return _wrong("extra")
    return _wrong()


# ------------------------------------------------------------------- code

_RUNNER = r"""
import io, json, math, resource, sys
data = json.loads(sys.stdin.read())
cpu = int(math.ceil(data["timeout"])) + 1
for limit, value in ((resource.RLIMIT_CPU, cpu), (resource.RLIMIT_AS, 1 << 30),
                     (resource.RLIMIT_FSIZE, 1 << 20), (resource.RLIMIT_NPROC, 0)):
    try:
        resource.setrlimit(limit, (value, value))
    except (ValueError, OSError):
        pass
verdict_out, sys.stdout = sys.stdout, io.StringIO()  # the student's print() must not mix with the verdict

def say(verdict):
    verdict_out.write(json.dumps(verdict) + "\n")
    verdict_out.flush()
    sys.exit()

def same(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) == type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b

def load(code, function):
    env = {"__name__": "__answer__"}
    if function:
        exec(compile(code, "<answer>", "exec"), env)
        if not callable(env.get(function)):
            return None
    else:
        compile(code, "<answer>", "eval")
    return env

def run(code, env, function, case):
    if function:
        return eval(case, dict(env))
    return eval(code, {"__name__": "__answer__", **case})

function = data["function"]
try:
    student = load(data["code"], function)
except SyntaxError as exc:
    say({"syntax_error": f"{exc.msg} (line {exc.lineno})"})
except BaseException as exc:
    say({"error": type(exc).__name__, "case": "-"})
if student is None:
    say({"missing_function": function})
reference = load(data["answer"], function)
for case in data["tests"] or ([{}] if not function else []):
    label = case if function else ", ".join(f"{k} = {v!r}" for k, v in case.items()) or "-"
    want = run(data["answer"], reference, function, case)
    try:
        got = run(data["code"], student, function, case)
    except BaseException as exc:
        say({"error": type(exc).__name__, "case": label})
    if not same(got, want):
        say({"wrong": label, "got": repr(got)[:60]})
say({"ok": True})
"""


def check_code(code: str, answer: str, tests=(), function: str | None = None, timeout: float = 2.0) -> Result:
    """A short piece of Python, compared with the reference ``answer`` on ``tests``.

    With ``function`` the student defines that function and each test is a call
    (``"area(2, 3)"``); without it the student writes an expression and each test
    is a table of variable values (``{"a": 1, "b": 2}``). Both run in a separate
    ``python -I`` process (in an empty folder, with an empty environment) that
    limits its own CPU time, memory, file size and child processes before
    running anything, under a wall-clock timeout: an endless loop, a crash or a
    stray print() costs the student's notebook nothing. This protects the
    notebook, not the answer: the code runs as the student, who owns the kernel."""
    if not (code or "").strip():
        return _invalid("empty")
    payload = json.dumps({"code": code, "answer": answer, "tests": list(tests), "function": function,
                          "timeout": timeout})
    with tempfile.TemporaryDirectory(prefix="sabaq-answer-") as scratch:
        try:
            proc = subprocess.run(
                [sys.executable, "-I", "-c", _RUNNER], input=payload, capture_output=True, text=True,
                timeout=timeout, cwd=scratch, env={"PATH": os.defpath, "LANG": "C.UTF-8"},
            )
        except subprocess.TimeoutExpired:
            return _wrong("timeout", seconds=f"{timeout:g}")
        except OSError:
            return _invalid("checker_failed")
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        if proc.returncode in (-9, -24, 137, 152):  # killed by the CPU limit
            return _wrong("timeout", seconds=f"{timeout:g}")
        return _wrong("code_crashed", error="MemoryError") if "MemoryError" in proc.stderr else _wrong()
    try:
        verdict = json.loads(lines[-1])
    except ValueError:
        return _invalid("checker_failed")
    if verdict.get("ok"):
        return _right()
    if "syntax_error" in verdict:
        return _invalid("syntax_error", error=verdict["syntax_error"][:120])
    if "missing_function" in verdict:
        return _invalid("missing_function", name=verdict["missing_function"])
    if "error" in verdict:
        if verdict["case"] == "-":
            return _wrong("code_crashed", error=verdict["error"])
        return _wrong("code_error", error=verdict["error"], case=str(verdict["case"])[:80])
    if verdict["wrong"] == "-":
        return _wrong()
    return _wrong("wrong_result", case=str(verdict["wrong"])[:80], got=verdict["got"])
