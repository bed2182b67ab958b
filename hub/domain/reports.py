"""Gradebook exports (CSV, XLSX) and pictures (score distribution, average per question)."""

from __future__ import annotations

import csv
import io

from sabaq.hub.domain.gradebook import EXCUSED, NEEDS_MANUAL, NOT_SUBMITTED, Gradebook, Mark, Row
from sabaq.i18n import translator

# A spreadsheet runs a cell that starts like a formula (CSV injection): "=HYPERLINK(...)" as someone's name
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """Text a spreadsheet shows and never runs: a leading ' before a formula's first
    character, as OWASP advises for CSV and XLSX exports. Numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _header(gb: Gradebook, lang: str) -> list[str]:
    _ = translator(lang)
    head = [_("Login"), _("Name"), _("Class")]
    head += [a.title or a.name for a in gb.assignments]
    head += [_("Points"), _("Max points")]
    for term in gb.terms:
        head += [_("Term {term} %").format(term=term), _("Term {term} grade").format(term=term)]
    return head


def _cell(mark: Mark, _):
    """A mark's cell: its score, or a word where there is no score to count (work not
    handed in is "not submitted", not 0.0, even once it counts as zero in the totals)."""
    if mark.status == EXCUSED:
        return "excused"
    if mark.status == NOT_SUBMITTED:
        return _("not submitted")
    return round(mark.score, 2) if mark.score is not None else ""


def table(gb: Gradebook, lang: str) -> list[list]:
    """The export's rows, every text cell made safe for spreadsheets (safe_cell)."""
    _ = translator(lang)
    rows = [_header(gb, lang)]
    for row in gb.rows:
        line = [row.student.name, row.student.full_name, row.section]
        line += [_cell(row.marks[a.id], _) for a in gb.assignments]
        line += [round(row.points, 2), round(row.max_points, 2)]
        for term in gb.terms:
            percent = row.term_percent.get(term)
            grade = row.term_grade.get(term) or ""
            if grade and term in provisional_terms(gb, row):
                grade = f"{grade} ({_('provisional')})"
            line += ["" if percent is None else round(percent, 1), grade]
        rows.append(line)
    return [[safe_cell(v) for v in line] for line in rows]


def provisional_terms(gb: Gradebook, row: Row) -> set[int]:
    """Terms whose grade may still change: some of the student's work in them waits for
    manual grading, so the grade is shown as provisional."""
    return {a.term for a in gb.assignments if row.marks[a.id].status == NEEDS_MANUAL}


def to_csv(gb: Gradebook, lang: str) -> bytes:
    """UTF-8 with a BOM, so Excel shows Kazakh and Russian names correctly."""
    buf = io.StringIO()
    csv.writer(buf).writerows(table(gb, lang))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(gb: Gradebook, lang: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook(write_only=False)
    ws = wb.active
    ws.title = gb.course.slug[:31]
    for line in table(gb, lang):
        ws.append(line)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "D2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(6, 3.2), dpi=100)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def distribution_png(percents: list[float], title: str, xlabel: str, ylabel: str) -> bytes:
    """How many students scored in each tenth of the maximum."""
    return _png(distribution_figure(percents, title, xlabel, ylabel))


def distribution_figure(percents: list[float], title: str, xlabel: str, ylabel: str):
    fig = _figure()
    ax = fig.subplots()
    counts, _bins, _patches = ax.hist(percents, bins=[i * 10 for i in range(11)], color="#0b5f8a", edgecolor="white")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, max(1, max(counts, default=0)))  # no scores yet: an empty chart from 0, not -0.06
    ax.yaxis.get_major_locator().set_params(integer=True)  # students are counted whole
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig


def questions_png(averages: list[tuple[str, float]], title: str, xlabel: str) -> bytes:
    """Average share of the points per graded cell: where the class struggled."""
    fig = _figure()
    ax = fig.subplots()
    names = [n for n, _ in averages] or ["—"]
    values = [v for _, v in averages] or [0]
    colors = ["#b91c1c" if v < 50 else "#b45309" if v < 75 else "#15803d" for v in values]
    ax.barh(names, values, color=colors)
    ax.set_xlim(0, 100)
    ax.invert_yaxis()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    return _png(fig)
