"""Kattis's default output validator: is a program's output the answer?

Compares whitespace-separated tokens; with ``float_tolerance``,
``float_absolute_tolerance`` or ``float_relative_tolerance`` in the
``validator_flags`` numbers may differ by that much, and ``case_sensitive``
makes letters' case count. The judge and a student's own sample check
(``sabaq.lessons.olympiad``) both use it, so they cannot disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Judgement:
    accepted: bool
    message: str = ""
    score: float | None = None


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
                return Judgement(False, f"token {i}: expected {w!r}, got {g!r}")
            if math.isfinite(gv) and (abs(gv - wv) <= (abs_tol or 0.0) or abs(gv - wv) <= (rel_tol or 0.0) * abs(wv)):
                continue
        return Judgement(False, f"token {i}: expected {w[:40]!r}, got {g[:40]!r}")
    if len(got) != len(want):
        return Judgement(False, f"expected {len(want)} tokens, got {len(got)}")
    return Judgement(True)
