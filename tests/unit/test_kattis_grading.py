"""problemtools' grading semantics in sabaq.kattis.grading: the default grader's flags (checked
against problemtools' own default_grader), testdata.yaml inheritance, on_reject and the legacy
problem.yaml grading keys, the time limit rule, and both package formats' settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sabaq.kattis.grading import default_grader, grade, load_tree
from sabaq.kattis.package import load

problemtools = pytest.importorskip("problemtools")
PROBLEMTOOLS_GRADER = Path(problemtools.__file__).parent / "support" / "default_grader"

CASES = [
    ([("AC", 20), ("TLE", 0), ("AC", 30)], ""),
    ([("AC", 20), ("TLE", 0), ("WA", 0)], "first_error"),
    ([("AC", 20), ("TLE", 0), ("RTE", 0)], "worst_error"),
    ([("WA", 0), ("AC", 30)], "accept_if_any_accepted sum"),
    ([("WA", 0), ("TLE", 0)], "accept_if_any_accepted"),
    ([("AC", 20), ("AC", 10)], "min"),
    ([("AC", 20), ("AC", 10)], "max"),
    ([("AC", 20), ("AC", 10)], "avg"),
    ([("WA", 0), ("AC", 10)], "always_accept"),
    ([("WA", 2), ("AC", 10)], "ignore_sample"),
    ([("AC", 2), ("MLE", 0)], "ignore_sample sum"),
]


@pytest.mark.parametrize(("results", "flags"), CASES)
def test_the_default_grader_agrees_with_problemtools(results, flags):
    grader_input = "".join(f"{v} {s}\n" for v, s in results)
    proc = subprocess.run([sys.executable, str(PROBLEMTOOLS_GRADER), *flags.split()], input=grader_input,
                          capture_output=True, text=True, check=True)
    verdict, score = proc.stdout.split()
    assert default_grader([(v, float(s)) for v, s in results], flags.split()) == (verdict, float(score))


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


SUBTASKS = {
    "problem.yaml": "name: Subtasks\ntype: scoring\nlimits:\n  memory: 256\n",
    "data/testdata.yaml": "on_reject: continue\ngrader_flags: ignore_sample sum\nrange: 0 100\n",
    "data/sample/testdata.yaml": "accept_score: 0\ngrader_flags: first_error\n",
    "data/sample/1.in": "1\n", "data/sample/1.ans": "1\n",
    "data/secret/testdata.yaml": "on_reject: continue\ngrader_flags: accept_if_any_accepted sum\n",
    "data/secret/1-small/testdata.yaml": "accept_score: 40\ngrader_flags: min\n",
    "data/secret/1-small/a.in": "1\n", "data/secret/1-small/a.ans": "1\n",
    "data/secret/1-small/b.in": "1\n", "data/secret/1-small/b.ans": "1\n",
    "data/secret/2-large/testdata.yaml": "accept_score: 60\ngrader_flags: min\n",
    "data/secret/2-large/a.in": "1\n", "data/secret/2-large/a.ans": "1\n",
    "data/secret/2-large/b.in": "1\n", "data/secret/2-large/b.ans": "1\n",
}


def test_subtasks_give_a_partial_submission_ac_with_its_groups_points(tmp_path):
    package = load(write(tmp_path / "subtasks", SUBTASKS))
    assert package.max_score == 100
    assert [(g.name, g.points, g.on_reject) for g in package.groups] == [
        ("sample", 0.0, "continue"), ("secret/1-small", 40.0, "continue"), ("secret/2-large", 60.0, "continue")]
    # settings are inherited: the subtasks say nothing of on_reject, so they continue like secret/
    small = next(n for n in package.tree.walk() if n.name == "secret/1-small")
    assert small.config["on_reject"] == "continue" and small.flags == ["min"]

    def slow_on_large(test):
        return ("TLE", None) if "large" in test.name else ("AC", None)

    partial = package.outcome(slow_on_large)
    assert (partial.verdict, partial.score) == ("AC", 40)
    assert partial.groups["secret/2-large"] == ("TLE", 0.0)
    # a sample failure is ignored (ignore_sample), and nothing passed is TLE with nothing
    assert package.outcome(lambda t: ("WA", None) if t.name.startswith("sample") else ("AC", None)).score == 100
    nothing = package.outcome(lambda t: ("TLE", None))
    assert (nothing.verdict, nothing.score) == ("TLE", 0)


def test_on_reject_break_stops_a_group_and_a_test_not_run_ends_it(tmp_path):
    files = dict(SUBTASKS)
    files["data/testdata.yaml"] = "grader_flags: sum\nrange: 0 100\n"  # on_reject: break by default
    files["data/secret/testdata.yaml"] = "grader_flags: sum\n"
    package = load(write(tmp_path / "p", files))
    asked = []

    def record(test):
        asked.append(test.name)
        return ("WA", None) if test.name == "secret/1-small/a" else ("AC", None)

    outcome = package.outcome(record)
    assert (outcome.verdict, outcome.score) == ("WA", 0)
    assert asked == ["sample/1", "secret/1-small/a"]  # break: neither b nor 2-large is looked at
    # a test the judge did not run (None) ends its group like a break
    assert package.outcome(lambda t: None if t.name == "secret/2-large/b" else ("AC", None)).score == 100


def test_legacy_grading_keys_of_problem_yaml_override_every_group(tmp_path):
    root = write(tmp_path / "legacy", {
        "problem.yaml": "name: L\ntype: scoring\ngrading:\n  on_reject: grade\n  accept_score: 5\n",
        "data/secret/testdata.yaml": "on_reject: break\naccept_score: 1\n",
        "data/secret/a.in": "", "data/secret/a.ans": "", "data/secret/b.in": "", "data/secret/b.ans": ""})
    tree = load_tree(root / "data", {"on_reject": "grade", "accept_score": 5})
    secret = tree.subgroups[0]
    assert secret.config["on_reject"] == "continue" and secret.config["accept_score"] == 5
    outcome = grade(tree, lambda t: ("WA", None) if t.name == "secret/a" else ("AC", None))
    assert (outcome.verdict, outcome.score) == ("WA", 5)  # b was judged after a failed


def test_pass_fail_scores_one_or_nothing(tmp_path):
    package = load(write(tmp_path / "pf", {
        "problem.yaml": "name: P\n", "data/secret/a.in": "", "data/secret/a.ans": "",
        "data/secret/b.in": "", "data/secret/b.ans": ""}))
    assert not package.scoring and package.max_score == 1
    assert package.outcome(lambda t: ("AC", None)).score == 1
    assert (package.outcome(lambda t: ("RTE", None)).verdict, package.outcome(lambda t: ("RTE", None)).score) == \
        ("RTE", 0)


def test_time_limits_follow_problemtools_in_both_formats(tmp_path):
    legacy = load(write(tmp_path / "legacy", {
        "problem.yaml": "name: L\nlimits:\n  time_multiplier: 3\n  time_safety_margin: 1.5\n",
        ".timelimit": "1\n", "data/secret/a.in": "", "data/secret/a.ans": ""}))
    assert (legacy.ac_to_time_limit, legacy.time_limit_to_tle) == (3, 1.5)
    assert legacy.time_limit_from(0.2) == 1 and legacy.time_limit_from(0.34) == 2  # ceil to whole seconds
    assert legacy.time_limit == 1  # .timelimit is what the contest judge uses
    default = load(write(tmp_path / "default", {"problem.yaml": "name: D\n", "data/secret/a.in": "",
                                                "data/secret/a.ans": ""}))
    assert (default.ac_to_time_limit, default.time_limit_to_tle) == (5, 2)  # legacy defaults
    draft = load(write(tmp_path / "draft", {
        "problem.yaml": ("problem_format_version: 2023-07-draft\nname:\n  en: Draft\n  kk: Жоба\n"
                         "type: [scoring]\nlimits:\n  time_limit: 2.5\n  time_multipliers:\n"
                         "    ac_to_time_limit: 4\n    time_limit_to_tle: 1.2\n"),
        "statement/problem.en.md": "# Draft\n", "statement/problem.kk.md": "# Жоба\n",
        "data/secret/a.in": "", "data/secret/a.ans": ""}))
    assert draft.format == "2023-07-draft" and draft.scoring and draft.name == "Draft"
    assert draft.time_limit == 2.5 and draft.time_limit_from(0.1) == 2.5  # the fixed limit wins
    assert (draft.ac_to_time_limit, draft.time_limit_to_tle) == (4, 1.2)
    assert sorted(draft.statements()) == ["en", "kk"]
    plain = load(write(tmp_path / "plain", {"problem.yaml": "name: P\n", "problem_statement/problem.tex": "x",
                                            "problem_statement/problem.ru.tex": "y",
                                            "data/secret/a.in": "", "data/secret/a.ans": ""}))
    assert {k: p.name for k, p in plain.statements().items()} == {"en": "problem.tex", "ru": "problem.ru.tex"}
