"""API v1 for courses and their people: courses, members, class lists.

Every route names who may call it; the checks themselves live in
``sabaq.hub.domain.courses`` so that pages, API and CLI share one rule book.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Request, Response, UploadFile
from sqlalchemy.orm import Session

from sabaq.errors import Invalid, TooLarge
from sabaq.hub.domain import accounts, rosters
from sabaq.hub.domain import courses as crs
from sabaq.hub.service.access import course_and_role

# The workers' router still imports these two from here; they live in api.files.
from sabaq.hub.service.api.schemas import (
    ERRORS,
    CourseIn,
    CourseOut,
    ErrorOut,
    MemberIn,
    MemberOut,
    RosterOut,
    course_out,
)
from sabaq.hub.service.deps import DB, current_user, gettext_for
from sabaq.hub.store.models import User
from sabaq.i18n import LANGUAGES, N_

router = APIRouter(prefix="/api/v1", tags=["v1"], responses=ERRORS)
ROSTER_LIMIT = 5 * 1024 * 1024


@router.get("/courses", response_model=list[CourseOut], summary="Courses I belong to (all, for admins)")
def list_courses(user: User = Depends(current_user), db: Session = DB):
    return [course_out(c, crs.role_in(db, user, c)) for c in crs.visible_courses(db, user)]


@router.post("/courses", status_code=201, response_model=CourseOut, summary="Create a course (admin)")
def create_course(body: CourseIn, user: User = Depends(current_user), db: Session = DB):
    crs.require_admin(user)
    if body.language not in LANGUAGES:
        raise Invalid(N_("Unknown language '{lang}': choose kk, ru or en."), lang=body.language)
    return course_out(crs.create_course(db, body.id, body.title, body.language), None)


@router.get("/courses/{course_id}", response_model=CourseOut, summary="One course (members)")
def get_course(course_id: str, user: User = Depends(current_user), db: Session = DB):
    return course_out(*course_and_role(db, user, course_id))


@router.get("/courses/{course_id}/members", response_model=list[MemberOut], summary="Roster (staff)")
def list_members(course_id: str, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course)
    return [MemberOut(login=m.user.name, full_name=m.user.full_name, role=m.role.value, section=m.section)
            for m in crs.members(db, course)]


@router.put("/courses/{course_id}/members/{login}", response_model=MemberOut, summary="Add or change a member (teacher)")
def put_member(course_id: str, login: str, body: MemberIn, user: User = Depends(current_user),
               db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course, teacher_only=True)
    member = crs.set_member(db, course, accounts.get_user(db, login), body.role, body.section)
    return MemberOut(login=login, full_name=member.user.full_name, role=member.role.value, section=member.section)


@router.delete("/courses/{course_id}/members/{login}", status_code=204, summary="Remove a member (teacher)")
def delete_member(course_id: str, login: str, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course, teacher_only=True)
    crs.remove_member(db, course, accounts.get_user(db, login))
    return Response(status_code=204)


@router.post("/courses/{course_id}/roster", response_model=RosterOut,
             responses={422: {"model": RosterOut | ErrorOut, "description": "A row is wrong (the report), or a value"}},
             summary="Import a class list from CSV (teacher); nothing changes if a row is wrong")
async def import_roster(request: Request, course_id: str, file: UploadFile = File(...),
                        user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course, teacher_only=True)
    data = await file.read(ROSTER_LIMIT + 1)
    if len(data) > ROSTER_LIMIT:
        raise TooLarge(N_("A roster file may be at most 5 MB."))
    report = rosters.import_roster(db, course, data, request.app.state.settings.auth.min_password_length,
                                    by=user)
    body = report.as_dict(gettext_for(request, user))
    if not report.ok:
        db.rollback()
        return Response(RosterOut(**body).model_dump_json(), status_code=422, media_type="application/json")
    request.app.state.hub_sync.request()
    return body
