"""Grading one submission by hand: the notebooks with the autograder's scores, a
teacher's scores and comments per cell, and releasing the feedback."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from sabaq.hub.domain import feedback, grading, marking
from sabaq.hub.service import forms
from sabaq.hub.service.access import staff_submission
from sabaq.hub.service.api.schemas import Id
from sabaq.hub.service.deps import DB, current_user
from sabaq.hub.service.pages.render import PREFIX, STATUS_NAMES, back, render
from sabaq.hub.service.views import mark_of
from sabaq.hub.store.models import User

router = APIRouter(include_in_schema=False)


@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
def submission_page(request: Request, submission_id: Id, user: User = Depends(current_user), db: Session = DB):
    s = staff_submission(db, user, submission_id)
    result = grading.current_result(db, s)
    notebooks = feedback.notebook_views(db, s, result, for_student=False)
    overall = feedback.comments_of(db, s).get(("", ""), "")
    return render(request, "submission.html", user=user, course=s.assignment.course, s=s, result=result,
                  notebooks=notebooks, mark=mark_of(db, s), overall=overall, status_names=STATUS_NAMES,
                  released=[f.notebook for f in s.feedback], saved=request.query_params.get("saved"))


@router.post("/submissions/{submission_id}/marks")
async def save_marks(request: Request, submission_id: Id, user: User = Depends(current_user), db: Session = DB):
    s = staff_submission(db, user, submission_id)
    form = await request.form()
    for key, value in form.items():
        parts = key.split("::")
        if parts[0] == "score" and len(parts) == 3:
            # blank gives the cell back to the autograder
            marking.set_manual_grade(db, s, parts[1], parts[2], forms.number(value, forms.SCORE, None), user)
        elif parts[0] == "comment" and len(parts) == 3:
            marking.set_comment(db, s, parts[1], parts[2], str(value), user)
    if "overall" in form:
        marking.set_comment(db, s, "", "", str(form["overall"]), user)
    if form.get("release"):
        feedback.release_feedback(db, s, mark_of(db, s), s.student.language or s.assignment.course.language)
    return back(f"{PREFIX}/submissions/{s.id}?saved=1")
