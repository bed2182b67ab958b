"""Interactive lessons in Kazakh, Russian and English, and what they share.

A lesson is a folder ``courses/lessons/<subject>/<lesson-id>/``::

    lesson.toml              id, subject, grade, estimated_minutes, languages,
                             [title], [objective] and [labels.<lang>] per language
    exercises.toml           the self-checks and their answers and hints
                             (exercises.dat, encoded, in a published copy)
    <lesson-id>.kk.ipynb     the notebooks, one per language, saved without outputs
    <lesson-id>.ru.ipynb
    <lesson-id>.en.ipynb
    data/                    anything the lesson reads; nothing is downloaded

The rule that keeps three versions one lesson: **the notebooks differ only in
their Markdown cells.** Code cells are identical byte for byte (``sabaq lesson
check`` compares them), so:

- the first code cell is ``from sabaq.lessons import Lesson`` and
  ``lesson = Lesson()``; the language comes from the notebook's file name;
- a self-check is ``lesson.check("q1")``; its answer, options and hints are in
  exercises.toml, never in the notebook;
- a simulation is ``lesson.plot(draw, name=(min, max, step, value), ...)``;
- any word a code cell shows (a slider's label, an axis title, a caption) is
  ``lesson.t("key", x=...)`` with the text in lesson.toml's ``[labels.kk]``,
  ``[labels.ru]``, ``[labels.en]``; a slider named ``v0`` is labelled by the
  ``v0`` label. Numbers passed to ``lesson.t`` are written with the language's
  decimal separator (``3,5`` in kk and ru). Symbols and units that read the
  same in every language (``α``, ``x``) need no label.

Every code cell says what it is for with a cell tag (:mod:`.cells`), the same in every
language, because a phone has no Shift + Enter:

- ``sabaq:setup``: runs by itself when the lesson opens (sabaq's lessons extension for
  JupyterLab and Notebook 7, ``lessons/labextension``), its code collapsed
  (``"jupyter": {"source_hidden": true}`` in the cell's metadata): ``lesson = Lesson()``,
  the simulations and the self-checks. The first code cell is one;
- ``sabaq:student``: code the student reads, changes and runs (a calculator), shown open.

Markdown does not ask for Shift + Enter. Students open a lesson from sabaq's course page
in Notebook 7's single-document view (``/user/<name>/notebooks/lessons/<course>/<id>/...``),
or in JupyterLab; on a narrow screen the extension gives the text the screen's width,
sliders and buttons 44 px targets, and number boxes the number keyboard.
``sabaq lesson check`` checks the tags and, where Chromium is installed, opens every
notebook at a phone's size (:mod:`.phone`): it must start by itself and not scroll sideways.

Modules: :mod:`.answers` (checkers), :mod:`.exercises` (exercises.toml/.dat),
:mod:`.meta` (lesson.toml), :mod:`.widgets` (Lesson, self-checks, simulations),
:mod:`.report` (attempts to the sabaq service), :mod:`.check` (``sabaq lesson check``),
:mod:`.cells` (set-up and student cells), :mod:`.phone` (the phone check).
"""

from __future__ import annotations

from sabaq.lessons.meta import LessonError

__all__ = ["Lesson", "LessonError"]


def __getattr__(name: str):
    # ipywidgets is imported only by notebooks, not by `sabaq lesson check` or the service
    if name == "Lesson":
        from sabaq.lessons.widgets import Lesson

        return Lesson
    raise AttributeError(name)
