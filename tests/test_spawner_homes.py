"""The spawner writes each person's Jupyter settings into their home at every start of
their server, and it runs as root. A student who swaps ~/.jupyter for a link to another
folder while it does so (a loop, racing the spawner's checks) must not make root create
files there: aimed at /opt/sabaq/venv/etc/jupyter it would configure every user's server
(issue 14). The spawner's preparation of a home runs here directly, for a real system
account, against a loop run as that account.

Needs root (the spawner makes system accounts); CI runs the suite as root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from sabaq.hub.jupyterhub.spawner import SabaqSpawner

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the spawner makes system accounts (CI is root)")

ROUNDS, SECONDS = 30, 10  # at least so many starts, for at least so long
SWAPPER = """
import ctypes, os, sys
home, outside = sys.argv[1:]
os.chdir(home)
os.symlink(outside, ".jupyter-link")
renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
while True:  # swap ~/.jupyter (a folder) and a link to outside, atomically (RENAME_EXCHANGE)
    renameat2(-100, b".jupyter", -100, b".jupyter-link", 2)
"""


@pytest.fixture
def spawner():
    """A spawner for a teacher of "alg8", homes in a folder of its own (reachable by the
    account, as /home is); the account and the homes are removed afterwards."""
    homes = Path(tempfile.mkdtemp(prefix="sabaq-homes-"))
    homes.chmod(0o755)
    user = SimpleNamespace(name=f"race{os.getpid()}", groups=[SimpleNamespace(name="formgrade-alg8")])
    made = SabaqSpawner(user=user, home_root=str(homes), user_prefix="sqtest-")
    try:
        yield made
    finally:
        subprocess.run(["userdel", made.system_username], capture_output=True, check=False)
        shutil.rmtree(homes, ignore_errors=True)


def test_swapping_the_jupyter_folder_for_a_link_does_not_redirect_the_spawner(spawner, tmp_path):
    outside = tmp_path / "outside"  # root's: only a write as root could put files here
    outside.mkdir()
    home = Path(spawner._prepare_home())  # makes the account and its home
    account = pwd.getpwnam(spawner.system_username)
    assert (home / ".jupyter" / "nbgrader_config.py").stat().st_uid == account.pw_uid
    swapper = subprocess.Popen([sys.executable, "-I", "-c", SWAPPER, str(home), str(outside)], cwd="/",
                               user=account.pw_uid, group=account.pw_gid, extra_groups=[])
    try:
        rounds, deadline = 0, time.monotonic() + SECONDS
        while rounds < ROUNDS or time.monotonic() < deadline:
            try:
                spawner._prepare_home()
            except OSError:  # the loop may make a start fail; it must not make it write elsewhere
                pass
            assert not any(outside.iterdir()), f"written outside in round {rounds}: {list(outside.iterdir())}"
            rounds += 1
    finally:
        swapper.kill()
        swapper.wait()
    assert list(outside.iterdir()) == []
    if (home / ".jupyter").is_symlink():  # the loop stopped with the link in place
        (home / ".jupyter").unlink()
        (home / ".jupyter-link").rename(home / ".jupyter")
    else:
        (home / ".jupyter-link").unlink()
    spawner._prepare_home()  # and without the loop the settings are written, as the account
    for name in ("jupyter_server_config.json", "nbgrader_config.py", "labconfig/page_config.json"):
        info = os.lstat(home / ".jupyter" / name)
        assert info.st_uid == account.pw_uid and info.st_gid == account.pw_gid, name
    assert (home / "alg8" / "nbgrader_config.py").read_text().endswith("course_id = 'alg8'\n")
