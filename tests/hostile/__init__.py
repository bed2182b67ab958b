"""A hostile class: notebooks that try to fake their grade, each next to an honest twin.

Every case runs against the corpus assignment (``sabaq.devtools.corpus``: ``square``,
``mean`` (partial credit), ``greet``, ``fib``, with visible and hidden tests). A case
names the honest answers (wrong ones by default, so a faked grade shows) and the attack
code appended to answer cells. The hostile notebook must score exactly what its honest
twin, the same answers without the attack, scores; both are graded in the same batch.

Cases live in modules beside this one (``process_cases``: the grading process, its pipes,
limits and processes; ``shell_cases``: IPython's shell, builtins, modules, comparisons and
partial credit; ``traceback_cases``: code run while a test's error is shown, the grader's
caches, closures and recorder); each defines ``CASES``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sabaq.devtools.corpus import CORRECT

WRONG = {
    **CORRECT,
    "square": "def square(x):\n    return x + x",
    "mean": "def mean(xs):\n    return 0",
    "greet": "def greet(name):\n    return 'hi'",
    "fib": "def fib(n):\n    return n",
}


@dataclass(frozen=True)
class Case:
    name: str  # a student id: letters, digits, underscores
    attacks: dict[str, str]  # grade id of an answer cell -> code appended to that answer
    answers: dict[str, str] = field(default_factory=lambda: dict(WRONG))  # the honest answers
    note: str = ""  # what the attack tries


def hostile_class(cases: list[Case]) -> dict[str, dict]:
    """Students for ``corpus.build_course(class_=...)``: each case and its honest twin
    (``<name>__honest``)."""
    students: dict[str, dict] = {}
    for case in cases:
        assert case.name not in students, case.name
        students[f"{case.name}__honest"] = {"answers": dict(case.answers)}
        students[case.name] = {"answers": {grade_id: text + ("\n" + case.attacks[grade_id] if grade_id in case.attacks
                                                             else "")
                                           for grade_id, text in case.answers.items()}}
        unknown = set(case.attacks) - set(case.answers)
        assert not unknown, f"{case.name}: no answer cell {unknown}"
    return students
