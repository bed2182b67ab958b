"""What people type, read one way for every page and API route.

Numbers come from form fields as text and from JSON as numbers or text. "2,5" is
2.5: Kazakh and Russian keyboards and habits write a decimal comma. NaN, infinities
and values outside a field's range are refused with a translated 422
(``sabaq.errors.Invalid``) here, before they reach the database, where they would
fail later as a 500 or spoil every total they enter. Each kind of field (``SCORE``,
``PERCENT``, ``MINUTES`` ...) is declared once and read by ``number`` on the pages
and by ``field`` in the API's models, so the two cannot disagree.

Dates are ``sabaq.hub.domain.dates.parse_when``'s, in the course's time zone.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Request
from pydantic import BeforeValidator, Field

from sabaq.errors import Invalid, Phrase
from sabaq.hub.domain.dates import parse_when
from sabaq.hub.store.models import Course
from sabaq.i18n import N_

# digits with at most one decimal point or comma; no exponents, no "nan", no "1_000"
NUMERAL = re.compile(r"[+-]?([0-9]+([.,][0-9]*)?|[.,][0-9]+)")
_REQUIRED: Any = object()


@dataclass(frozen=True)
class Kind:
    """What a field accepts: bounds (inclusive) and whether only whole numbers."""

    low: float | None = None
    high: float | None = None
    whole: bool = False

    def allowed(self) -> Phrase:
        """What to write instead ("a number from 0 to 100"), translated with the error."""
        low, high = (None if x is None else f"{x:g}" for x in (self.low, self.high))
        if low is not None and high is not None:
            return Phrase(N_("a whole number from {low} to {high}") if self.whole
                          else N_("a number from {low} to {high}"), low=low, high=high)
        if low is not None:
            return Phrase(N_("a whole number of at least {low}") if self.whole
                          else N_("a number of at least {low}"), low=low)
        return Phrase(N_("a whole number") if self.whole else N_("a number"))


YEAR_HOURS = 366 * 24  # no time rule of a school year needs more
NUMBER = Kind()
WHOLE = Kind(whole=True)
SCORE = Kind(low=0)  # the top is the cell's or the assignment's points, checked where they are known
WEIGHT = Kind(low=0)
PERCENT = Kind(low=0, high=100)
HOURS = Kind(low=0, high=YEAR_HOURS)
MINUTES = Kind(low=0, high=YEAR_HOURS * 60, whole=True)
DAY_MINUTES = Kind(low=0, high=24 * 60, whole=True)
MAX_PAGE = 100_000  # of a hundred students each: beyond it the database's OFFSET overflows (a 500)
PAGE = Kind(low=1, high=MAX_PAGE, whole=True)


def number(value: Any, kind: Kind = NUMBER, default: Any = _REQUIRED) -> float | int | None:
    """A number as typed into a form (or sent in JSON); a blank field is `default`, and
    refused as missing where there is none."""
    if value is None or isinstance(value, str) and not value.strip():
        if default is _REQUIRED:
            raise Invalid(N_("The number is missing: write {allowed}."), allowed=kind.allowed())
        return default
    text = str(value).strip()
    shown = text if len(text) <= 40 else text[:39] + "…"  # what the message repeats
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not NUMERAL.fullmatch(text):
        raise Invalid(N_("'{value}' is not a number."), value=shown)
    try:
        read = float(value if isinstance(value, (int, float)) else text.replace(",", "."))
    except OverflowError:  # a JSON integer beyond any float
        read = math.inf
    if not math.isfinite(read):
        raise Invalid(N_("'{value}' is not a number."), value=shown)
    if (kind.whole and not read.is_integer() or kind.low is not None and read < kind.low
            or kind.high is not None and read > kind.high):
        raise Invalid(N_("'{value}' cannot be used here: write {allowed}."), value=shown, allowed=kind.allowed())
    return int(read) if kind.whole else float(read)


def field(kind: Kind) -> Any:
    """The type of an API model's field of this kind: read by ``number`` (so a JSON
    "2,5" is 2.5 too and errors are the pages' own), its bounds shown in OpenAPI."""
    return Annotated[int if kind.whole else float, Field(ge=kind.low, le=kind.high),
                     BeforeValidator(functools.partial(number, kind=kind))]


def when(request: Request, text: str | None, course: Course | None = None) -> dt.datetime | None:
    """A date and time as typed, in the course's time zone (else the site's) unless it
    names one; blank: None."""
    return parse_when(text, course.timezone if course is not None and course.timezone
                      else request.app.state.settings.general.timezone)


# the API models' fields, one per kind
Whole = field(WHOLE)
Score = field(SCORE)
Weight = field(WEIGHT)
Percent = field(PERCENT)
Hours = field(HOURS)
Minutes = field(MINUTES)
DayMinutes = field(DAY_MINUTES)
