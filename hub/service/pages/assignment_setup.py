"""A teacher sets an assignment up on sabaq's own pages: creates it from the source
notebooks (nbgrader's student version is generated here), gives it a title and dates in
the course's local time, releases it and takes it back.

The same domain rules as the API (``sabaq.hub.domain.assignments``: ``release``,
``set_dates``, ``publish``), dates read by ``sabaq.hub.service.forms.when`` in the
course's time zone.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from sqlalchemy.orm import Session

from sabaq.hub.domain import assignments as asg
from sabaq.hub.domain import authoring
from sabaq.hub.domain import courses as crs
from sabaq.hub.service import forms
from sabaq.hub.service.access import staff_assignment
from sabaq.hub.service.api.files import read_uploads
from sabaq.hub.service.deps import DB, current_user
from sabaq.hub.service.pages.render import PREFIX, back
from sabaq.hub.store.models import User

router = APIRouter(include_in_schema=False)


def _url(course_id: str, name: str, query: str = "") -> str:
    return f"{PREFIX}/courses/{course_id}/assignments/{name}" + (f"?{query}" if query else "")


@router.post("/courses/{course_id}/assignments")
async def create(request: Request, course_id: str, name: str = Form(""), title: str = Form(""),
                 due: str = Form(""), closes: str = Form(""), publish: str = Form(""),
                 source: list[UploadFile] = File(...), user: User = Depends(current_user), db: Session = DB):
    """A new assignment from its source notebooks: a draft unless "release now" is ticked."""
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course, teacher_only=True)
    name = name.strip()
    asg.require_new(db, course, name)
    due_at, closes_at = forms.when(request, due, course), forms.when(request, closes, course)
    files = await read_uploads(request, source)
    release = authoring.generate_release_of(files, name, course.slug)
    asg.release(db, course, name, release, files, due_at=due_at, closes_at=closes_at, title=title,
                publish=bool(publish))
    return back(_url(course_id, name))


@router.post("/courses/{course_id}/assignments/{name}/schedule")
async def schedule(request: Request, course_id: str, name: str, user: User = Depends(current_user),
                   db: Session = DB):
    """Title, due date and closing time; blank dates clear them."""
    course, a = staff_assignment(db, user, course_id, name)
    crs.require_staff(db, user, course, teacher_only=True)
    form = await request.form()
    asg.set_title(a, str(form.get("title", "")))
    asg.set_dates(a, forms.when(request, str(form.get("due", "")), course),
                  forms.when(request, str(form.get("closes", "")), course))
    return back(_url(course_id, name, "saved=1"))


@router.post("/courses/{course_id}/assignments/{name}/release")
def release(course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    """Students see it from now (and can fetch it in JupyterLab)."""
    course, a = staff_assignment(db, user, course_id, name)
    crs.require_staff(db, user, course, teacher_only=True)
    asg.publish(a)
    return back(_url(course_id, name, "published=1"))


@router.post("/courses/{course_id}/assignments/{name}/unrelease")
def unrelease(course_id: str, name: str, user: User = Depends(current_user), db: Session = DB):
    """Students no longer see it; their submissions are kept."""
    course, a = staff_assignment(db, user, course_id, name)
    crs.require_staff(db, user, course, teacher_only=True)
    asg.unpublish(a)
    return back(_url(course_id, name, "unpublished=1"))
