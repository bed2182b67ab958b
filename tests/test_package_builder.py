"""Publishing a task whose tests are not built yet runs `sabaq task generate` on a copy of
the package; the service runs as root, so that process runs as an unprivileged account
(sabaq-tasks, made on first use), which owns the copy and nothing else (issue 14).

Needs root (the account is a system account); CI runs the suite as root.
"""

from __future__ import annotations

import os
import pwd
import stat
import tempfile
from pathlib import Path

import pytest

from sabaq.autograders.olympiad.scaffold import new
from sabaq.hub.domain import olympiad

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the builder is a system account (CI is root)")


def test_tests_are_generated_as_the_unprivileged_builder(tmp_path):
    root = new("sum", tmp_path)
    (root / "generators" / "gen.py").write_text("import os\nprint(os.getuid(), os.getgid())\n")
    # more runs than a uid may have processes (32): none of them is left behind counting against it
    (root / "generators" / "generators.yaml").write_text("who: [secret]\n" + "".join(
        f"t{i}: [secret, --seed, '{i}']\n" for i in range(40)))
    (root / "input_validators" / "validate.py").write_text("import sys\nsys.exit(42)\n")
    (root / "submissions" / "accepted" / "solution.py").write_text("print(sum(map(int, input().split())))\n")
    with tempfile.TemporaryDirectory(prefix="sabaq-publish-") as tmp:  # as publish makes it: root's, 0700
        check_build(root, Path(tmp))


def check_build(root: Path, scratch: Path) -> None:
    ready = olympiad._with_tests(root, scratch)

    builder = pwd.getpwnam(olympiad.BUILDER)
    assert builder.pw_uid != 0 and builder.pw_gid != 0
    test = ready / "data" / "secret" / "who.in"
    assert test.read_text().split() == [str(builder.pw_uid), str(builder.pw_gid)]  # the generator ran as it
    assert len(list(test.parent.glob("*.ans"))) == 41
    for path in (test, test.with_suffix(".ans"), ready / "generators" / "generated.txt"):
        assert path.stat().st_uid == builder.pw_uid, path  # written by `sabaq task generate` as the builder
    work = ready.parent
    assert work.stat().st_uid == builder.pw_uid and stat.S_IMODE(work.stat().st_mode) == 0o700  # its own
    assert stat.S_IMODE(scratch.stat().st_mode) == 0o711  # passable, not listable
    assert not (root / "data" / "secret" / "who.in").exists()  # the teacher's package is left as it was
    files = olympiad.package_files(ready)
    assert files["data/secret/who.in"] == test.read_bytes() and "generators/gen.py" not in files


def test_without_root_the_service_builds_as_itself(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert olympiad.builder_account() is None
