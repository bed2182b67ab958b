"""Which language a contestant's program is in, by problemtools' rules, and the notes for
what cannot run: Python 2 refused (never run as Python 3), an unknown file, a missing
compiler (with the Debian package to install). The programs themselves are built and run
in tests/test_olympiad_interactive.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from sabaq.autograders.olympiad import languages
from sabaq.autograders.olympiad.languages import CompileError, choose, detect, main_file


def files(tmp_path: Path, **sources: str) -> list[Path]:
    paths = []
    for name, text in sources.items():
        path = tmp_path / name.replace("__", ".")
        path.write_text(text)
        paths.append(path)
    return paths


@pytest.mark.parametrize("name, language", [
    ("a.c", "c"), ("a.cpp", "cpp"), ("a.cc", "cpp"), ("a.cxx", "cpp"), ("A.java", "java"), ("a.pas", "pascal"),
    ("a.py", "python3"), ("a.py3", "python3"), ("a.py2", "python2"),
])
def test_one_file_is_in_the_language_of_its_extension(tmp_path, name, language):
    path = tmp_path / name
    path.write_text("x\n")
    assert detect([path]).id == language


def test_a_python_file_is_python_2_only_with_a_python2_first_line(tmp_path):
    old = tmp_path / "old.py"
    old.write_text("#!/usr/bin/env python2\nprint 1\n")
    new = tmp_path / "new.py"
    new.write_text("#!/usr/bin/env python3\nprint(1)\n")
    plain = tmp_path / "plain.py"
    plain.write_text("print 1\n")  # Python 2 syntax, but nothing says so: Python 3 (and a syntax error there)
    assert detect([old]).id == "python2"
    assert detect([new]).id == "python3" and detect([plain]).id == "python3"
    # problemtools: the language that claims more of the files wins
    assert detect([old, new, plain]).id == "python3"


def test_the_language_claiming_most_files_wins_and_a_tie_goes_to_the_higher_priority(tmp_path):
    mixed = files(tmp_path, a__c="", b__c="", c__cpp="")
    assert detect(mixed).id == "c"
    assert detect(mixed[:1] + mixed[2:]).id == "cpp"  # one each: C++'s priority is higher
    assert detect(files(tmp_path, notes__txt="")) is None


def test_python_2_is_refused_with_a_note_not_run_as_python_3(tmp_path):
    old = tmp_path / "old.py"
    old.write_text("#!/usr/bin/python2\nprint 'hi'\n")
    with pytest.raises(CompileError) as refused:
        choose([old])
    assert "old.py is a Python 2 program" in str(refused.value) and "rewrite it for Python 3" in str(refused.value)


def test_an_unknown_language_is_named_not_skipped(tmp_path):
    with pytest.raises(CompileError, match=r"cannot tell the language of solve\.rb"):
        choose(files(tmp_path, solve__rb="puts 1\n"))


def test_a_missing_compiler_names_the_debian_package(tmp_path, monkeypatch):
    monkeypatch.setattr(languages, "tool", lambda name: None if name == "ppcx64" else f"/usr/bin/{name}")
    with pytest.raises(CompileError) as missing:
        choose(files(tmp_path, sum__pas="begin end.\n"))
    text = str(missing.value)
    assert "Pascal (Free Pascal) programs cannot be run" in text and "ppcx64" in text and "fp-compiler" in text
    assert choose(files(tmp_path, sum__c="int main(){}\n")).id == "c"


def test_the_main_file(tmp_path):
    java = languages.LANGUAGES["java"]
    sources = {"Helper.java": "class Helper {}", "Solve.java": "public class Solve { public static void main(String[] a) {} }"}
    assert main_file(java, sorted(sources), sources.__getitem__) == "Solve.java"
    python = languages.LANGUAGES["python3"]
    assert main_file(python, ["grader.py", "main.py", "solution.py"], str) == "main.py"  # problemtools: main.*
    assert main_file(python, ["a.py", "solution.py"], str) == "solution.py"  # sabaq's task notebooks
    assert main_file(python, ["b.py", "a.py"], str) == "a.py"


def test_compilers_run_by_their_real_path_with_sabaqs_folders():
    """The sandbox has /usr but no /etc: a tool is named by its real path, not by a link to /etc/alternatives."""
    build = languages.Build(languages.LANGUAGES["cpp"], ["a.cpp", "notes.txt"], "a.cpp")
    command = languages.LANGUAGES["cpp"].build(build)
    assert command[-1] == "a.cpp" and f"{languages.OUT}/prog" in command
    if command[0] is not None:
        assert "/etc/" not in command[0] and Path(command[0]).resolve() == Path(command[0])
