"""nbgrader's `generate_assignment`, in this process or as `python -m sabaq.autograders.notebook.generate NAME`.

It makes an assignment's release (solutions and hidden tests stripped) and a gradebook with
the teacher's cells and points. The `nbgrader generate_assignment` command took about 4.5 s
here: 2 s importing nbgrader's applications and 2.5 s running `alembic heads` as a command
for the gradebook's schema version (see ``gradebook.alembic_head``). Workers call it in their
own process; the service, which keeps teachers' notebooks out of its own process, runs this
module as a child (about 1 s).
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

from nbgrader.converters import GenerateAssignment
from nbgrader.coursedir import CourseDirectory

from sabaq.autograders.notebook import gradebook  # noqa: F401 - the schema version read in-process
from sabaq.autograders.notebook.batch import course_config


class GenerateError(RuntimeError):
    """nbgrader refused the teacher's source; ``detail`` is its reason."""

    def __init__(self, detail: str):
        self.detail = detail
        super().__init__(f"nbgrader could not generate the assignment: {detail}")


class _Errors(logging.Handler):
    """The error lines nbgrader logs while it converts (its exception only says to read them)."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def generate_assignment(course_dir: Path, assignment: str) -> None:
    """Generate `assignment` of the nbgrader course folder `course_dir` (its `nbgrader_config.py` applies)."""
    config = course_config(Path(course_dir).resolve(), assignment)
    config.GenerateAssignment.force = True
    converter = GenerateAssignment(coursedir=CourseDirectory(config=config), config=config)
    errors = _Errors()
    converter.log.addHandler(errors)
    try:
        converter.start()
    except Exception as e:
        # nbgrader logs the tracebacks as text; the first exception line is the root cause
        # ("ValidationError: Duplicate grade id: q1"), the last only says the notebook failed
        lines = [line.strip() for message in errors.lines for line in message.splitlines()]
        detail = next((line for line in lines if "Error: " in line), f"{type(e).__name__}: {e}")
        raise GenerateError(re.sub(r"^(?:\w+\.)+(?=\w+: )", "", detail)) from e  # no module path
    finally:
        converter.log.removeHandler(errors)


def main(argv: list[str] | None = None) -> int:
    """Generate the assignment named on the command line in the current folder; nbgrader's reason on failure."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        generate_assignment(Path.cwd(), argv[0])
    except GenerateError as e:
        print(e.detail, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
