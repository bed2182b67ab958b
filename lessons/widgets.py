"""The lesson in the notebook: self-check widgets and simulations driven by sliders.

Everything a student clicks is an ipywidgets callback that tests can drive
without a browser (set ``.value``, call ``button.click()``). Pictures are
drawn by matplotlib's Agg renderer into an ``Image`` widget: no JavaScript
plotting library, nothing to download, and the PNG bytes can be compared.
"""

from __future__ import annotations

import html
import io
import os
import re
import weakref
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as W
from traitlets import Unicode

from sabaq.i18n import N_, translator
from sabaq.lessons.answers import Result, display_units
from sabaq.lessons.exercises import Exercise, load_exercises
from sabaq.lessons.meta import LessonError, find_lesson_folder, load_meta
from sabaq.lessons.report import Attempt, reporter_for

NUMBER_CLASS = "sabaq-number"  # sabaq's lessons extension gives these boxes inputmode=decimal
_NOTEBOOK_LANG = re.compile(r"\.([a-z]{2})\.ipynb$")
_LIVE: "weakref.WeakSet[Lesson]" = weakref.WeakSet()
_GREEK_NAMES = {"alpha": "α", "beta": "β", "gamma": "γ", "theta": "θ", "phi": "φ", "omega": "ω",
                "mu": "μ", "rho": "ρ", "tau": "τ", "Delta": "Δ"}


def _strict() -> bool:
    """``sabaq lesson check`` runs lessons strictly: a missing label is an error, not a fallback."""
    return os.environ.get("SABAQ_LESSON_STRICT") == "1"


def _notebook_path() -> Path | None:
    """The running notebook's file, as Jupyter Server (JPY_SESSION_NAME) or VS Code tell the kernel."""
    candidates = [os.environ.get("JPY_SESSION_NAME")]
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            candidates.append(shell.user_ns.get("__vsc_ipynb_file__"))
    except ImportError:
        pass
    for name in candidates:
        if name and name.endswith(".ipynb"):
            path = Path(name)
            if not path.is_absolute() and not path.exists():
                path = Path.cwd() / path.name
            return path
    return None


