"""Reading dates people type (due dates, closing times)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dateutil import parser as dateparser

from sabaq.errors import Invalid
from sabaq.i18n import N_


def parse_when(text: str | None, timezone: str) -> dt.datetime | None:
    """'2026-12-01 18:00' (site time) or ISO 8601 with a zone -> aware UTC; '' -> None."""
    if text is None or not str(text).strip():
        return None
    value = str(text).strip()
    try:
        try:
            when = dateparser.isoparse(value)
        except (ValueError, OverflowError):
            when = dateparser.parse(value, dayfirst=True)
        if when.tzinfo is None:
            when = when.replace(tzinfo=ZoneInfo(timezone))
        # a date at the calendar's edge (year 1 east of Greenwich) has no UTC time
        return when.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):
        raise Invalid(
            N_("The date '{value}' is not understood; write it like 2026-12-01 18:00."),
            value=str(text),
        ) from None
