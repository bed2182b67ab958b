"""problemtools' grading: how test verdicts become a group's and the problem's verdict and score.

A package's ``data/`` is a tree of groups. Each group's settings are its ``testdata.yaml``
laid over its parent's (and the legacy ``grading:`` keys of problem.yaml over both), as
problemtools' ``model/testdata.py`` merges them. A group judges its items (tests and
subgroups, in name order) until one is not AC when ``on_reject: break``, or all of them
with ``continue``; then Kattis's default grader turns the items' verdicts and scores into
the group's (``support/default_grader``): the worst error (or the first, or AC when
``accept_if_any_accepted`` and some item is AC, or always AC), and the sum of the scores
(or their min, max or average); ``ignore_sample`` at the top counts only the secret group.
A test scores ``accept_score`` when AC and ``reject_score`` otherwise, unless the output
validator gave it a score. sabaq's judge and ``sabaq task verify`` both grade with this,
so they cannot disagree with ``verifyproblem`` about a verdict.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEFAULTS = {
    "on_reject": "break",
    "grading": "default",
    "grader_flags": "",
    "accept_score": 1.0,
    "reject_score": 0.0,
    "range": "-inf +inf",
    "input_validator_flags": "",
    "output_validator_flags": "",
}
WORST_FIRST = ["JE", "IF", "RTE", "MLE", "TLE", "OLE", "WA", "PE", "AC"]  # the default grader's order
SCORE_AGGREGATORS: dict[str, Callable[[list[float]], float]] = {
    "sum": sum, "min": min, "max": max, "avg": lambda s: sum(s) / len(s)}


@dataclass
class TestCase:
    __test__ = False  # not a pytest test class

    name: str  # path below data/ without the extension, e.g. secret/g1/03
    input: Path
    answer: Path


@dataclass
class Node:
    """A group of the data tree: its merged settings and its items (tests and subgroups)."""

    name: str  # "data", "sample", "secret", "secret/g1" ...
    config: dict
    items: list[TestCase | Node] = field(default_factory=list)
    root: bool = False

    @property
    def flags(self) -> list[str]:
        return str(self.config.get("grader_flags") or "").split()

    @property
    def tests(self) -> list[TestCase]:
        return [i for i in self.items if isinstance(i, TestCase)]

    @property
    def subgroups(self) -> list[Node]:
        return [i for i in self.items if isinstance(i, Node)]

    def walk(self):
        """Every group of the tree, parents before their children."""
        yield self
        for sub in self.subgroups:
            yield from sub.walk()

    @property
    def score_range(self) -> tuple[float, float]:
        try:
            low, high = map(float, str(self.config.get("range")).split())
            return low, high
        except ValueError:
            return -math.inf, math.inf


def load_tree(data: Path, legacy_grading: dict | None = None, scoring: bool = True) -> Node:
    """The group tree under ``data/`` with every group's settings merged as problemtools does."""
    legacy_grading = legacy_grading or {}

    def load(folder: Path, parent: dict, root: bool) -> Node:
        own = folder / "testdata.yaml"
        config = dict((yaml.safe_load(own.read_text(encoding="utf-8")) or {}) if own.is_file() else {})
        for key, value in parent.items():
            config.setdefault(key, value)
        for key in ("accept_score", "reject_score", "range"):
            if legacy_grading.get(key) is not None:
                config[key] = legacy_grading[key]
        on_reject = {"first_error": "break", "grade": "continue"}.get(legacy_grading.get("on_reject"))
        if on_reject:
            config["on_reject"] = on_reject
        for key, value in DEFAULTS.items():
            config.setdefault(key, value)
        if not scoring:  # pass-fail: a test's score means nothing
            config["accept_score"], config["reject_score"] = 1.0, 0.0
        name = "data" if root else str(folder.relative_to(data))
        node = Node(name, config, root=root)
        for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
            if entry.is_dir():
                node.items.append(load(entry, config, False))
            elif entry.suffix == ".ans" and entry.with_suffix(".in").is_file():
                node.items.append(TestCase(str(entry.relative_to(data).with_suffix("")),
                                           entry.with_suffix(".in"), entry))
        return node

    return load(data, {}, True)


def default_grader(results: list[tuple[str, float]], flags: list[str]) -> tuple[str, float]:
    """Kattis's default grader: (verdict, score) of a group from its items' (verdict, score)."""
    if not results:
        return "AC", 0.0
    if "ignore_sample" in flags:
        results = results[-1:]
    verdicts, scores = [v for v, _ in results], [s for _, s in results]
    aggregate_verdict = "worst_error"
    aggregate_score = "sum"
    for flag in flags:
        if flag in ("worst_error", "no_errors", "first_error", "always_accept"):
            aggregate_verdict = flag
        if flag in SCORE_AGGREGATORS:
            aggregate_score = flag
    if ("accept_if_any_accepted" in flags and "AC" in verdicts) or aggregate_verdict == "always_accept":
        verdict = "AC"
    elif aggregate_verdict == "first_error":
        verdict = next((v for v in verdicts if v != "AC"), "AC")
    else:
        verdict = min(verdicts + ["AC"], key=lambda v: WORST_FIRST.index(v) if v in WORST_FIRST else 0)
    return verdict, float(SCORE_AGGREGATORS[aggregate_score](scores))


@dataclass
class Outcome:
    verdict: str
    score: float
    groups: dict[str, tuple[str, float]]  # every group judged: its verdict and score


def grade(tree: Node, test_result: Callable[[TestCase], tuple[str, float | None] | None]) -> Outcome:
    """The problem's verdict and score; ``test_result`` gives a test's verdict and validator
    score, or None when the test was not run (which, as with ``on_reject: break``, ends its group)."""
    groups: dict[str, tuple[str, float]] = {}

    def judge(node: Node) -> tuple[str, float] | None:
        results = []
        for item in node.items:
            if isinstance(item, Node):
                result = judge(item)
                if result is None:
                    continue
            else:
                got = test_result(item)
                if got is None:
                    break
                verdict, score = got
                if score is None:
                    score = float(node.config["accept_score"] if verdict == "AC" else node.config["reject_score"])
                result = (verdict, score)
            results.append(result)
            if result[0] != "AC" and node.config["on_reject"] == "break":
                break
        if not results:
            return None
        groups[node.name] = default_grader(results, node.flags)
        return groups[node.name]

    verdict, score = judge(tree) or ("AC", 0.0)
    return Outcome(verdict, score, groups)


def best_score(tree: Node) -> float:
    """The score of a submission that passes every test: the top of the root's range when it
    declares one, else what the grading gives when every test is AC."""
    _, high = tree.score_range
    if math.isfinite(high):
        return high
    return grade(tree, lambda test: ("AC", None)).score
