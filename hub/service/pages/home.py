"""The home page: one's courses (every course, for admins) and one's children."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from sabaq.hub.domain import courses as crs
from sabaq.hub.service.deps import DB, current_user
from sabaq.hub.service.pages.render import remember_language, render
from sabaq.hub.store.models import User

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: User = Depends(current_user), db: Session = DB):
    remember_language(request, user)
    courses = crs.courses_of(db, user)
    if user.is_admin:
        mine = {c.id for c, _ in courses}
        courses += [(c, None) for c in crs.visible_courses(db, user) if c.id not in mine]
    return render(request, "home.html", user=user, courses=courses, children=crs.children_of(db, user))
