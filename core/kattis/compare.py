"""Kattis's default output validator: is a program's output the answer?

Compares whitespace-separated tokens; with ``float_tolerance``,
``float_absolute_tolerance`` or ``float_relative_tolerance`` in the
``validator_flags`` numbers may differ by that much, and ``case_sensitive``
makes letters' case count. The judge and a student's own sample check
(``sabaq.lessons.olympiad``) both use it, so they cannot disagree. Its reasons are notes
(a message id and its values), so each reader sees them in their own language.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sabaq.contracts import Note
from sabaq.i18n import N_

WRONG_ANSWER = N_("Wrong answer: the checker gave no reason.")


@dataclass
class Judgement:
    accepted: bool
    message: str = ""  # a validator's own words, or the note in English
    score: float | None = None
    note: Note | None = None  # sabaq's own reason, translated when shown


def rejected(message: str, **params) -> Judgement:
    """A wrong answer for one of sabaq's own reasons: ``message`` is an N_() id."""
    note = Note(message=message, params={name: str(value) for name, value in params.items()})
    return Judgement(False, note.text("en"), note=note)


def wrong_answer(message: str, score: float | None = None) -> Judgement:
    """A checker's rejection: in its own words, or sabaq's note when it said nothing."""
    judgement = Judgement(False, message) if message.strip() else rejected(WRONG_ANSWER)
    judgement.score = score
    return judgement


def _token(text: str) -> str:
    return repr(text[:40])


def _flag(flags: list[str], name: str) -> float | None:
    if name in flags:
        i = flags.index(name)
        try:
            return float(flags[i + 1])
        except (IndexError, ValueError):
            return None
    return None


def default_validate(output: bytes, answer: bytes, flags: list[str]) -> Judgement:
    case = "case_sensitive" in flags
    tol = _flag(flags, "float_tolerance")
    abs_tol = _flag(flags, "float_absolute_tolerance") if tol is None else tol
    rel_tol = _flag(flags, "float_relative_tolerance") if tol is None else tol
    got = output.decode("utf-8", "replace").split()
    want = answer.decode("utf-8", "replace").split()
    for i, (g, w) in enumerate(zip(got, want), start=1):
        if g == w or (not case and g.lower() == w.lower()):
            continue
        if abs_tol is not None or rel_tol is not None:
            try:
                gv, wv = float(g), float(w)
            except ValueError:
                return rejected(N_("Token {number}: expected {expected}, got {got}."), number=i,
                                expected=_token(w), got=_token(g))
            if math.isfinite(gv) and (abs(gv - wv) <= (abs_tol or 0.0) or abs(gv - wv) <= (rel_tol or 0.0) * abs(wv)):
                continue
        return rejected(N_("Token {number}: expected {expected}, got {got}."), number=i, expected=_token(w),
                        got=_token(g))
    if len(got) != len(want):
        return rejected(N_("Expected {expected} tokens, got {got}."), expected=len(want), got=len(got))
    return Judgement(True)
