"""Olympiad statements as HTML (issue 18): LaTeX and Markdown statements in every language
the package has, formulas as MathML, the author's raw HTML and script links made harmless,
and the statement page of the service for the coach and, once released, the students."""

from __future__ import annotations

import datetime as dt

import pytest
from service_app import Site

from sabaq.hub.domain import assignments as asg
from sabaq.hub.domain import courses
from sabaq.hub.store.models import utcnow
from sabaq.kattis.statement import statement_files, statement_html

TEX_RU = r"""\problemname{Сумма}
% a comment the reader never sees
Даны числа~$a$ и $b$ ($|a|, |b| \le 10^9$) --- найдите $a + b$.
\section*{Входные данные}
Одна строка: \texttt{a b}.
$$\sum_{i=1}^{n} a_i$$
"""
TEX_KK = "\\problemname{Қосынды}\n$a$ мен $b$ сандарының қосындысын табыңыз.\n"
HOSTILE_MD = """# Title
<script>alert('stolen')</script> <img src=x onerror="alert(1)">
[click](javascript:alert(document.cookie)) and [docs](https://example.org/a)
![pic](javascript:alert(2))
| n | answer |
|---|--------|
| $1$ | 2 |
"""


def test_tex_statement_becomes_html_with_mathml():
    page = statement_html("problem.ru.tex", TEX_RU)
    assert "<h1>Сумма</h1>" in page and "<h2>Входные данные</h2>" in page
    assert "comment" not in page and "<code>a b</code>" in page and "—" in page
    assert page.count("<math") == 5 and 'display="block"' in page and "<msub><mi>a</mi><mi>i</mi></msub>" in page
    assert "$" not in page  # every formula was converted


def test_the_authors_html_and_script_links_are_made_harmless():
    page = statement_html("problem.en.md", HOSTILE_MD)
    assert "<script" not in page and "<img" not in page and "&lt;script&gt;" in page
    assert "javascript:" not in page
    assert '<a href="https://example.org/a">docs</a>' in page
    assert "<table>" in page and "<math" in page


def test_every_language_of_both_layouts_is_found():
    names = ["problem_statement/problem.ru.tex", "problem_statement/problem.tex", "statement/problem.kk.md",
             "problem_statement/problem.kk.tex", "statement/notes.md", "data/problem.en.tex"]
    assert statement_files(names) == {"kk": "statement/problem.kk.md", "ru": "problem_statement/problem.ru.tex",
                                      "en": "problem_statement/problem.tex"}


@pytest.fixture
def site(tmp_path):
    s = Site(tmp_path)
    s.school = s.seed()
    with s.sessions() as db:
        course = courses.get_course(db, s.school.course)
        source = {"problem.yaml": b"name: Sum\n", "problem_statement/problem.ru.tex": TEX_RU.encode(),
                  "problem_statement/problem.kk.tex": TEX_KK.encode(),
                  "data/secret/1.in": b"1 2\n", "data/secret/1.ans": b"3\n"}
        asg.release(db, course, "sum", {"i18n/ru/sum.ipynb": b"{}"}, source, title="Сумма", category="olympiad")
        asg.release(db, course, "later", {"i18n/ru/later.ipynb": b"{}"}, source, category="olympiad",
                    now=utcnow() + dt.timedelta(days=3))
        db.commit()
    return s


def test_the_coach_reads_the_statement_in_each_language(site):
    russian = site.call("GET", "/courses/alg8/tasks/sum/statement", page=True)
    assert russian.status_code == 200 and "<h1>Сумма</h1>" in russian.text and "<math" in russian.text
    assert 'href="?lang=kk"' in russian.text and "secret" not in russian.text
    kazakh = site.call("GET", "/courses/alg8/tasks/sum/statement?lang=kk", page=True)
    assert "<h1>Қосынды</h1>" in kazakh.text and 'href="?lang=ru"' in kazakh.text
    # a language the package lacks: the reader's own, else one the package has
    assert "<h1>Сумма</h1>" in site.call("GET", "/courses/alg8/tasks/sum/statement?lang=fr", page=True).text