class Lesson:
    """One lesson as a notebook uses it: ``lesson = Lesson()`` in the first code cell.

    The folder is the running notebook's folder (or the current directory, or a
    parent holding lesson.toml); the language comes from the notebook's name
    (``projectile-motion.kk.ipynb``) unless ``lang`` is given."""

    def __init__(self, lang: str | None = None, folder: str | Path | None = None, reporter=None):
        notebook = _notebook_path()
        named = _NOTEBOOK_LANG.search(notebook.name) if notebook is not None else None
        try:
            self._load(lang, folder, notebook, reporter)
        except LessonError as exc:
            raise exc.for_reader(lang or (named.group(1) if named else None))
        _LIVE.add(self)

    def _load(self, lang, folder, notebook, reporter) -> None:
        if folder is None:
            if notebook is not None and (notebook.parent / "lesson.toml").is_file():
                folder = notebook.parent
            else:
                folder = find_lesson_folder(Path.cwd())
            if folder is None:
                raise LessonError(N_("No lesson.toml here: open the notebook from its lesson folder."))
        self.folder = Path(folder).resolve()
        self.meta = load_meta(self.folder)
        if lang is None:
            lang = self._guess_language(notebook)
        if lang not in self.meta.languages:
            raise LessonError(N_("This lesson has no '{lang}' version; it has {languages}."),
                              lang=str(lang), languages=", ".join(self.meta.languages))
        self.lang = lang
        self._ = translator(lang)
        self.exercises: dict[str, Exercise] = load_exercises(self.folder, self.meta.languages)
        self.reporter = reporter if reporter is not None else reporter_for(self.folder)
        self.progress: dict[str, Progress] = {}
        self.shown: dict[str, ExerciseWidget] = {}
        self.simulations: list[Simulation] = []

    def _guess_language(self, notebook: Path | None) -> str:
        if notebook is not None and notebook.parent.resolve() == self.folder:
            m = _NOTEBOOK_LANG.search(notebook.name)
            if m:
                return m.group(1)
        present = [lang for lang in self.meta.languages if self.meta.notebook(lang).exists()]
        if len(present) == 1:
            return present[0]
        env = (os.environ.get("SABAQ_LANG") or os.environ.get("LANG", "")).split("_")[0].split(".")[0].lower()
        return env if env in self.meta.languages else self.meta.languages[0]

    # ---------------------------------------------------------- texts

    @property
    def title(self) -> str:
        return self.meta.title.get(self.lang, "")

    def num(self, value, decimals: int = 2) -> str:
        """A number as this language writes it: ``35.36`` in en, ``35,36`` in kk and ru."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return str(value)
        if isinstance(value, int):
            return str(value)
        text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
        if text in ("-0", ""):
            text = "0"
        return text.replace(".", ",") if self.lang in ("kk", "ru") else text

    def t(self, key: str, **values) -> str:
        """A label from lesson.toml's ``[labels.<lang>]``, numbers in ``values`` written as :meth:`num` does.

        Code cells are the same in every language; any word they show goes through here."""
        labels = self.meta.labels
        text = labels.get(self.lang, {}).get(key)
        if text is None:
            if _strict():
                raise LessonError(N_("lesson.toml has no label '{key}' for '{lang}'."), key=key,
                                  lang=self.lang).for_reader(self.lang)
            text = labels.get("en", {}).get(key, key)
        return text.format(**{k: self.num(v) for k, v in values.items()}) if values else text

    def _label(self, name: str) -> str:
        return self.meta.labels.get(self.lang, {}).get(name, name)

    # ---------------------------------------------------------- widgets

    def check(self, exercise_id: str) -> "ExerciseWidget":
        """The self-check ``exercise_id`` of exercises.toml: an input, a Check button, feedback."""
        if exercise_id not in self.exercises:
            raise LessonError(N_("There is no exercise '{exercise}' in exercises.toml."),
                              exercise=exercise_id).for_reader(self.lang)
        progress = self.progress.setdefault(exercise_id, Progress())
        widget = ExerciseWidget(self, self.exercises[exercise_id], progress)
        self.shown[exercise_id] = widget
        return widget

    def plot(self, draw, *, size=(6.4, 4.0), **controls) -> "Simulation":
        """A picture redrawn when a slider moves: ``lesson.plot(draw, v0=(5, 30, 1, 20))``.

        ``draw(ax, **values)`` draws on a matplotlib Axes and may return a text shown
        under the picture. A control is ``(min, max, step)`` or ``(min, max, step, value)``
        (integers give an IntSlider), a list of choices, or any ipywidgets control.
        Its label is ``[labels.<lang>]`` of its name, or the name itself."""
        made = {name: self._control(name, spec) for name, spec in controls.items()}
        sim = Simulation(self, draw, made, size)
        self.simulations.append(sim)
        return sim

    def _control(self, name: str, spec):
        label = self._label(name)
        style = {"description_width": "initial"}
        if isinstance(spec, W.ValueWidget):
            if not spec.description:
                spec.description = label
            return spec
        if isinstance(spec, list):
            return W.Dropdown(options=spec, description=label, style=style)
        if isinstance(spec, tuple) and len(spec) in (3, 4):
            lo, hi, step = spec[:3]
            value = spec[3] if len(spec) == 4 else lo
            cls = W.IntSlider if all(isinstance(v, int) for v in (lo, hi, step, value)) else W.FloatSlider
            return cls(min=lo, max=hi, step=step, value=value, description=label, style=style,
                       continuous_update=False, layout=W.Layout(width="28em", max_width="100%"))  # a phone: the screen's width
        raise LessonError(N_("Control '{name}': write (min, max, step, value), a list of choices or a widget."),
                          name=name).for_reader(self.lang)


class TitledImage(W.Image):
    """An Image that can carry a title (its tooltip: the picture in words). ipywidgets' view
    sets the title only while the model's description is empty, and reads it from a model
    Image does not have: without this, a tooltip breaks the picture (a TypeError, an error box)."""

    description = Unicode("").tag(sync=True)


class Simulation:
    """Controls, a picture and a caption; the picture is redrawn whenever a control changes."""

    def __init__(self, lesson: Lesson, draw, controls: dict, size):
        self.lesson = lesson
        self.draw = draw
        self.controls = controls
        self.size = size
        self.image = TitledImage(format="png", layout=W.Layout(max_width="100%"))
        self.caption = W.HTMLMath()
        self.widget = W.VBox([W.VBox(list(controls.values())), self.image, self.caption])
        self.redraws = 0
        for control in controls.values():
            control.observe(self._changed, names="value")
        self.redraw()  # in the cell itself: an error in draw() is the cell's error

    @property
    def values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    @property
    def png(self) -> bytes:
        return bytes(self.image.value)

    def redraw(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=self.size, dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        text = self.draw(ax, **self.values)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        self.image.value = buffer.getvalue()
        self.caption.value = html.escape(text) if isinstance(text, str) else ""
        self.image.tooltip = self.text_alternative(ax, text)  # the picture's title: what a screen reader says
        self.redraws += 1

    def text_alternative(self, ax, text) -> str:
        """The picture in words for those who cannot see it: the text draw() returned, else the
        axes' title and labels with the controls' values."""
        if isinstance(text, str) and text.strip():
            return text.strip()
        _ = self.lesson._
        names = [t for t in (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) if t]
        values = ", ".join(f"{control.description or name} = {control.value}" for name, control in self.controls.items())
        return _("A picture: {names}. Values: {values}").format(names=" / ".join(names) or "—", values=values or "—")

    def _changed(self, change) -> None:
        try:
            self.redraw()
        except Exception as exc:  # a callback's exception would vanish into the browser's console
            _ = self.lesson._
            self.caption.value = html.escape(_("The picture could not be drawn: {error}").format(
                error=f"{type(exc).__name__}: {exc}"))

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


@dataclass
class Progress:
    """One student's attempts at one exercise in this kernel session."""

    attempts: int = 0
    wrong: int = 0
    solved: bool = False


