"""A task's notebook has the statement in its reader's language when the package has it, and
in the course's language when it does not (issue 16, item 6): a Russian-speaking student in
a Kazakh course reads the Russian statement; an English-speaking one, when the package has
no English, reads the course's language rather than whichever comes first."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from sabaq.kattis.notebook import release_files
from sabaq.kattis.package import load

GUESS = Path(__file__).resolve().parents[2] / "courses" / "olympiad" / "tasks" / "guess"


@pytest.fixture
def without_english(tmp_path) -> Path:
    package = tmp_path / "guess"
    shutil.copytree(GUESS, package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "problem_statement" / "problem.en.tex").unlink()
    return package


def statement_of(files: dict[str, bytes], lang: str) -> str:
    notebook = json.loads(files[f"i18n/{lang}/guess.ipynb"])
    return "".join(notebook["cells"][0]["source"])


def first_line(package: Path, lang: str) -> str:
    return (package / "problem_statement" / f"problem.{lang}.tex").read_text(encoding="utf-8").splitlines()[0]


def test_each_reader_gets_the_statement_in_their_language_when_the_package_has_it():
    files = release_files(load(GUESS), "olympiad", "guess", course_language="kk")
    for lang in ("kk", "ru", "en"):
        title = first_line(GUESS, lang).removeprefix("\\problemname{").removesuffix("}")
        assert statement_of(files, lang).startswith(f"# {title}"), lang


@pytest.mark.parametrize("course_language", ["ru", "kk"])
def test_without_it_the_reader_gets_the_courses_language(without_english, course_language):
    files = release_files(load(without_english), "olympiad", "guess", course_language=course_language)
    title = first_line(without_english, course_language).removeprefix("\\problemname{").removesuffix("}")
    assert statement_of(files, "en").startswith(f"# {title}")
    other = {"ru": "kk", "kk": "ru"}[course_language]  # who has their own language keeps it
    assert statement_of(files, other).startswith("# " + first_line(without_english, other)
                                                 .removeprefix("\\problemname{").removesuffix("}"))
