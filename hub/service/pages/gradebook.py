"""The gradebook page: the class table with its filters, and the course's grading settings.

Forms post here (with the session's CSRF token) and call the same functions as
the REST API (``sabaq.hub.domain.gradebook``, ``assessment``).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from sabaq.hub.domain import courses as crs
from sabaq.hub.domain import gradebook, reports
from sabaq.hub.service import forms
from sabaq.hub.service.deps import DB, current_user, request_language
from sabaq.hub.service.pages.render import CATEGORY_NAMES, PREFIX, STATUS_NAMES, back, render
from sabaq.hub.service.views import load_warnings
from sabaq.hub.store.models import Role, User
from sabaq.i18n import translator

router = APIRouter(include_in_schema=False)


def decimal_comma(lang: str) -> bool:
    """Kazakh and Russian write 66,7."""
    return lang in ("kk", "ru")


def mark_cells(gb, _, prefix: str = PREFIX, comma: bool = False) -> dict[int, list[Markup]]:
    """The table's cells as ready HTML: built here because a thousand-student class is
    tens of thousands of cells, and a template loop costs ten times more per cell."""
    names = {k: escape(_(v)) for k, v in STATUS_NAMES.items()}
    late = escape(_("late"))
    out = {}
    for row in gb.rows:
        cells = []
        for a in gb.assignments:
            m = row.marks[a.id]
            if m.score is not None and m.status != gradebook.NOT_SUBMITTED:
                text = f"{m.score:g}".replace(".", ",") if comma else f"{m.score:g}"
            else:  # submitted and not graded yet, or not submitted: no number to write
                text = f'<span class="muted">{names[m.status]}</span>'
            if m.submission_id:
                text = f'<a href="{prefix}/submissions/{m.submission_id}">{text}</a>'
            if m.status == gradebook.NEEDS_MANUAL:
                text += f' <span class="late" title="{names[m.status]}">✎</span>'
            if m.late:
                text += f' <span class="late" title="{late}">⏰</span>'
            if m.status == gradebook.PAPER:
                text += f' <span title="{names[m.status]}">📄</span>'
            cells.append(Markup(f'<td class="mark {m.status}">{text}</td>'))
        out[row.student.id] = cells
    return out


@router.get("/courses/{course_id}/gradebook", response_class=HTMLResponse)
def gradebook_page(request: Request, course_id: str, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course)
    q = request.query_params
    section, category = q.get("section") or None, q.get("category") or None
    term = forms.number(q.get("term"), forms.WHOLE, None)
    gb = gradebook.build(db, course, section, term, category, page=forms.number(q.get("page"), forms.PAGE, 1))
    sections = sorted({m.section for m in crs.members(db, course, Role.student) if m.section})
    lang = request_language(request, user)
    return render(request, "gradebook.html", user=user, course=course, gb=gb, sections=sections,
                  cells=mark_cells(gb, translator(lang), comma=decimal_comma(lang)), section=section or "", term=term,
                  provisional={row.student.id: reports.provisional_terms(gb, row) for row in gb.rows},
                  category=category or "", status_names=STATUS_NAMES, category_names=CATEGORY_NAMES,
                  warnings=load_warnings(db, course, lang, request.app.state.settings))


@router.post("/courses/{course_id}/settings")
async def course_settings(request: Request, course_id: str, user: User = Depends(current_user), db: Session = DB):
    course = crs.get_course(db, course_id)
    crs.require_staff(db, user, course, teacher_only=True)
    form = await request.form()
    weights = {}
    for line in str(form.get("scheme_weights", "")).splitlines():  # category=weight
        if "=" in line:
            key, _, value = line.partition("=")
            weights[key.strip()] = forms.number(value, forms.WEIGHT)
    crs.change_settings(course, scheme=str(form.get("scheme") or course.scheme), scheme_weights=weights,
                        min_notice_hours=forms.number(form.get("min_notice_hours"), forms.HOURS, 0.0),
                        daily_load_minutes=forms.number(form.get("daily_load_minutes"), forms.DAY_MINUTES, 0),
                        timezone=str(form.get("timezone") or course.timezone))
    return back(f"{PREFIX}/courses/{course_id}/gradebook")