class ExerciseWidget:
    """One self-check: the input its kind needs, a Check button and immediate feedback.

    An attempt is counted (and reported) when the answer can be read and differs
    from the previous one, so a double click or an unreadable answer costs nothing.

    Text inputs send their value once, when they lose focus (``continuous_update=False``),
    not per keystroke: the browser holds back a widget's value update while an earlier
    one is unanswered, but sends a button's click at once (ipywidgets PR #1383), so a
    quick click after typing could be checked against a stale answer. Clicking Check
    blurs the input first, and its single update goes out before the click."""

    def __init__(self, lesson: Lesson, exercise: Exercise, progress: Progress | None = None):
        self.lesson = lesson
        self.exercise = exercise
        self.progress = progress if progress is not None else Progress()
        self.counted = progress is not None
        self.result: Result | None = None
        self._last: str | None = None
        _ = lesson._
        extra = []
        kind = exercise.kind
        labelled = {"description": _("Your answer:"), "style": {"description_width": "initial"}}
        if kind == "number":
            self.input = W.Text(placeholder=_("A number, e.g. 12.5"), continuous_update=False, **labelled,
                                layout=W.Layout(width="24em", max_width="100%"))
            self.input.add_class(NUMBER_CLASS)  # phones bring up their number keyboard
            if exercise.units and exercise.units_optional:
                extra.append(W.HTML(html.escape(display_units(exercise.units, lesson.lang))))
        elif kind == "expression":
            self.input = W.Text(placeholder=_("An expression"), continuous_update=False, **labelled,
                                layout=W.Layout(width="30em", max_width="100%"))
        elif kind == "code":
            self.input = W.Textarea(placeholder=_("Python code"), rows=4, continuous_update=False, **labelled,
                                    layout=W.Layout(width="44em", max_width="100%"))
        elif exercise.multiple:
            self.boxes = [W.Checkbox(value=False, description=label, indent=False)
                          for label in self._options()]
            self.input = W.VBox(self.boxes)
        else:
            options = [(label, i) for i, label in enumerate(self._options(), start=1)]
            self.input = W.RadioButtons(options=options, value=None, **labelled,
                                        layout=W.Layout(width="max-content", max_width="100%"))
        self.button = W.Button(description=_("Check answer"), button_style="primary", icon="check",
                               layout=W.Layout(width="auto"))  # room for the label in every language
        self.button.on_click(self._clicked)
        self.feedback = W.HTMLMath()
        rows = [W.HBox([self.input, *extra, self.button], layout=W.Layout(flex_flow="row wrap"))]
        if kind == "expression" and exercise.variables:
            names = ", ".join(_GREEK_NAMES.get(v, v) for v in exercise.variables)
            rows.insert(0, W.HTML(html.escape(_("Letters you can use: {names}").format(names=names))))
        self.widget = W.VBox([*rows, self.feedback])

    def _options(self) -> list[str]:
        options = self.exercise.options
        return options.get(self.lesson.lang) or next(iter(options.values()))

    @property
    def attempts(self) -> int:
        return self.progress.attempts

    @property
    def value(self):
        """The answer as the checker takes it: text, an option number, or a list of them."""
        if self.exercise.kind == "choice" and self.exercise.multiple:
            return [i for i, box in enumerate(self.boxes, start=1) if box.value]
        return self.input.value

    @value.setter
    def value(self, answer) -> None:
        if self.exercise.kind == "choice" and self.exercise.multiple:
            picked = set(answer if isinstance(answer, (list, tuple, set)) else [answer])
            for i, box in enumerate(self.boxes, start=1):
                box.value = i in picked
        else:
            self.input.value = answer

    def submit(self, answer=None) -> Result:
        """Type ``answer`` (if given) and press Check, as a student would."""
        if answer is not None:
            self.value = answer
        self.button.click()
        return self.result

    def _clicked(self, _button=None) -> None:
        value = self.value
        try:
            result = self.exercise.check(value)
        except Exception:
            result = Result(False, "checker_failed", valid=False)
        self.result = result
        if result.valid and repr(value) != self._last:
            self._last = repr(value)
            self._count(result, value)
        self.feedback.value = self._render(result)

    def _count(self, result: Result, value) -> None:
        progress = self.progress
        progress.attempts += 1
        if result.correct:
            progress.solved = True
        else:
            progress.wrong += 1
        reporter = self.lesson.reporter
        if self.counted and reporter.enabled:
            answer = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            reporter.report(Attempt(reporter.course, reporter.lesson, self.exercise.id, result.correct,
                                    progress.attempts, answer, self.lesson.lang))

    def _render(self, result: Result) -> str:
        _ = self.lesson._
        lang = self.lesson.lang
        message = html.escape(result.message(lang))
        count = html.escape(_("Attempts: {count}").format(count=self.attempts))
        count = f'<span style="color:#57606a">{count}</span>'
        if result.correct:
            return f'<div style="color:#1a7f37"><b>✔ {message}</b> {count}</div>'
        if not result.valid:
            return f'<div style="color:#9a6700">ℹ {message}</div>'
        first = "<b>✘ " + html.escape(_("Not right yet.")) + "</b>"
        lines = [first + (f" {message}" if result.key != "wrong" else "")]
        hint = self.exercise.hint(lang, self.progress.wrong)
        if hint:
            lines.append("<i>" + html.escape(_("Hint:")) + f"</i> {html.escape(hint)}")
        lines.append(count)
        return '<div style="color:#cf222e">' + "<br>".join(lines) + "</div>"

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def _selftest() -> None:
    """Run by ``sabaq lesson check`` after a notebook's cells: move every slider (the picture
    must change) and give every shown exercise its own answer (it must be accepted)."""
    notebook = _notebook_path()
    for lesson in list(_LIVE):
        m = _NOTEBOOK_LANG.search(notebook.name) if notebook is not None else None
        if m and m.group(1) != lesson.lang:
            raise LessonError(N_("{notebook} runs the lesson in '{lang}', not in the language its name says."),
                              notebook=notebook.name, lang=lesson.lang).for_reader(lesson.lang)
        for sim in lesson.simulations:
            for name, control in sim.controls.items():
                before, old = sim.png, control.value
                if isinstance(control, W.Dropdown):
                    options = list(control.options)
                    new = options[(control.index + 1) % len(options)] if len(options) > 1 else old
                else:
                    new = control.max if control.value != control.max else control.min
                new = new[1] if isinstance(new, tuple) else new
                control.value = new
                if sim.png == before:
                    raise LessonError(N_("Moving '{name}' did not change the picture."),
                                      name=name).for_reader(lesson.lang)
                control.value = old
        for ex_id in lesson.shown:
            probe = ExerciseWidget(lesson, lesson.exercises[ex_id])  # not counted, not reported
            result = probe.submit(probe.exercise.sample_answer())
            if not result.correct:
                raise LessonError(N_("Exercise {exercise} does not accept its own answer ({reason})."),
                                  exercise=ex_id, reason=result.key).for_reader(lesson.lang)
