"""Compiling and running contestants' programs in a bubblewrap sandbox, with limits.

Each run is a fresh process tree under an unprivileged uid, in its own user,
PID, network, IPC and mount namespaces: the system read-only, the program's own
folder read-only, a small private /tmp, no network, no environment but PATH.
The test's input comes on stdin; the answer file never enters the sandbox.
CPU time, wall time, memory, output size and processes are limited; the
outcome is classified as the judge needs it (ok, TLE, MLE, OLE, RTE).
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sabaq.autograders.sandbox.bwrap import Bind, SandboxError, bwrap_command
from sabaq.autograders.sandbox.uids import JUDGE_UIDS, lease
from sabaq.i18n import N_
from sabaq.kattis.package import Program

# the system's Python (Debian's, or the grader image's /usr/local one): only /usr is in the sandbox
PYTHON = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.path.exists(p)), "/usr/bin/python3")
# Runs inside the sandbox as the program's parent and reports what the kernel measured
# for it on descriptor 3: bubblewrap's own process tree hides the program's CPU time.
MEASURE = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execv(sys.argv[1], sys.argv[1:])\n"
    "_, status, ru = os.wait4(pid, 0)\n"
    "os.write(3, ('%d %f %d' % (status, ru.ru_utime + ru.ru_stime, ru.ru_maxrss)).encode())\n"
)
GXX = shutil.which("g++")
SANDBOX = "/sandbox"  # the program's folder, read-only, inside the sandbox
ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}


@dataclass
class RunResult:
    status: str  # ok, tle, mle, ole, rte
    exit_code: int | None
    signal: int | None
    cpu: float
    wall: float
    stderr: str


class CompileError(Exception):
    pass


@contextlib.contextmanager
def judge_uid():
    """A uid no other run on this machine is using now (None when not root): the kernel
    counts processes per uid, so a fork bomb must not use up the budget of a run beside it."""
    if os.getuid() != 0:
        yield None
        return
    with lease(JUDGE_UIDS, 1) as held:
        yield held.uids[0]


def _demote(limits: dict, uid: int | None):
    def preexec():
        os.setsid()
        for kind, value in limits.items():
            resource.setrlimit(kind, (value, value))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)

    return preexec


def sandbox_command(workdir: Path, command: list[str], writable: list[Path] = (), readonly: list[Path] = ()) -> list[str]:
    """``command`` in the sandbox, run from the program's folder (at /sandbox); ``readonly``
    folders are at /data0, /data1 ..., ``writable`` ones at /out0 ... Bubblewrap runs as the
    run's own uid (see ``_demote``), so the sandbox is a user namespace of that one uid."""
    binds = [Bind(str(workdir), SANDBOX),
             *(Bind(str(path), f"/data{i}") for i, path in enumerate(readonly)),
             *(Bind(str(path), f"/out{i}", writable=True) for i, path in enumerate(writable))]
    return bwrap_command(command, ENV, binds=binds, chdir=SANDBOX, switch_uids=False)


def prepare(program: Program, workdir: Path) -> list[str]:
    """Copy and build the program into workdir; the command that runs it inside the sandbox."""
    workdir.mkdir(parents=True, exist_ok=True)
    os.chmod(workdir.parent, 0o755)  # the judge's uid must reach the folder to mount it
    sources = program.sources
    for src in sources:
        shutil.copy(src, workdir / src.name)
    os.chmod(workdir, 0o755)
    for p in workdir.iterdir():
        os.chmod(p, 0o644)
    if program.language == "python":
        main = next((s.name for s in sources if s.name in ("main.py", "solution.py")), sources[0].name)
        check = _run_raw(sandbox_command(workdir, [PYTHON, "-c",
                                                   "import sys, ast; [ast.parse(open(f).read(), f) for f in sys.argv[1:]]",
                                                   *[s.name for s in sources if s.suffix == ".py"]]),
                         stdin=None, stdout=None, limits=_limits(30, 512, 1), wall=60)
        if check.status != "ok":
            raise CompileError(check.stderr.strip().splitlines()[-1] if check.stderr.strip() else "syntax error")
        return [PYTHON, f"{SANDBOX}/{main}"]
    if program.language == "cpp":
        if GXX is None:
            raise CompileError("C++ is not available here: g++ is not installed")
        build = Path(tempfile.mkdtemp(prefix="sabaq-build-"))
        os.chmod(build, 0o777)
        result = _run_raw(sandbox_command(workdir, [GXX, "-O2", "-std=gnu++17", "-o", "/out0/prog",
                                                    *[s.name for s in sources if s.suffix in (".cpp", ".cc", ".cxx")]],
                                          writable=[build]),
                          stdin=None, stdout=None, limits=_limits(60, 2048, 64, processes=64), wall=120)
        if result.status != "ok" or not (build / "prog").exists():
            shutil.rmtree(build, ignore_errors=True)
            raise CompileError(result.stderr.strip()[-2000:] or "compilation failed")
        shutil.copy(build / "prog", workdir / "prog")
        os.chmod(workdir / "prog", 0o755)
        shutil.rmtree(build, ignore_errors=True)
        return [f"{SANDBOX}/prog"]
    raise CompileError(f"unsupported language {program.language}")


