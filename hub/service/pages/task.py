"""An olympiad task's statement page: the statement in each language the package has,
rendered as the students read it (formulas as MathML), for the coach to check before and
during a contest, and for students of the course once the task is released."""

from __future__ import annotations

import yaml
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy.orm import Session

from sabaq.errors import NotFound
from sabaq.hub.domain import assignments as asg
from sabaq.hub.service.access import course_and_role, is_staff
from sabaq.hub.service.deps import DB, current_user, request_language
from sabaq.hub.service.pages.render import render
from sabaq.hub.store.models import FileKind, User
from sabaq.i18n import N_
from sabaq.kattis.statement import problem_name, statement_files, statement_html

router = APIRouter(include_in_schema=False)


@router.get("/courses/{course_id}/tasks/{name}/statement", response_class=HTMLResponse)
def statement_page(request: Request, course_id: str, name: str, lang: str | None = None,
                   user: User = Depends(current_user), db: Session = DB):
    course, role = course_and_role(db, user, course_id)
    staff = is_staff(user, role)
    task = asg.get_assignment(db, course, name, staff=staff)  # to students an unreleased task does not exist
    if task.category != "olympiad":
        raise NotFound(N_("{name} is not an olympiad task, so it has no statement page. "
                          "Open it from the course page instead."), name=name)
    files = asg.files_of(db, task, FileKind.source)
    names = statement_files(files)
    chosen = next((c for c in (lang, request_language(request, user), course.language, "en") if c in names),
                  min(names, default=None))
    body = Markup(statement_html(names[chosen], files[names[chosen]].decode("utf-8", "replace"),
                                 problem_name(_config(files), chosen))) if chosen else None
    return render(request, "task_statement.html", user=user, course=course, task=task, staff=staff,
                  statement_languages=sorted(names), lang_shown=chosen, body=body)


def _config(files: dict[str, bytes]) -> dict:
    """The package's problem.yaml (the names of a 2023-07 package per language), or nothing
    when it cannot be read (publishing checked it; the statement is shown anyway)."""
    try:
        config = yaml.safe_load(files.get("problem.yaml", b"").decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return {}
    return config if isinstance(config, dict) else {}
