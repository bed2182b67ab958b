"""Compiling and running contestants' programs in a bubblewrap sandbox, with limits.

Each program is judged in a ``Box``: a folder of its own (0700, owned by the uid the
program runs as, in root's folders that others may cross but not list) and a uid
leased for as long as the program is judged, so no other run on the machine can
read its files or signal its processes. Each run is a fresh process tree in its
own user, PID, network, IPC and mount namespaces: the system read-only, the
program's folder read-only, a small private /tmp, no network, no environment but
PATH, and no descriptor but stdin, stdout and stderr. The test's input comes on
stdin; the answer file never enters the sandbox.

Everything the verdict rests on is measured from outside the run (see
``sandbox/confine.py``): CPU time, memory and processes of the whole tree (a
cgroup, or a watchdog over the uid), the wall clock, and the exit status that a
reaper of our own collects. When the run ends, or its deadline passes, every
process of its uid is killed, daemons included. The outcome is classified as the
judge needs it (ok, TLE, MLE, OLE, RTE).
"""

from __future__ import annotations

import contextlib
import ctypes
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

from sabaq.archive import opened_dir, read_file, write_file
from sabaq.autograders.sandbox.bwrap import Bind, SandboxError, bwrap_command
from sabaq.autograders.sandbox.confine import TreeLimits, confine, kill_uid
from sabaq.autograders.sandbox.uids import JUDGE_UIDS, lease
from sabaq.errors import Invalid
from sabaq.i18n import N_
from sabaq.kattis.package import Program

# the system's Python (Debian's, or the grader image's /usr/local one): only /usr is in the sandbox
PYTHON = next((p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.path.exists(p)), "/usr/bin/python3")
GXX = shutil.which("g++")
SANDBOX = "/sandbox"  # the program's folder, read-only, inside the sandbox
ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
MEMORY_HINTS = ("MemoryError", "bad_alloc", "Cannot allocate memory")
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
_LIBC = ctypes.CDLL(None, use_errno=True)


@dataclass
class RunResult:
    status: str  # ok, tle, mle, ole, rte
    exit_code: int | None
    signal: int | None
    cpu: float
    wall: float
    stderr: str
    memory: int = 0  # peak bytes of the whole run


class CompileError(Exception):
    pass


@contextlib.contextmanager
def judge_uid():
    """A uid no other run on this machine is using now (None when not root): the kernel
    counts processes per uid, so a fork bomb must not use up the budget of a run beside it,
    and a uid may read its own files and signal its own processes."""
    if os.getuid() != 0:
        yield None
        return
    with lease(JUDGE_UIDS, 1) as held:
        yield held.uids[0]


def _demote(limits: dict, uid: int | None):
    def preexec():
        for kind, value in limits.items():
            resource.setrlimit(kind, (value, value))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)

    return preexec


def sandbox_command(workdir: Path, command: list[str], writable: list[Path] = (), readonly: list[Path] = (),
                    tmp_mb: int = 64) -> list[str]:
    """``command`` in the sandbox, run from the program's folder (at /sandbox); ``readonly``
    folders are at /data0, /data1 ..., ``writable`` ones at /out0 ...; /tmp holds at most
    ``tmp_mb``. Bubblewrap runs as the run's own uid (see ``_demote``), so the sandbox is a
    user namespace of that one uid."""
    binds = [Bind(str(workdir), SANDBOX),
             *(Bind(str(path), f"/data{i}") for i, path in enumerate(readonly)),
             *(Bind(str(path), f"/out{i}", writable=True) for i, path in enumerate(writable))]
    return bwrap_command(command, ENV, binds=binds, chdir=SANDBOX, switch_uids=False, tmp_mb=tmp_mb)


