"""Dates as people type them (due dates, closing times) and as they are shown: in the
course's local time, with its offset from UTC, e.g. "5 Dec 2026, 18:00 (UTC+5)"."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
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


def utc_offset(when: dt.datetime) -> str:
    """'UTC+5', 'UTC+5:30', 'UTC-3' or 'UTC' for an aware local time."""
    minutes = int((when.utcoffset() or dt.timedelta()).total_seconds() // 60)
    if not minutes:
        return "UTC"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{'+' if minutes > 0 else '-'}{hours}" + (f":{rest:02d}" if rest else "")


def show_when(when: dt.datetime | None, timezone: str, lang: str) -> str:
    """A moment in the zone's local time, in the reader's language, with the offset:
    '5 дек. 2026 г., 18:00 (UTC+5)'; nothing to show: '—'."""
    if when is None:
        return "—"
    local = when.astimezone(ZoneInfo(timezone))
    return f"{format_datetime(local, format='d MMM y, HH:mm', tzinfo=local.tzinfo, locale=lang)} ({utc_offset(local)})"
