"""Gradebook exports (CSV, XLSX) and pictures (score distribution, average per question)."""

from __future__ import annotations

import csv
import io

from sabaq.hub.domain.gradebook import Gradebook, Mark
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
    head += [a.name for a in gb.assignments]
    head += [_("Points"), _("Max points")]
    for term in gb.terms:
        head += [_("Term {term} %").format(term=term), _("Term {term} grade").format(term=term)]
    return head


def _cell(mark: Mark):
    if mark.status == "excused":
        return "excused"
    return round(mark.score, 2) if mark.score is not None else ""


def table(gb: Gradebook, lang: str) -> list[list]:
    """The export's rows, every text cell made safe for spreadsheets (safe_cell)."""
    rows = [_header(gb, lang)]
    for row in gb.rows:
        line = [row.student.name, row.student.full_name, row.section]
        line += [_cell(row.marks[a.id]) for a in gb.assignments]
        line += [round(row.points, 2), round(row.max_points, 2)]
        for term in gb.terms:
            percent = row.term_percent.get(term)
            line += ["" if percent is None else round(percent, 1), row.term_grade.get(term) or ""]
        rows.append(line)
    return [[safe_cell(v) for v in line] for line in rows]


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
    fig = _figure()
    ax = fig.subplots()
    ax.hist(percents, bins=[i * 10 for i in range(11)], color="#0b5f8a", edgecolor="white")
    ax.set_xlim(0, 100)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return _png(fig)


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