class Box:
    """One program's folder and the uid it runs as, for as long as it is judged.

    The home (made with mkdtemp in ``parent``, root's, 0711) can be crossed to reach the
    folders in it but not listed; every folder a run sees (the program's, a build's, a
    validator's data and feedback) is made with mkdtemp there, 0700 and owned by the uid.
    Root only writes into them while no process of the uid is alive, and never through a link."""

    def __init__(self, parent: Path):
        self._held = contextlib.ExitStack()
        self.uid = self._held.enter_context(judge_uid())
        try:
            if self.uid is not None:
                kill_uid(self.uid)  # what a judge that died holding this uid may have left
            self.home = Path(tempfile.mkdtemp(prefix="box-", dir=parent))
            os.chmod(self.home, 0o711)
            self.folder = self.private("program-")
        except BaseException:
            self._held.close()
            raise

    def private(self, prefix: str) -> Path:
        """A new folder only the box's uid (and root) may enter."""
        folder = Path(tempfile.mkdtemp(prefix=prefix, dir=self.home))
        if self.uid is not None:
            os.chown(folder, self.uid, self.uid)
        return folder

    def close(self) -> None:
        try:
            if self.uid is not None:
                kill_uid(self.uid)  # none should be left by now: the uid goes back to the pool empty
            shutil.rmtree(self.home, ignore_errors=True)
        finally:
            self._held.close()

    def __enter__(self) -> Box:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def command(self, command: list[str], writable: list[Path] = (), readonly: list[Path] = (),
                tmp_mb: int = 64) -> list[str]:
        return sandbox_command(self.folder, command, writable, readonly, tmp_mb)

    def execute(self, cmd: list[str], stdin, stdout, limits: dict, wall: float) -> RunResult:
        return _run_as(self.uid, cmd, stdin, stdout, limits, wall)

    def prepare(self, program: Program) -> list[str]:
        """Copy and build the program into the box; the command that runs it inside the sandbox."""
        sources = program.sources
        with opened_dir(self.folder) as folder:
            for src in sources:
                write_file(folder, src.name, src.read_bytes(), overwrite=False)
        if program.language == "python":
            main = next((s.name for s in sources if s.name in ("main.py", "solution.py")), sources[0].name)
            check = self.execute(self.command([PYTHON, "-c",
                                               "import sys, ast; [ast.parse(open(f).read(), f) for f in sys.argv[1:]]",
                                               *[s.name for s in sources if s.suffix == ".py"]]),
                                 stdin=None, stdout=None, limits=_limits(30, 512, 1), wall=60)
            if check.status != "ok":
                raise CompileError(check.stderr.strip().splitlines()[-1] if check.stderr.strip() else "syntax error")
            return [PYTHON, f"{SANDBOX}/{main}"]
        if program.language == "cpp":
            if GXX is None:
                raise CompileError("C++ is not available here: g++ is not installed")
            build = self.private("build-")
            try:
                result = self.execute(self.command(compile_command([s.name for s in sources]), writable=[build],
                                                   tmp_mb=512),
                                      stdin=None, stdout=None, limits=_limits(60, 2048, 64, processes=64), wall=120)
                if result.status != "ok":
                    raise CompileError(result.stderr.strip()[-2000:] or "compilation failed")
                _copy_binary(build, self.folder)
            finally:
                shutil.rmtree(build, ignore_errors=True)
            return [f"{SANDBOX}/prog"]
        raise CompileError(f"unsupported language {program.language}")

    def run(self, command: list[str], input_path: Path, output_path: Path, time_limit: float,
            memory_mb: int, output_mb: int) -> RunResult:
        """Run a prepared program on one test input, its output to output_path (0600, root's)."""
        fd = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with open(input_path, "rb") as stdin, os.fdopen(fd, "wb") as stdout:
            result = self.execute(self.command(command, tmp_mb=memory_mb), stdin=stdin, stdout=stdout,
                                  limits=_limits(time_limit, memory_mb, output_mb), wall=wall_time(time_limit))
        if result.status == "ok" and result.cpu > time_limit:
            result.status = "tle"
        return result


def wall_time(time_limit: float) -> float:
    """How long a run may take by the clock: room for a loaded machine, never forever."""
    return time_limit * 2 + 1


def compile_command(sources: list[str]) -> list[str]:
    """g++ on the sources (in /sandbox), the binary to /out0/prog."""
    return [GXX, "-O2", "-std=gnu++17", "-o", "/out0/prog", *[s for s in sources if s.endswith((".cpp", ".cc", ".cxx"))]]


def _copy_binary(build: Path, folder: Path) -> None:
    """The built program, copied by root from the build's folder (which the build's uid
    could fill with anything): only a regular file named prog, opened without following a link."""
    try:
        with opened_dir(build) as fd:
            binary = read_file(fd, "prog")
    except FileNotFoundError:
        raise CompileError("compilation failed: no program was built") from None
    except Invalid:
        raise CompileError("compilation failed: the built program is not a regular file") from None
    with opened_dir(folder) as fd:
        write_file(fd, "prog", binary, overwrite=False, mode=0o755)


def _limits(cpu_seconds: float, memory_mb: int, output_mb: int, processes: int = 32) -> dict:
    return {
        resource.RLIMIT_CPU: int(math.ceil(cpu_seconds)) + 1,
        resource.RLIMIT_AS: memory_mb << 20,
        resource.RLIMIT_FSIZE: output_mb << 20,
        resource.RLIMIT_NPROC: processes,
        resource.RLIMIT_NOFILE: 64,
    }


