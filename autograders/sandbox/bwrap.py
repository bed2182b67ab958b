"""Where students' code runs: bubblewrap sandboxes, all built by ``bwrap_command``.

Two kinds use it: the grading zygote that runs notebooks (below) and each run
of an olympiad program (see ``sabaq.autograders.olympiad.run``, which adds its
own limits, a uid leased for each program it judges, and ``confine.py``'s
measures from outside). The grading sandbox sees the system's
programs and sabaq's Python environment read-only, a private /tmp, and one
folder of scratch copies (each notebook's own folder is 0700 and owned by the
uid that notebook runs as). It has no network, no /home, no /root, no data
directory, no solutions and no tokens: the environment is cleared. Run as
root, the zygote inside may only switch uids (to drop privileges) and kill
processes; every other capability is dropped. Run without root (a Kubernetes
worker pod), bubblewrap makes a user namespace of one uid and notebooks run
one at a time. If bubblewrap cannot set this up, grading
stops with a message, unless the settings say none-unsafe.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sabaq.errors import SabaqError
from sabaq.i18n import N_
from sabaq.paths import package_dirs

SCRATCH = "/grade"
SAFE_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HOME": "/tmp",
    "PYTHONDONTWRITEBYTECODE": "1",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}


class SandboxError(SabaqError, RuntimeError):
    """The sandbox cannot be set up; grading must not go on without it."""

    status = 503
    code = "sandbox_unavailable"


def _package_dirs() -> list[str]:
    """Folders sabaq's code is imported from (site-packages, or a checkout when
    installed in editable mode): the sandbox needs them read-only."""
    dirs = {str(d.resolve()) for d in package_dirs()}
    prefix = str(Path(sys.prefix).resolve())
    return sorted(d for d in dirs if not d.startswith(prefix + os.sep))


def passwd_text(uids: list[int]) -> str:
    lines = ["root:x:0:0:root:/root:/usr/sbin/nologin"]
    for i, uid in enumerate(uids):
        lines.append(f"grader{i}:x:{uid}:{uid}:sabaq grader:/tmp:/usr/sbin/nologin")
    return "\n".join(lines) + "\n"


def group_text(uids: list[int]) -> str:
    lines = ["root:x:0:"]
    for i, uid in enumerate(uids):
        lines.append(f"grader{i}:x:{uid}:")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Bind:
    """A host folder the sandbox sees at ``target``: read-only unless ``writable``."""

    source: str
    target: str
    writable: bool = False


def bwrap_command(command: list[str], env: dict[str, str], *, binds: Sequence[Bind], chdir: str,
                  switch_uids: bool, etc_dir: str | None = None, python_env: bool = False,
                  dirs: Sequence[str] = (), tmp_mb: int | None = None) -> list[str]:
    """The one way sabaq runs untrusted code: ``command`` in a sandbox of its own.

    Always: new PID, network, IPC, UTS and cgroup namespaces (no network at all), the
    system's /usr read-only, a private /tmp (with ``dirs`` made in it), ``binds`` and
    nothing else of the host's files, no environment but ``env``, no capabilities but
    what ``switch_uids`` needs.

    ``switch_uids``: bubblewrap runs as root and the process inside may switch to the
    uids ``etc_dir`` lists (CAP_SETUID, CAP_SETGID, CAP_KILL kept, and CAP_SYS_PTRACE to
    read the memory use of its processes, which are not dumpable); otherwise the
    sandbox is a user namespace of the caller's one uid, which cannot make another.
    ``etc_dir``: a folder with ``passwd`` and ``group`` for /etc (no /etc without it).
    ``python_env``: sabaq's Python environment and packages, read-only (the grading
    zygote runs in them; judged programs use the system's Python).
    ``tmp_mb``: the most the private /tmp may hold (unlimited without it, up to memory).
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxError(N_("bubblewrap is not installed, so untrusted programs cannot be run safely. "
                              "Install it (apt-get install bubblewrap)."))
    cmd = [
        bwrap, "--die-with-parent", "--new-session",
        "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--hostname", "grader",
        "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
    ]
    if python_env:
        cmd += _python_env()
    if etc_dir is not None:
        cmd += [
            "--dir", "/etc",
            "--ro-bind", f"{etc_dir}/passwd", "/etc/passwd",
            "--ro-bind", f"{etc_dir}/group", "/etc/group",
            "--ro-bind-try", "/etc/localtime", "/etc/localtime",
            "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
            "--ro-bind-try", "/etc/alternatives", "/etc/alternatives",
            "--ro-bind-try", "/etc/fonts", "/etc/fonts",
            "--ro-bind-try", "/etc/ssl/certs", "/etc/ssl/certs",
        ]
    cmd += ["--proc", "/proc", "--dev", "/dev"]
    if tmp_mb is not None:
        cmd += ["--size", str(tmp_mb << 20)]
    cmd += ["--tmpfs", "/tmp"]
    for folder in dirs:
        cmd += ["--dir", folder]
    for bind in binds:
        cmd += ["--bind" if bind.writable else "--ro-bind", bind.source, bind.target]
    cmd += ["--chdir", chdir, "--clearenv"]
    if switch_uids:
        # CAP_SYS_PTRACE: the zygote reads its notebooks' memory use, and they are not dumpable
        # (their own /proc/self/mem closed to them); a notebook's process, switched to its
        # uid, keeps none of these
        cmd += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_KILL",
                "--cap-add", "CAP_SYS_PTRACE"]
    else:  # a user namespace of one uid: nothing to switch to, no capabilities outside
        cmd += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return cmd + ["--"] + command


def _python_env() -> list[str]:
    """Mounts of sabaq's Python environment (and a checkout it is installed from)."""
    venv = str(Path(sys.prefix).resolve())
    mounts = [venv, *_package_dirs()]
    cmd = []
    # Folders bwrap makes on the way to a mount are root-only; the notebooks'
    # uids must be able to walk through them.
    parents = sorted({str(p) for m in mounts for p in Path(m).parents if str(p) not in ("/", "/usr")})
    for parent in parents:
        cmd += ["--perms", "0755", "--dir", parent]
    for mount in mounts:
        cmd += ["--ro-bind", mount, mount]
    if Path(sys.prefix) != Path(venv):
        cmd += ["--symlink", venv, sys.prefix]
    return cmd


def check_bubblewrap() -> None:
    """Fail closed, with what to do, when bubblewrap cannot make a sandbox here."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxError(N_(
            "bubblewrap is not installed, so students' code cannot be sandboxed. "
            "Install it (apt-get install bubblewrap), or set [grading] sandbox = "
            '"none-unsafe" to grade without a sandbox (students could read solutions).'
        ))
    probe = [bwrap, "--die-with-parent", "--unshare-pid", "--unshare-net", "--ro-bind", "/usr", "/usr",
             "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
             "--proc", "/proc", "--dev", "/dev"]
    if os.geteuid() != 0:
        probe += ["--unshare-user"]
    probe += ["--", "/usr/bin/true"]
    proc = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise SandboxError(N_(
            "bubblewrap could not create a sandbox here ({detail}). "
            "As root the kernel must allow namespaces; without root it must also allow unprivileged "
            "user namespaces (in Kubernetes: a seccomp profile that permits them). "
            'To grade anyway without isolation set [grading] sandbox = "none-unsafe".'
        ), detail=proc.stderr.strip() or proc.returncode)
