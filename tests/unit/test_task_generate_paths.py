"""`sabaq task generate` on a package someone else wrote: its test and group names, and
the lines of generators/generated.txt, become paths, so they pass sabaq.archive's
allow-list; and nothing is written or deleted outside the package, not even through a
link planted in it (issue 14: the service used to run this as root)."""

from __future__ import annotations

import pytest

from sabaq.autograders.olympiad.scaffold import generate, new
from sabaq.errors import Invalid
from sabaq.kattis.package import PackageError


@pytest.fixture
def package(tmp_path):
    """A fresh package skeleton, and a folder beside it that must stay as it is."""
    root = new("sum", tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.in").write_text("untouched")
    (outside / "victim.ans").write_text("untouched")
    return root, outside


def untouched(outside) -> bool:
    return sorted(p.name for p in outside.iterdir()) == ["victim.ans", "victim.in"]


@pytest.mark.parametrize("line", [
    "../../outside/x: [secret, --seed, '1']",  # a test name with a parent
    "'..': [secret]",
    "'-x': [secret]",
    "'a/b': [secret]",
    "x: ['../../outside']",  # a group outside data/
    "x: [secret/../../../outside]",
    "x: ['{outside}']",  # an absolute one
    "x: [secret/.., --seed, '1']",
])
def test_names_that_leave_the_package_are_refused(package, line):
    root, outside = package
    (root / "generators" / "generators.yaml").write_text(line.format(outside=outside) + "\n")
    with pytest.raises(Invalid) as err:
        generate(root, out=lambda *_: None)
    assert "not allowed" in str(err.value)
    assert untouched(outside) and not (root / "generators" / "generated.txt").exists()
    assert not list(root.parent.glob("*.in")) and not list((root / "data").glob("*.in"))


@pytest.mark.parametrize("text", ["- a list\n", "x: secret\n", "x: []\n"])
def test_a_malformed_spec_says_what_it_should_be(package, text):
    root, _ = package
    (root / "generators" / "generators.yaml").write_text(text)
    with pytest.raises(PackageError, match="small-1: \\[secret"):
        generate(root, out=lambda *_: None)


@pytest.mark.parametrize("line", ["../../outside/victim", "secret/../../../outside/victim", "{outside}/victim", "victim"])
def test_manifest_lines_cannot_delete_outside_the_package(package, line):
    """Tests dropped from the spec are deleted by the names generated.txt lists."""
    root, outside = package
    (root / "generators" / "generated.txt").write_text(f"secret/small-1\n{line.format(outside=outside)}\n")
    with pytest.raises((Invalid, PackageError)):
        generate(root, out=lambda *_: None)
    assert untouched(outside)


def test_a_link_planted_in_the_package_is_not_followed(package):
    root, outside = package
    (root / "data" / "secret" / "testdata.yaml").unlink()
    (root / "data" / "secret").rmdir()
    (root / "data" / "secret").symlink_to(outside)
    (root / "generators" / "generated.txt").write_text("secret/victim\n")  # dropped: would be deleted
    with pytest.raises(Invalid) as err:
        generate(root, out=lambda *_: None)
    assert err.value.code == "not_followed"
    assert untouched(outside)
    (root / "generators" / "generated.txt").unlink()  # no deletion: the first test would be written there
    with pytest.raises(Invalid):
        generate(root, out=lambda *_: None)
    assert untouched(outside)


def test_a_linked_manifest_is_not_read_or_written_through(package):
    root, outside = package
    (root / "generators" / "generated.txt").symlink_to(outside / "victim.in")
    with pytest.raises(Invalid):
        generate(root, out=lambda *_: None)
    assert (outside / "victim.in").read_text() == "untouched"


def test_a_new_package_is_one_folder(tmp_path):
    for name in ("../sum", "a/b", "..", "-sum"):
        with pytest.raises(Invalid):
            new(name, tmp_path / "tasks")
    assert not (tmp_path / "sum").exists() and not (tmp_path / "tasks").exists()