def _run_as(uid: int | None, cmd: list[str], stdin, stdout, limits: dict, wall: float) -> RunResult:
    tree = TreeLimits(cpu_seconds=limits[resource.RLIMIT_CPU] - 1 + 0.05, memory_bytes=limits[resource.RLIMIT_AS],
                      processes=limits[resource.RLIMIT_NPROC])
    confinement = confine(uid, tree) if uid is not None else None
    err = tempfile.TemporaryFile()
    try:
        start = time.monotonic()
        status, reaped_cpu, timed_out = _execute(cmd, stdin, stdout, err, limits, uid, confinement, start + wall)
        elapsed = time.monotonic() - start
        usage = confinement.usage(reaped_cpu) if confinement else None
    finally:
        if confinement:
            confinement.close()  # every process of the uid killed, daemons included
    err.seek(0)
    stderr = err.read(65536).decode("utf-8", "replace")
    err.close()
    code, sig = _outcome(status)
    if stderr.startswith("bwrap: ") and code != 0 and not timed_out and not _sandbox_starts(cmd, uid):
        # the sandbox itself did not start (a program that merely prints this has it tried again, and
        # started): no verdict on the program, the caller retries or reports
        raise SandboxError(N_("The sandbox could not start: {detail}"), detail=stderr.strip()[:300])
    cpu = usage.cpu if usage else reaped_cpu
    if usage is not None and usage.out_of_memory:
        kind = "mle"  # the whole tree passed its memory limit (a process was killed for it): whatever came after
    elif timed_out or (usage is not None and usage.over_cpu) or sig == signal.SIGXCPU or cpu > tree.cpu_seconds:
        kind = "tle"
    elif sig == signal.SIGXFSZ:
        kind = "ole"
    elif any(hint in stderr for hint in MEMORY_HINTS):
        kind = "mle"
    elif code == 0 and sig is None:
        kind = "ok"
    else:
        kind = "rte"
    return RunResult(kind, code, sig, cpu, elapsed, stderr, usage.memory if usage else 0)


def _execute(cmd, stdin, stdout, err, limits: dict, uid: int | None, confinement, deadline: float):
    """Start ``cmd`` under a reaper of ours, watch it until it ends, its deadline passes or a
    limit of the whole tree is passed (then kill it all); (wait status, CPU seconds of every
    process the reaper collected, timed out)."""
    demote = _demote(limits, uid)

    parent = os.getpid()

    def preexec():
        os.setsid()  # the reaper and bubblewrap: a process group of their own (the sandbox makes its own session)
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the judge killed: the reaper, then bubblewrap,
        if os.getppid() != parent:  # then the sandbox go too (--die-with-parent)
            os._exit(1)
        _LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        child = os.fork()
        if child:
            _reap(child)
        if confinement is not None:
            confinement.join()
        demote()

    proc = subprocess.Popen(cmd, stdin=stdin or subprocess.DEVNULL, stdout=stdout or subprocess.DEVNULL,
                            stderr=err, preexec_fn=preexec, close_fds=True)
    if confinement is not None:
        confinement.watch(proc.pid)
    timed_out = stopped = False
    interval = confinement.interval if confinement else 0.005
    while True:
        got, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if got:
            break
        if not stopped:
            timed_out = time.monotonic() > deadline
            if timed_out or (confinement is not None and confinement.check()):
                stopped = True
                _stop(proc.pid, uid)
                deadline = time.monotonic() + 30  # for the reaper to collect them
        elif time.monotonic() > deadline:
            os.kill(proc.pid, signal.SIGKILL)  # processes that will not die: the reaper goes, they go to init
        time.sleep(interval)
    proc.returncode = 0  # reaped above
    return status, usage.ru_utime + usage.ru_stime, timed_out


def _stop(reaper: int, uid: int | None) -> None:
    """Kill the whole run: every process of its uid (the reaper, root's, then collects them
    and ends); without root, the reaper's group, bubblewrap in it, and so the sandbox."""
    if uid is not None:
        kill_uid(uid)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(reaper, signal.SIGKILL)


def _reap(child: int):
    """The run's first process, outside the sandbox: it holds none of the run's descriptors,
    collects every process of the run that ends (as their child subreaper: the sandbox's
    own first process is left to it when bubblewrap exits) and exits with bubblewrap's status."""
    os.closerange(0, 1 << 16)
    code = 1
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if pid == child:
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    os._exit(code)


def _outcome(status: int) -> tuple[int | None, int | None]:
    """(exit code, signal) of the program from bubblewrap's status, which is the program's
    exit code or 128 + the signal that killed it."""
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    if code > 128 and code - 128 in signal.valid_signals():
        return None, code - 128
    return code, None


def _sandbox_starts(cmd: list[str], uid: int | None) -> bool:
    """Whether the sandbox of ``cmd`` starts with a program of ours in it."""
    probe = cmd[:cmd.index("--") + 1] + ["/usr/bin/true"]
    status, _, _ = _execute(probe, None, None, subprocess.DEVNULL, _limits(10, 256, 1), uid, None,
                            time.monotonic() + 30)
    if uid is not None:
        kill_uid(uid)
    return status == 0
