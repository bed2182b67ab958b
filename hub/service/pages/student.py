"""A student's own page: deadlines with their extensions, time left, released marks
and feedback; for the student, their parents and their teachers."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from sabaq.hub.domain import courses as crs
from sabaq.hub.domain import gradebook
from sabaq.hub.service.deps import DB, current_user
from sabaq.hub.service.pages.render import CATEGORY_NAMES, STATUS_NAMES, render
from sabaq.hub.store.models import User

router = APIRouter(include_in_schema=False)


@router.get("/students/{login}", response_class=HTMLResponse)
def student_page(request: Request, login: str, user: User = Depends(current_user), db: Session = DB):
    return _student_page(request, user, crs.require_view_student(db, user, login), db)


@router.get("/me/grades", response_class=HTMLResponse)
def my_grades(request: Request, user: User = Depends(current_user), db: Session = DB):
    return _student_page(request, user, user, db)


def _student_page(request: Request, viewer: User, student: User, db: Session) -> HTMLResponse:
    report = gradebook.student_report(db, viewer, student)
    return render(request, "student.html", user=viewer, student=student, report=report,
                  status_names=STATUS_NAMES, category_names=CATEGORY_NAMES)
