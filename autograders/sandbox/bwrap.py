"""Where students' code runs: a bubblewrap sandbox around the grading zygote.

The sandbox sees the system's programs and sabaq's Python environment read-only,
a private /tmp, and one folder of scratch copies (each notebook's own folder is
0700 and owned by the uid that notebook runs as). It has no network, no
/home, no /root, no data directory, no solutions and no tokens: the environment
is cleared. Run as root, the zygote inside may only switch uids (to drop
privileges) and kill processes; every other capability is dropped. Run without
root (a Kubernetes worker pod), bubblewrap makes a user namespace of one uid
and notebooks run one at a time. If bubblewrap cannot set this up, grading
stops with a message, unless the settings say none-unsafe.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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


def bwrap_command(scratch_root: str, etc_dir: str, command: list[str], env: dict[str, str],
                  as_root: bool = True) -> list[str]:
    bwrap = shutil.which("bwrap") or "/usr/bin/bwrap"
    venv = str(Path(sys.prefix).resolve())
    mounts = [venv, *_package_dirs()]
    cmd = [
        bwrap, "--die-with-parent", "--new-session",
        "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--hostname", "grader",
        "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
    ]
    # Folders bwrap makes on the way to a mount are root-only; the notebooks'
    # uids must be able to walk through them.
    parents = sorted({str(p) for m in mounts for p in Path(m).parents if str(p) not in ("/", "/usr")})
    for parent in parents:
        cmd += ["--perms", "0755", "--dir", parent]
    for mount in mounts:
        cmd += ["--ro-bind", mount, mount]
    if Path(sys.prefix) != Path(venv):
        cmd += ["--symlink", venv, sys.prefix]
    cmd += [
        "--dir", "/etc",
        "--ro-bind", f"{etc_dir}/passwd", "/etc/passwd",
        "--ro-bind", f"{etc_dir}/group", "/etc/group",
        "--ro-bind-try", "/etc/localtime", "/etc/localtime",
        "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
        "--ro-bind-try", "/etc/alternatives", "/etc/alternatives",
        "--ro-bind-try", "/etc/fonts", "/etc/fonts",
        "--ro-bind-try", "/etc/ssl/certs", "/etc/ssl/certs",
        "--proc", "/proc", "--dev", "/dev",
        "--tmpfs", "/tmp", "--dir", "/tmp/matplotlib",
        "--bind", scratch_root, SCRATCH,
        "--chdir", SCRATCH,
        "--clearenv",
    ]
    if as_root:
        cmd += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_KILL"]
    else:  # a user namespace of one uid: nothing to switch to, no capabilities outside
        cmd += ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    return cmd + ["--"] + command


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