def test_students_read_released_statements_only(site):
    assert site.call("GET", "/courses/alg8/tasks/sum/statement", user="aliya", page=True).status_code == 200
    assert site.call("GET", "/courses/alg8/tasks/later/statement", user="aliya", page=True).status_code == 404
    assert site.call("GET", "/courses/alg8/tasks/later/statement", page=True).status_code == 200  # the coach
    assert site.call("GET", "/courses/alg8/tasks/sum/statement", user="mama", page=True).status_code in (403, 404)
    # an ordinary assignment has no statement page
    assert site.call("GET", "/courses/alg8/tasks/hw1/statement", page=True).status_code == 404


def test_the_tasks_page_links_to_its_statement(site):
    for user in ("teacher", "aliya"):
        page = site.call("GET", "/courses/alg8/assignments/sum", user=user, page=True)
        assert page.status_code == 200 and 'href="/services/sabaq/courses/alg8/tasks/sum/statement"' in page.text
    assert "/statement" not in site.call("GET", "/courses/alg8/assignments/hw1", page=True).text


@pytest.mark.parametrize("tex", [r"\text{<script>alert(1)</script>}", r"\href{javascript:alert(1)}{x}",
                                 r"\style{background:url(x)}{x}"])
def test_a_formula_in_a_statement_carries_no_markup(tex):
    """A coach's package is shown to students: a formula must not smuggle a script or a link."""
    from sabaq.kattis.statement import markdown_to_html

    out = markdown_to_html(f"Find ${tex}$ now.")
    assert "<script" not in out and "javascript:" not in out and "href" not in out and "style=" not in out


def test_a_markdown_statement_is_headed_by_the_problems_name_in_its_language(tmp_path):
    """2023-07-draft: a Markdown statement has no title of its own; problemtools' md2html puts
    problem.yaml's name in that language above it, and so do the notebook's cell and
    `sabaq task statement`'s pages."""
    from pathlib import Path

    from sabaq.kattis.package import load
    from sabaq.kattis.statement import statement_markdown, write_statements

    package = load(Path(__file__).resolve().parents[1] / "olympiad_packages" / "doubling")
    assert not any(p.read_text(encoding="utf-8").startswith("#") for p in package.statements().values())
    for lang, title in (("en", "Doubling"), ("ru", "Удвоение")):
        markdown, used = statement_markdown(package, lang)
        assert used == lang and markdown.startswith(f"# {title}\n\n")
        write_statements(package, tmp_path)
        page = (tmp_path / f"problem.{lang}.html").read_text(encoding="utf-8")
        assert f"<title>{title}</title>" in page and f"<h1>{title}</h1>" in page and "<math" in page


def test_the_task_page_heads_a_markdown_statement_with_its_name(site):
    """The name is the coach's text too: a name with markup is shown as text."""
    draft = ("problem_format_version: 2023-07-draft\nname:\n  en: Doubling\n  ru: Удвоение\n"
             "  kk: <script>alert(1)</script>\n")
    source = {"problem.yaml": draft.encode(), "statement/problem.ru.md": "Даны $n$ чисел.\n".encode(),
              "statement/problem.en.md": b"Given $n$ numbers.\n", "statement/problem.kk.md": "$n$ сан.\n".encode(),
              "data/secret/1.in": b"1\n", "data/secret/1.ans": b"2\n"}
    with site.sessions() as db:
        course = courses.get_course(db, site.school.course)
        asg.release(db, course, "dbl", {"i18n/ru/dbl.ipynb": b"{}"}, source, title="Удвоение", category="olympiad")
        db.commit()
    for lang, heading in (("ru", "<h1>Удвоение</h1>"), ("en", "<h1>Doubling</h1>"),
                          ("kk", "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>")):
        page = site.call("GET", f"/courses/alg8/tasks/dbl/statement?lang={lang}", user="aliya", page=True)
        assert page.status_code == 200 and heading in page.text, (lang, page.text[-2000:])
        assert "<script>alert" not in page.text
