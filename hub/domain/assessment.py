"""Assessment schemes: how marks become a term percentage and a school grade.

A scheme is data (``Scheme``): category weights, the percentage thresholds of the
grades, and how the year grade is made. Three come built in:

- ``kz-criteria``: Kazakhstan's criteria-based assessment. Formative work (ФО/БЖ)
  25 %, unit summatives (СОР/БЖБ) 25 %, the term summative (СОЧ/ТЖБ) 50 %; a term
  without a term summative weighs formative and unit summatives 50 % each.
  85 % and above is a 5, 65-84 % a 4, 40-64 % a 3, below 40 % a 2. The year
  grade is the mean of the term grades, rounded half up.
- ``weighted``: plain weighted categories (weights from the course settings).
- ``points``: all points earned over all points possible.

Percentages of a category are its points earned over its points possible, so
a short quiz weighs less than a long one inside its category. Excused work
counts in neither.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

FORMATIVE = "formative"
UNIT_SUMMATIVE = "unit_summative"
TERM_SUMMATIVE = "term_summative"
KZ_CATEGORIES = (FORMATIVE, UNIT_SUMMATIVE, TERM_SUMMATIVE)


@dataclass(frozen=True)
class Mark:
    category: str
    score: float
    max_score: float
    excused: bool = False


@dataclass(frozen=True)
class Scheme:
    name: str
    weights: dict[str, float] = field(default_factory=dict)
    # (lowest percentage, grade), highest first; empty: no grade, only a percentage
    thresholds: tuple[tuple[float, int], ...] = ()
    # weights used when some categories have no marks yet in the term
    fallback_weights: dict[frozenset, dict[str, float]] = field(default_factory=dict)

    def category_percent(self, marks: list[Mark], category: str) -> float | None:
        counted = [m for m in marks if m.category == category and not m.excused and m.max_score > 0]
        if not counted:
            return None
        return 100.0 * sum(m.score for m in counted) / sum(m.max_score for m in counted)

    def term_percent(self, marks: list[Mark]) -> float | None:
        if not self.weights:  # points only
            counted = [m for m in marks if not m.excused and m.max_score > 0]
            if not counted:
                return None
            return 100.0 * sum(m.score for m in counted) / sum(m.max_score for m in counted)
        percents = {c: self.category_percent(marks, c) for c in self.weights}
        present = frozenset(c for c, p in percents.items() if p is not None)
        if not present:
            return None
        weights = self.fallback_weights.get(present) or {c: self.weights[c] for c in present}
        total = sum(weights.get(c, 0.0) for c in present)
        if total <= 0:
            return None
        return sum(weights.get(c, 0.0) * percents[c] for c in present) / total

    def grade(self, percent: float | None) -> int | None:
        if percent is None or not self.thresholds:
            return None
        for lowest, grade in self.thresholds:
            if percent >= lowest - 1e-9:
                return grade
        return self.thresholds[-1][1]

    def year_grade(self, term_grades: list[int | None]) -> int | None:
        grades = [g for g in term_grades if g is not None]
        if not grades:
            return None
        return math.floor(sum(grades) / len(grades) + 0.5)


FIVE_POINT = ((85.0, 5), (65.0, 4), (40.0, 3), (0.0, 2))

KZ_CRITERIA = Scheme(
    name="kz-criteria",
    weights={FORMATIVE: 25.0, UNIT_SUMMATIVE: 25.0, TERM_SUMMATIVE: 50.0},
    thresholds=FIVE_POINT,
    fallback_weights={frozenset({FORMATIVE, UNIT_SUMMATIVE}): {FORMATIVE: 50.0, UNIT_SUMMATIVE: 50.0}},
)


def scheme(name: str, weights: dict[str, float] | None = None, five_point: bool = True) -> Scheme:
    """The scheme a course's settings name."""
    if name == "kz-criteria":
        return KZ_CRITERIA
    if name == "weighted":
        return Scheme("weighted", dict(weights or {}), FIVE_POINT if five_point else ())
    if name == "points":
        return Scheme("points", {}, FIVE_POINT if five_point else ())
    raise ValueError(f"unknown assessment scheme {name!r}: use kz-criteria, weighted or points")


