"""What a test cell relies on, kept out of the student's reach (issue 15, items 2 and 3).

Answer cells run in the same process as the test cells that grade them, before them. The
grading child puts ``TestCellGuard`` around each test cell; the defences are in
``pristine`` (the machinery put back), ``comparisons`` (values compared and read by their
data) and ``audit`` (what only an attack needs, refused). Their public names are here too.
"""

from __future__ import annotations

import builtins
import types

from sabaq.autograders.sandbox.audit import (
    REFUSED_EVENTS,
    REFUSED_IMPORTS,
    REFUSED_MESSAGE,
    install_audit_guard,
    library_roots,
)
from sabaq.autograders.sandbox.comparisons import (
    CHECKED_CALLS,
    COMPARE_NAME,
    RECORD_CODE,
    RUN_AWAITED_CODE,
    RUN_TEST_CODE,
    STAR_IMPORT_CODE,
    StrictComparisons,
    bind,
    binding_run_code,
    claim_failures,
    claim_recorder,
    partial_credit_text,
    strict_eq,
    strict_ne,
    take_failed,
    take_recorded,
)
from sabaq.autograders.sandbox.pristine import Pristine, grader_seal, own_dict
from sabaq.i18n import N_

__all__ = ["CHECKED_CALLS", "COMPARE_NAME", "REFUSED_EVENTS", "REFUSED_IMPORTS", "REFUSED_MESSAGE", "TAMPERED_ERROR",
           "TAMPERED_MESSAGE", "Pristine", "StrictComparisons", "TestCellGuard", "bind", "binding_run_code",
           "install_audit_guard", "partial_credit_text", "strict_eq", "strict_ne", "take_recorded"]


RECORDER_SETTINGS = ("max_bytes", "lock")  # the shell's recorder's entries that are settings, not output
_UNSET = object()
TAMPERED_ERROR = "GradingIntegrityError"
TAMPERED_MESSAGE = N_("The answer's code changed the grader while this test ran ({what}), so the test counts as "
                      "failed. Answers must not change IPython, builtins or the modules tests use.")


class TestCellGuard:
    """All of the above around test cells, in the shape the grading child calls
    (``sandbox.child.Guard``): made in the zygote (the capture), ``before_first`` in the
    child before any student code, then ``before_test``/``after_test`` around each test
    cell and ``result_text`` for its value."""

    __test__ = False  # not a pytest class

    def __init__(self, shell, bound: bool = False):
        """bound: test cells use ``StrictComparisons(bound=True)``, and the shell's class gets
        a run_code that binds their code (``binding_run_code``), before the capture."""
        cls = type(shell)
        if bound and not getattr(cls.run_code, "binds", False):
            cls.run_code = binding_run_code(cls.run_code)
        self.pristine = Pristine.capture(shell)
        self.user_ns = shell.user_global_ns
        self.bound = bound
        self.transformer: StrictComparisons | None = None
        self._recorded = claim_recorder()  # in the zygote, before any notebook: the grader's alone
        self._failures = claim_failures()  # the same
        # once in the zygote (a millisecond), valid in every child forked from it; with the
        # functions the shell's traceback formatter is made of (their closures)
        self.seal = grader_seal(functions=tuple(v for v in own_dict(shell.InteractiveTB).values()
                                                if isinstance(v, types.FunctionType)))
        self.library_roots = library_roots()  # once in the zygote too, for each child's audit guard

    def before_first(self, shell=None) -> None:
        """The child's own settings (input() refused, the shell's recorder, its signal
        handlers) become part of the pristine state; then the audit guard, for good."""
        self.pristine.pin(builtins, "input", builtins.input)
        if shell is not None and own_dict(shell).get("recorder") is not None:
            recorder = own_dict(shell)["recorder"]
            self.pristine.pin(shell, "recorder", recorder)
            self._recorder_settings = {name: own_dict(recorder).get(name) for name in RECORDER_SETTINGS}
        self.pristine.pin_signals()
        install_audit_guard(self.user_ns, roots=self.library_roots,
                            takers=frozenset({RECORD_CODE, RUN_TEST_CODE, RUN_AWAITED_CODE, STAR_IMPORT_CODE}))

    _recorder_settings: dict = {}  # the shell's recorder's settings, as the child made them

    def _recorder_changed(self, shell) -> bool:
        """Whether the recorder's settings (its output limit, its lock) are not the child's
        own, and puts them back. They are the notebook's to reach (get_ipython().recorder):
        a limit of -1 set while a test's error is shown (from code the formatting runs)
        would drop every output after it, a stderr line nbgrader fails the test for too."""
        own = own_dict(own_dict(shell).get("recorder"))
        changed = False
        for name, value in self._recorder_settings.items():
            if own.get(name, _UNSET) is not value:
                own[name] = value
                changed = True
        return changed

    def before_test(self, shell) -> None:
        self.pristine.restore(shell)
        self._recorder_changed(shell)
        take_recorded(self._recorded)
        take_failed(self._failures)
        self.transformer = StrictComparisons(bound=self.bound)
        shell.ast_transformers.append(self.transformer)

    def after_test(self, shell, sealed: list[str] = (), source: str = "") -> None:
        """A test cell during which the grader was patched records an error (nbgrader then
        gives it no points): its result came from the student's code, not the test's.
        ``sealed``: what of the grader's own modules and classes the loop had to put back;
        ``source``: the test's, for what it mocks itself."""
        transformers = shell.ast_transformers
        while any(t is self.transformer for t in transformers):
            list.remove(transformers, self.transformer)
        self.transformer = None
        changed = [*sealed, *self.pristine.tampered(shell, source)]
        if self._recorder_changed(shell):
            changed.append("the shell's recorder")
        if changed:
            what = ", ".join(changed[:5])
            self.pristine.restore(shell)  # first: the shell's own recorder back, if the test replaced it
            shell.recorder.add_first({"output_type": "error", "ename": TAMPERED_ERROR,
                                      "evalue": TAMPERED_MESSAGE.format(what=what),
                                      "traceback": [f"\x1b[0;31m{TAMPERED_ERROR}\x1b[0m: "
                                                    + TAMPERED_MESSAGE.format(what=what)]})

    def raised(self) -> bool:
        """Whether the test cell's code raised since ``before_test``, as IPython's run_code
        answered (``comparisons.take_failed``): not the ExecutionResult's error, which the
        notebook's code can reset while the error is shown."""
        return take_failed(self._failures) if self.bound else False

    def result_text(self, value) -> str | None | bool:
        """From the value the cell's own code recorded when bound (a display hook the
        student replaced cannot hide or change it; False: the cell recorded none, so no
        value displayed counts), else from the value IPython saw."""
        if self.bound:
            found, recorded = take_recorded(self._recorded)
            if not found:
                return False
            value = recorded
        return partial_credit_text(value) if value is not None else None