def _limits(cpu_seconds: float, memory_mb: int, output_mb: int, processes: int = 32) -> dict:
    return {
        resource.RLIMIT_CPU: int(math.ceil(cpu_seconds)) + 1,
        resource.RLIMIT_AS: memory_mb << 20,
        resource.RLIMIT_FSIZE: output_mb << 20,
        resource.RLIMIT_NPROC: processes,
        resource.RLIMIT_NOFILE: 64,
    }


def _run_raw(cmd: list[str], stdin, stdout, limits: dict, wall: float, measured: bool = False) -> RunResult:
    """Run a sandbox command; with measured=True the command ends in MEASURE's report."""
    with judge_uid() as uid:
        return _run_as(uid, cmd, stdin, stdout, limits, wall, measured)


def _run_as(uid: int | None, cmd: list[str], stdin, stdout, limits: dict, wall: float, measured: bool) -> RunResult:
    err = tempfile.TemporaryFile()
    start = time.monotonic()
    report_r, report_w = os.pipe() if measured else (None, None)

    def preexec():
        _demote(limits, uid)()
        if report_w is not None:
            os.dup2(report_w, 3)

    proc = subprocess.Popen(cmd, stdin=stdin or subprocess.DEVNULL, stdout=stdout or subprocess.DEVNULL,
                            stderr=err, preexec_fn=preexec, pass_fds=(3,) if measured else ())
    if report_w is not None:
        os.close(report_w)
    timed_out = False
    try:
        _, status, usage = _wait4(proc.pid, wall)
    except TimeoutError:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0  # reaped above
    elapsed = time.monotonic() - start
    err.seek(0)
    stderr = err.read(65536).decode("utf-8", "replace")
    err.close()
    cpu = usage.ru_utime + usage.ru_stime
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    if report_r is not None:
        report = os.read(report_r, 200).decode().split()
        os.close(report_r)
        if len(report) == 3:  # the program's own status and CPU time, from inside
            inner = int(report[0])
            cpu = float(report[1])
            code = os.WEXITSTATUS(inner) if os.WIFEXITED(inner) else None
            sig = os.WTERMSIG(inner) if os.WIFSIGNALED(inner) else None
        elif not timed_out:
            sig = sig or signal.SIGKILL  # the measuring parent was killed: the program misbehaved
    if stderr.startswith("bwrap: ") and (report_r is None or len(report) != 3) and not timed_out:
        # the sandbox itself did not start: no verdict on the program, the caller retries or reports
        raise SandboxError(N_("The sandbox could not start: {detail}"), detail=stderr.strip()[:300])
    memory_hit = "MemoryError" in stderr or "bad_alloc" in stderr or "Cannot allocate memory" in stderr
    if timed_out or sig == signal.SIGXCPU or cpu > limits[resource.RLIMIT_CPU] - 1 + 0.05:
        kind = "tle"
    elif sig == signal.SIGXFSZ:
        kind = "ole"
    elif memory_hit:
        kind = "mle"
    elif code == 0 and sig is None:
        kind = "ok"
    else:
        kind = "rte"
    return RunResult(kind, code, sig, cpu, elapsed, stderr)


def _wait4(pid: int, timeout: float):
    deadline = time.monotonic() + timeout
    while True:
        got, status, usage = os.wait4(pid, os.WNOHANG)
        if got:
            return got, status, usage
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.005)


def run(command: list[str], workdir: Path, input_path: Path, output_path: Path, time_limit: float,
        memory_mb: int, output_mb: int) -> RunResult:
    """Run a prepared program on one test input, its output to output_path."""
    with open(input_path, "rb") as stdin, open(output_path, "wb") as stdout:
        result = _run_raw(sandbox_command(workdir, [PYTHON, "-c", MEASURE, *command]), stdin=stdin, stdout=stdout,
                          limits=_limits(time_limit, memory_mb, output_mb), wall=time_limit * 2 + 1, measured=True)
    if result.status == "ok" and result.cpu > time_limit:
        result.status = "tle"
    return result
