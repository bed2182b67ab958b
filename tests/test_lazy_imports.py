"""Imports sabaq puts off (see sabaq.lazy) still work when they are used. Each check is a fresh
interpreter (what is imported at start is only seen there): a few seconds each, so not in the
quick tier (tests/unit)."""

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


STARTS_LEAN = r"""
import asyncio, sys, tempfile
from pathlib import Path
import httpx
from sabaq.settings import Settings, ensure_secrets
from sabaq.hub.service.app import create_app
tmp = Path(tempfile.mkdtemp())
ensure_secrets(tmp)
app = create_app(Settings.load(data_dir=tmp, environ={}))
assert "jupyterhub.services.auth" not in sys.modules, "imported at start"

async def login():
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sabaq") as c:
        return await c.get("/services/sabaq/oauth_login")

r = asyncio.run(login())
print(r.status_code, r.headers["location"].split("?")[0], "jupyterhub.services.auth" in sys.modules)
"""


def test_the_service_starts_without_jupyterhubs_auth_module_and_a_login_still_goes_to_the_hub():
    done = subprocess.run([sys.executable, "-c", STARTS_LEAN], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["302", "/hub/api/oauth2/authorize", "True"]
