"""`sabaq bench deadline` with a small class: every student's submission is acknowledged,
none sees an error, and every one is graded (the bench starts its own `sabaq up`).
Its speed is printed, never asserted."""

from __future__ import annotations

import pytest

from sabaq.devtools.bench_deadline import bench_deadline

pytestmark = pytest.mark.e2e


def test_a_deadline_of_sixty_students_loses_nothing_and_grades_everything():
    printed: list[str] = []
    figures = bench_deadline(60, window=10, concurrency=32, timeout=600, out=printed.append)
    assert figures.errors == {}, "\n".join(printed)
    assert figures.acknowledged == figures.students == 60
    assert figures.stored == 60  # nothing stored twice, nothing missing
    assert figures.graded == 60 and figures.failed == 0, "\n".join(printed)
    assert any("submits/s" in line and "60 submissions acknowledged" in line for line in printed)
    # the service told its own time (Server-Timing) in every answer, within what the student waited
    assert all(o.service_time is not None and 0 < o.service_time <= o.latency for o in figures.outcomes)
    assert any("the service's own time" in line for line in printed)
