"""Imports sabaq puts off (see sabaq.lazy) still work when they are used."""

from __future__ import annotations

import subprocess
import sys

CHECK = r"""
import io, os, sys, tarfile, tempfile, zipfile
import sabaq
import nbgrader.utils as utils
assert "setuptools" not in sys.modules and "pkg_resources" not in sys.modules, "imported at start"

work = tempfile.mkdtemp()
with zipfile.ZipFile(os.path.join(work, "ps1.zip"), "w") as archive:
    archive.writestr("ps1/answers.ipynb", "{}")
data = "Жауап".encode()
with tarfile.open(os.path.join(work, "ps2.tar.gz"), "w:gz") as archive:
    info = tarfile.TarInfo("ps2/notes.txt")
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))
for name in ("ps1.zip", "ps2.tar.gz"):
    out = os.path.join(work, "out-" + name)
    os.mkdir(out)
    utils.unzip(os.path.join(work, name), out, zip_ext=[".zip", ".gz"], tree=True)
    print(name, sorted(os.listdir(out)))
assert "setuptools" in sys.modules  # imported when first used

from setuptools.archive_util import UnrecognizedFormat
with open(os.path.join(work, "bad.zip"), "w") as fh:
    fh.write("not an archive")
os.mkdir(os.path.join(work, "out-bad"))
try:
    utils.unzip(os.path.join(work, "bad.zip"), os.path.join(work, "out-bad"), zip_ext=[".zip"])
except UnrecognizedFormat as e:
    print("refused", type(e).__name__)
"""


def test_nbgrader_unpacks_archives_with_setuptools_imported_on_first_use():
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["ps1.zip ['ps1']", "ps2.tar.gz ['ps2']", "refused UnrecognizedFormat"]
