"""A task's statement in every language the package has, as the coach and the students see it.

Kattis statements are ``problem.<lang>.tex`` (problemtools renders them with plasTeX) or,
in the 2023-07 format, ``problem.<lang>.md``. sabaq turns the LaTeX of a statement into
Markdown (the notebook's cell, which JupyterLab renders with MathJax) and the Markdown into
HTML for the service's task page, with formulas as MathML (latex2mathml) so that no
script is needed to show them. The statement is the package author's text: raw HTML in it
is escaped, links may only be web or mail links, and images are left out. A PDF, as
problemtools' ``problem2pdf`` makes it with LuaLaTeX, is built where LaTeX is installed
(``sabaq task statement --pdf``).
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from sabaq.errors import SabaqError
from sabaq.i18n import LANGUAGES, N_
from sabaq.mathtext import markdown_html


class StatementError(SabaqError):
    """A statement cannot be rendered; the message says why and what to do."""

    status = 422
    code = "bad_statement"


_TEX_RULES = [
    (re.compile(r"\\problemname\{(.*?)\}"), r"# \1"),
    (re.compile(r"\\section\*?\{(.*?)\}"), r"## \1"),
    (re.compile(r"\\subsection\*?\{(.*?)\}"), r"### \1"),
    (re.compile(r"\\textbf\{(.*?)\}"), r"**\1**"),
    (re.compile(r"\\(?:emph|textit)\{(.*?)\}"), r"*\1*"),
    (re.compile(r"\\texttt\{(.*?)\}"), r"`\1`"),
    (re.compile(r"\\begin\{(?:itemize|enumerate)\}|\\end\{(?:itemize|enumerate)\}"), ""),
    (re.compile(r"^\s*\\item\s*", re.MULTILINE), "- "),
    (re.compile(r"(?<!\\)~"), " "),
    (re.compile(r"---"), "—"),
    (re.compile(r"--"), "–"),
    (re.compile(r"\\(?:illustration|includegraphics)(\[.*?\])?\{.*?\}(\{.*?\})?"), ""),
    (re.compile(r"\\(?:bigskip|medskip|smallskip|noindent|newline|par)\b"), ""),
]


def tex_to_markdown(tex: str) -> str:
    """Enough of Kattis statement LaTeX for a notebook; formulas stay as $...$."""
    text = "\n".join(line for line in tex.splitlines() if not line.lstrip().startswith("%"))
    for pattern, repl in _TEX_RULES:
        text = pattern.sub(repl, text)
    text = text.replace("\\\\", "  \n")
    text = re.sub(r"\\([#_%&{}])", r"\1", text)  # escaped characters are plain text in Markdown
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def problem_name(config: dict, lang: str) -> str | None:
    """The problem's name in ``lang`` from problem.yaml, as problemtools reads it: a 2023-07
    package names it per language (its only one when it has one), a legacy package once."""
    name = config.get("name") if isinstance(config, dict) else None
    if isinstance(name, dict):
        if len(name) == 1:
            name = next(iter(name.values()))
        else:
            name = name.get(lang)
    return str(name) if name else None


def with_title(name: str, text: str, title: str | None) -> str:
    """A Markdown statement has no title of its own: problemtools puts problem.yaml's name in
    its language above it (a LaTeX one names itself with \\problemname)."""
    return f"# {title}\n\n{text}" if name.endswith(".md") and title else text


def statement_markdown(package, lang: str, fallback: str = "en") -> tuple[str, str]:
    """(statement as Markdown, the language actually used): in ``lang`` when the package has
    it, else in ``fallback`` (the course's language), else English, else any."""
    statements = package.statements()
    for choice in (lang, fallback, "en", *LANGUAGES, *sorted(statements)):
        path = statements.get(choice)
        if path is not None:
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".md":
                return with_title(path.name, text, problem_name(package.config, choice)), choice
            return tex_to_markdown(text), choice
    raise ValueError(f"{package.root} has no statement")


def markdown_to_html(markdown: str) -> str:
    """The statement's Markdown as HTML, each formula as MathML with nothing but MathML's
    layout in it (sabaq.mathtext, as every page with formulas)."""
    return markdown_html(markdown)


def statement_html(name: str, text: str, title: str | None = None) -> str:
    """One statement file (``problem.<lang>.tex`` or ``.md``) as HTML; ``title``: the
    problem's name in its language, the heading of a Markdown statement."""
    return markdown_to_html(with_title(name, text, title) if name.endswith(".md") else tex_to_markdown(text))


def statement_files(paths) -> dict[str, str]:
    """Of a package's file names, the statement of each language: {lang: name}; a bare
    ``problem.tex`` is English. ``statement/`` wins over ``problem_statement/``."""
    found: dict[str, str] = {}
    for folder in ("statement", "problem_statement"):
        for path in sorted(paths):
            head, _, base = str(path).rpartition("/")
            parts = base.split(".")
            if head != folder or parts[0] != "problem" or parts[-1] not in ("tex", "md") or len(parts) > 3:
                continue
            found.setdefault(parts[1] if len(parts) == 3 else "en", str(path))
    return found


# problemtools' class sets only the body's font (CMU Serif, which has Cyrillic letters): the
# headings, the problem's name (sans serif) and the samples (typewriter) stay in Latin Modern,
# which has none, so a Kazakh or Russian heading came out empty. These lines, added at the end
# of a copy of the class, set CMU's sans serif and typewriter faces too (Debian's fonts-cmu,
# installed by scripts/install.sh), where they are installed.
CYRILLIC_FONTS = r"""
%% sabaq: every face with Cyrillic letters (headings, the problem's name, samples)
\ifplastex\else
\IfFontExistsTF{CMU Sans Serif}{\setsansfont{CMU Sans Serif}}{}
\IfFontExistsTF{CMU Typewriter Text}{\setmonofont{CMU Typewriter Text}}{}
\fi
"""


def problemset_class() -> str | None:
    """problemtools' LaTeX class with CYRILLIC_FONTS added (None without problemtools)."""
    try:
        from importlib.resources import files

        original = files("problemtools").joinpath("templates/latex/problemset.cls").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return None
    return original + CYRILLIC_FONTS


def _pdf(problem2pdf: str, root: Path, lang: str, target: Path) -> subprocess.CompletedProcess:
    """problem2pdf on a copy of the package in a folder of its own, beside which the class
    with Cyrillic faces lies (problemtools uses a ``problemset.cls`` in the package's parent)."""
    with tempfile.TemporaryDirectory(prefix="sabaq-pdf-") as tmp:
        copy = Path(tmp) / "package" / root.name
        shutil.copytree(root, copy, ignore=shutil.ignore_patterns("__pycache__", "submissions", "generators"))
        cls = problemset_class()
        if cls is not None:
            (copy.parent / "problemset.cls").write_text(cls, encoding="utf-8")
        return subprocess.run([problem2pdf, "-l", lang, "-o", str(target), str(copy)],
                              capture_output=True, text=True, cwd=tmp, timeout=600, check=False)


PAGE = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title></head>
<body>
{body}
</body></html>
"""


def write_statements(package, out: Path, pdf: bool = False) -> list[Path]:
    """Every language's statement as ``problem.<lang>.html`` in ``out`` and, with ``pdf``, as
    ``problem.<lang>.pdf`` made by problemtools' problem2pdf (LuaLaTeX). LaTeX runs here, as
    the person who asked, on their own package: the service never runs it."""
    statements = package.statements()
    if not statements:
        raise StatementError(N_("{folder} has no statement: add problem_statement/problem.<language>.tex "
                              "or statement/problem.<language>.md."), folder=package.root.name)
    problem2pdf = shutil.which("problem2pdf") or str(Path(sys.executable).parent / "problem2pdf")
    if pdf and (shutil.which("lualatex") is None or not Path(problem2pdf).exists()):
        raise StatementError(N_("A PDF needs LuaLaTeX and problemtools' problem2pdf, which are not installed here. "
                              "Install them (scripts/install.sh installs LaTeX), or leave out --pdf."))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for lang, path in sorted(statements.items()):
        page = out / f"problem.{lang}.html"
        title = problem_name(package.config, lang)
        body = statement_html(path.name, path.read_text(encoding="utf-8"), title)
        page.write_text(PAGE.format(lang=lang, title=html.escape(title or package.name), body=body), encoding="utf-8")
        written.append(page)
        if pdf:
            target = out / f"problem.{lang}.pdf"
            run = _pdf(problem2pdf, package.root, lang, target)
            if not target.exists():
                raise StatementError(N_("LaTeX could not make the {lang} statement of {folder} into a PDF: {error}"),
                                   lang=lang, folder=package.root.name,
                                   error=(run.stdout + run.stderr).strip()[-500:])
            written.append(target)
    return written
