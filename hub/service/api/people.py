"""API v1 for people: who am I, accounts (admin), parents and their children (linked by the
admin or by a teacher of the child's course, under ``courses.require_guardian_link``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from sabaq.errors import Invalid
from sabaq.hub.domain import accounts
from sabaq.hub.domain import courses as crs
from sabaq.hub.service.api.schemas import ERRORS, ChildIn, LanguageIn, MemberOut, MeOut, UserIn, account_out, course_out
from sabaq.hub.service.deps import DB, current_user
from sabaq.hub.store.models import User
from sabaq.i18n import LANGUAGES, N_

router = APIRouter(prefix="/api/v1", tags=["v1"], responses=ERRORS)


@router.get("/me", response_model=MeOut, summary="Who am I; my courses and children")
def me(user: User = Depends(current_user), db: Session = DB):
    return MeOut(
        name=user.name, full_name=user.full_name, language=user.language, admin=user.is_admin,
        courses=[course_out(c, r) for c, r in crs.courses_of(db, user)],
        children=[c.name for c in crs.children_of(db, user)],
    )


@router.patch("/me", response_model=MeOut, summary="Set my language (kk, ru, en)")
def set_my_language(body: LanguageIn, user: User = Depends(current_user), db: Session = DB):
    if body.language not in LANGUAGES:
        raise Invalid(N_("Unknown language '{lang}': choose kk, ru or en."), lang=body.language)
    user.language = body.language
    return me(user, db)


@router.get("/users", response_model=list[MemberOut], summary="All accounts (admin)")
def list_users(user: User = Depends(current_user), db: Session = DB):
    crs.require_admin(user)
    return [account_out(u) for u in db.scalars(select(User).order_by(User.name))]


@router.post("/users", status_code=201, response_model=MemberOut, summary="Create an account (admin)")
def create_user(request: Request, body: UserIn, user: User = Depends(current_user), db: Session = DB):
    crs.require_admin(user)
    if body.password:
        accounts.check_password(body.password, request.app.state.settings.auth.min_password_length)
    return account_out(accounts.create_user(db, body.login, full_name=body.full_name, password=body.password,
                                            is_admin=body.admin, language=body.language))


@router.post("/users/{login}/children", status_code=201,
             summary="Link a parent to a child (admin, or a teacher of the child's course)")
def add_child(login: str, body: ChildIn, user: User = Depends(current_user), db: Session = DB):
    crs.add_guardian(db, user, login, body.child)
    return {"parent": login, "child": body.child}
