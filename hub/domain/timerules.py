"""Time rules: due dates with extensions, timed windows, late penalties, notice, daily load.

Pure functions over plain values, so each rule is tested on its own edges.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

NONE, ZERO, PERCENT = "none", "zero", "percent"
LATE_POLICIES = (NONE, ZERO, PERCENT)


@dataclass(frozen=True)
class LatePolicy:
    kind: str = NONE
    percent_per_day: float = 0.0  # with kind == "percent"
    floor_percent: float = 0.0  # never less than this share of the score is kept

    def __post_init__(self):
        if self.kind not in LATE_POLICIES:
            raise ValueError(f"unknown late policy {self.kind!r}: use none, zero or percent")


def effective_due(due_at: dt.datetime | None, extension_minutes: int = 0,
                  extended_due: dt.datetime | None = None) -> dt.datetime | None:
    """A student's own due date: a set date wins, else the class's plus extra minutes."""
    if extended_due is not None:
        return extended_due
    if due_at is None:
        return None
    return due_at + dt.timedelta(minutes=extension_minutes)


def days_late(submitted_at: dt.datetime, due: dt.datetime | None) -> int:
    """Started days past the due time: one second late is one day late."""
    if due is None or submitted_at <= due:
        return 0
    return math.ceil((submitted_at - due).total_seconds() / 86400)


def late_penalty(score: float, submitted_at: dt.datetime, due: dt.datetime | None, policy: LatePolicy) -> float:
    """Points taken off a score for lateness."""
    days = days_late(submitted_at, due)
    if days == 0 or policy.kind == NONE or score <= 0:
        return 0.0
    if policy.kind == ZERO:
        return score
    share = min(policy.percent_per_day * days, 100.0 - policy.floor_percent) / 100.0
    return round(score * max(share, 0.0), 6)


def window_end(opened_at: dt.datetime | None, minutes: int | None, due: dt.datetime | None) -> dt.datetime | None:
    """When a timed assignment closes for one student: the window from their first
    opening, but never after their due date."""
    if not minutes or opened_at is None:
        return due
    end = opened_at + dt.timedelta(minutes=minutes)
    return min(end, due) if due is not None else end


def remaining(now: dt.datetime, end: dt.datetime | None) -> dt.timedelta | None:
    if end is None:
        return None
    return max(end - now, dt.timedelta(0))


def notice_ok(released_at: dt.datetime, due_at: dt.datetime | None, min_notice_hours: float) -> bool:
    """Nothing may be due sooner than the course's minimum notice after release."""
    if due_at is None or not min_notice_hours:
        return True
    return due_at >= released_at + dt.timedelta(hours=min_notice_hours)


def daily_load(assignments: list[tuple[dt.datetime | None, int | None]], timezone: str) -> dict[dt.date, int]:
    """Estimated minutes of homework due on each local day: [(due_at, minutes), ...]."""
    tz = ZoneInfo(timezone)
    load: dict[dt.date, int] = {}
    for due_at, minutes in assignments:
        if due_at is None or not minutes:
            continue
        day = due_at.astimezone(tz).date()
        load[day] = load.get(day, 0) + minutes
    return load


def overloaded_days(assignments, timezone: str, limit_minutes: int) -> dict[dt.date, int]:
    if not limit_minutes:
        return {}
    return {day: minutes for day, minutes in daily_load(assignments, timezone).items() if minutes > limit_minutes}
