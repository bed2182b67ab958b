"""A lesson's ``lesson.toml``: what it is, for whom, in which languages.

The file is small and written by teachers, so it is validated strictly (unknown
keys are refused: a typo must not silently drop a title) and every problem is
reported at once, in the reader's language, saying what to write instead.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from sabaq.i18n import LANGUAGES, N_, translator

LESSON_FILE = "lesson.toml"
EXERCISES_FILE = "exercises.toml"
ENCODED_FILE = "exercises.dat"
PUBLISHED_FILE = ".sabaq-lesson.json"
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
KEYS = {"id", "subject", "grade", "estimated_minutes", "languages", "title", "objective", "labels"}
NOTEBOOK = re.compile(rf"^(?P<id>[^/]+)\.(?P<lang>{'|'.join(LANGUAGES)})\.ipynb$")  # <lesson-id>.<lang>.ipynb


def lesson_notebook(names, lang: str | None = None) -> str | None:
    """The lesson's notebook among a lesson folder's file names: the first (sorted) in ``lang``,
    or in any language when ``lang`` is None; None when there is none."""
    return next((name for name in sorted(names)
                 if (m := NOTEBOOK.match(name)) and (lang is None or m["lang"] == lang)), None)


class LessonError(Exception):
    """A problem in a lesson's files: an English msgid with ``{name}`` placeholders."""

    def __init__(self, message: str, **params):
        super().__init__(message)
        self.message = message
        self.params = params

    reader_lang = "en"

    def translated(self, lang: str | None) -> str:
        return translator(lang)(self.message).format(**self.params)

    def for_reader(self, lang: str | None) -> "LessonError":
        """Show this error in ``lang`` where it is printed as is (a notebook's traceback)."""
        self.reader_lang = lang or "en"
        return self

    def __str__(self) -> str:
        return self.translated(self.reader_lang)


@dataclass
class LessonMeta:
    id: str
    subject: str
    grade: int
    estimated_minutes: int
    languages: list[str]
    title: dict[str, str]
    objective: dict[str, str]
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    folder: Path | None = None

    def notebook(self, lang: str) -> Path:
        return self.folder / f"{self.id}.{lang}.ipynb"


def _per_language(raw, key: str, languages, problems) -> dict[str, str]:
    table = raw.get(key)
    if not isinstance(table, dict):
        problems.append(LessonError(N_("{file}: add a [{key}] table with a text for each language ({languages})."),
                                    file=LESSON_FILE, key=key, languages=", ".join(languages)))
        return {}
    for lang in languages:
        if not isinstance(table.get(lang), str) or not table[lang].strip():
            problems.append(LessonError(N_("{file}: [{key}] has no text for '{lang}'."),
                                        file=LESSON_FILE, key=key, lang=lang))
    return {k: v for k, v in table.items() if isinstance(v, str)}


def validate_meta(raw: dict, folder: Path | None = None) -> tuple[LessonMeta | None, list[LessonError]]:
    """Every problem of a parsed lesson.toml, and the metadata if there are none."""
    problems: list[LessonError] = []
    for key in sorted(set(raw) - KEYS):
        problems.append(LessonError(N_("{file}: unknown key '{key}'. Known keys: {known}."),
                                    file=LESSON_FILE, key=key, known=", ".join(sorted(KEYS))))
    lesson_id = raw.get("id")
    if not isinstance(lesson_id, str) or not ID_PATTERN.match(lesson_id):
        problems.append(LessonError(N_("{file}: 'id' must be lowercase letters, digits and hyphens, like \"projectile-motion\"."),
                                    file=LESSON_FILE))
    elif folder is not None and folder.name != lesson_id:
        problems.append(LessonError(N_("{file}: 'id' is '{id}' but the folder is called '{folder}'; they must be the same."),
                                    file=LESSON_FILE, id=lesson_id, folder=folder.name))
    subject = raw.get("subject")
    if not isinstance(subject, str) or not ID_PATTERN.match(subject):
        problems.append(LessonError(N_("{file}: 'subject' must be a lowercase word like \"physics\" or \"math\"."),
                                    file=LESSON_FILE))
    grade = raw.get("grade")
    if not isinstance(grade, int) or isinstance(grade, bool) or not 1 <= grade <= 12:
        problems.append(LessonError(N_("{file}: 'grade' must be a whole number from 1 to 12."), file=LESSON_FILE))
    minutes = raw.get("estimated_minutes")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 240:
        problems.append(LessonError(N_("{file}: 'estimated_minutes' must be a whole number of minutes from 1 to 240."),
                                    file=LESSON_FILE))
    languages = raw.get("languages")
    if (not isinstance(languages, list) or not languages or len(set(languages)) != len(languages)
            or any(lang not in LANGUAGES for lang in languages)):
        problems.append(LessonError(N_("{file}: 'languages' must list some of {known}, each once."),
                                    file=LESSON_FILE, known=", ".join(LANGUAGES)))
        languages = [lang for lang in LANGUAGES if isinstance(languages, list) and lang in languages]
    title = _per_language(raw, "title", languages, problems)
    objective = _per_language(raw, "objective", languages, problems)
    labels = raw.get("labels", {})
    if not isinstance(labels, dict) or not all(isinstance(v, dict) for v in labels.values()):
        problems.append(LessonError(N_("{file}: [labels.LANG] tables map a label name to its text."), file=LESSON_FILE))
        labels = {}
    elif labels:
        names = set().union(*(set(labels.get(lang, {})) for lang in languages))
        for lang in languages:
            missing = sorted(names - set(labels.get(lang, {})))
            if missing:
                problems.append(LessonError(N_("{file}: [labels.{lang}] lacks {names}."),
                                            file=LESSON_FILE, lang=lang, names=", ".join(missing)))
            if any(not isinstance(v, str) for v in labels.get(lang, {}).values()):
                problems.append(LessonError(N_("{file}: [labels.{lang}] values must be texts."),
                                            file=LESSON_FILE, lang=lang))
    if problems:
        return None, problems
    return LessonMeta(lesson_id, subject, grade, minutes, list(languages), title, objective,
                      {k: dict(v) for k, v in labels.items()}, folder), []


def read_meta(folder: Path | str) -> tuple[LessonMeta | None, list[LessonError]]:
    folder = Path(folder)
    path = folder / LESSON_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, [LessonError(N_("{folder} has no {file}."), folder=str(folder), file=LESSON_FILE)]
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return None, [LessonError(N_("{file} is not valid TOML: {error}"), file=LESSON_FILE, error=str(exc))]
    return validate_meta(raw, folder)


def load_meta(folder: Path | str) -> LessonMeta:
    """The lesson's metadata; LessonError with the first problem if it is not valid."""
    meta, problems = read_meta(folder)
    if problems:
        raise problems[0]
    return meta


def find_lesson_folder(start: Path | str, levels: int = 3) -> Path | None:
    """The folder holding lesson.toml: ``start`` or one of its parents."""
    here = Path(start).resolve()
    for folder in [here, *here.parents][: levels + 1]:
        if (folder / LESSON_FILE).is_file():
            return folder
    return None


def lesson_folders(root: Path | str) -> list[Path]:
    """Every lesson folder under ``root`` (or ``root`` itself), sorted."""
    root = Path(root)
    if (root / LESSON_FILE).is_file():
        return [root]
    return sorted(p.parent for p in root.rglob(LESSON_FILE) if ".ipynb_checkpoints" not in p.parts)
