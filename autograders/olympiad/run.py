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
import dataclasses
import fnmatch
import json
import math
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sabaq.archive import opened_dir, read_file, write_file
from sabaq.autograders.olympiad import languages
from sabaq.autograders.sandbox.bwrap import Bind, SandboxError, bwrap_command
from sabaq.autograders.sandbox.confine import TreeLimits, confine, kill_uid
from sabaq.autograders.sandbox.uids import JUDGE_UIDS, lease
from sabaq.errors import Invalid, Phrase
from sabaq.i18n import N_
from sabaq.kattis.package import Program

PYTHON = languages.PYTHON  # the system's Python (Debian's, or the grader image's): only /usr is in the sandbox
SANDBOX = languages.SANDBOX  # the program's folder, read-only, inside the sandbox
ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}
RUN_VERDICTS = {"tle": "TLE", "mle": "MLE", "ole": "RTE", "rte": "RTE"}  # how a run that failed is judged
MEMORY_HINTS = ("MemoryError", "bad_alloc", "Cannot allocate memory")
REAPER = Path(__file__).with_name("reaper.py")  # each run's first process
REAPER_START = 60.0  # seconds the reaper may take to start the command, on a machine however busy


@dataclass
class RunResult:
    status: str  # ok, tle, mle, ole, rte
    exit_code: int | None
    signal: int | None
    cpu: float
    wall: float
    stderr: str
    memory: int = 0  # peak bytes of the whole run


CompileError = languages.CompileError


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


def sandbox_command(workdir: Path, command: list[str], writable: list[Path] = (), readonly: list[Path] = (),
                    tmp_mb: int = 64, etc: list[str] = ()) -> list[str]:
    """``command`` in the sandbox, run from the program's folder (at /sandbox); ``readonly``
    folders are at /data0, /data1 ..., ``writable`` ones at /out0 ...; /tmp holds at most
    ``tmp_mb``; ``etc``: the system's folders in /etc a language's tools read (the JVM's),
    read-only at their place. Bubblewrap runs as the run's own uid (see ``reaper.py``), so the
    sandbox is a user namespace of that one uid."""
    binds = [Bind(str(workdir), SANDBOX),
             *(Bind(folder, folder) for folder in etc if folder.startswith("/etc/")),
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
        self.language: languages.Language | None = None  # the prepared program's
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
                tmp_mb: int = 64, etc: list[str] | None = None) -> list[str]:
        if etc is None:
            etc = self.language.etc_folders() if self.language else []
        return sandbox_command(self.folder, command, writable, readonly, tmp_mb, etc)

    def execute(self, cmd: list[str], stdin, stdout, limits: Limits, wall: float, started=None) -> RunResult:
        """``cmd`` (from ``command``) as the box's uid; ``started(pid)`` is called once it runs
        (a caller that passed pipes closes its ends of them there; ``_stop(pid, uid)`` ends it)."""
        if self.language is not None and not self.language.address_space:
            limits = dataclasses.replace(limits, address_space=False,
                                         processes=max(limits.processes, self.language.processes))
        return _run_as(self.uid, cmd, stdin, stdout, limits, wall, started)

    def prepare(self, program: Program, memory_mb: int = 1024) -> list[str]:
        """Copy and build the program into the box; the command that runs it inside the sandbox.
        Its language is recognised from its files (``languages.py``); one that cannot run here
        is a CompileError that says why."""
        sources = program.sources
        lang = languages.choose(sources)
        with opened_dir(self.folder) as folder:
            for src in sources:
                write_file(folder, src.name, src.read_bytes(), overwrite=False)
        names = [s.name for s in sources]
        build = languages.Build(lang, names, languages.main_file(lang, names, lambda n: (self.folder / n).read_text(
            errors="replace")), memory_mb)
        self.language = lang
        if lang.build is not None:
            self._compile(lang, build)
        return lang.run(build)

    def _compile(self, lang: languages.Language, build: languages.Build) -> None:
        """The compiler in the sandbox, under the compile limits, writing into a private
        folder of the box's uid; what it built copied into the program's folder by root."""
        limits = languages.COMPILE_LIMITS
        out = self.private("build-")
        try:
            with tempfile.TemporaryFile() as said:  # some compilers (Free Pascal) report on stdout
                result = self.execute(self.command(compile_command(build), writable=[out], tmp_mb=512,
                                                   etc=lang.etc_folders()),
                                      stdin=None, stdout=said,
                                      limits=_limits(limits.cpu_seconds, limits.memory_mb, limits.output_mb,
                                                     processes=limits.processes, address_space=lang.address_space),
                                      wall=limits.wall_seconds)
                said.seek(0)
                messages = (said.read(65536).decode("utf-8", "replace") + "\n" + result.stderr).strip()
            if result.status != "ok":
                reason = {"tle": N_("the compiler ran out of time ({seconds} s)"),
                          "mle": N_("the compiler ran out of memory ({megabytes} MB)"),
                          "ole": N_("the compiler wrote more than {output} MB")}.get(result.status)
                if reason:
                    raise CompileError(N_("Compilation failed: {reason}."), reason=Phrase(
                        reason, seconds=f"{limits.cpu_seconds:g}", megabytes=limits.memory_mb, output=limits.output_mb))
                raise CompileError(N_("Compilation failed:\n{output}"),
                                   output=messages[-2000:] or "exit " + str(result.exit_code))
            if lang.built:
                _copy_built(out, self.folder, lang.built)
        finally:
            shutil.rmtree(out, ignore_errors=True)

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


def compile_command(build: languages.Build) -> list[str]:
    """The command that builds a program (sources in /sandbox, what it builds to /out0)."""
    return build.language.build(build)


def _copy_built(build: Path, folder: Path, pattern: str) -> None:
    """What was built, copied by root from the build's folder (which the build's uid could
    fill with anything): only regular files whose names match ``pattern``, opened without
    following a link."""
    with opened_dir(build) as fd:
        names = sorted(n for n in os.listdir(fd) if fnmatch.fnmatchcase(n, pattern))
        if not names:
            raise CompileError(N_("Compilation failed: the compiler built no program."))
        try:
            files = {name: read_file(fd, name) for name in names}
        except (Invalid, FileNotFoundError):
            raise CompileError(N_("Compilation failed: what was built is not a regular file.")) from None
    with opened_dir(folder) as fd:
        for name, data in files.items():
            write_file(fd, name, data, overwrite=False, mode=0o755)


@dataclass(frozen=True)
class Limits:
    """A run's limits: per process (rlimits) and for its whole tree (``confine.TreeLimits``)."""

    cpu_seconds: float
    memory_mb: int
    output_mb: int
    processes: int = 32
    address_space: bool = True  # the memory limit is also each process's address space (not for the JVM)

    def rlimits(self) -> dict:
        return {
            resource.RLIMIT_CPU: math.ceil(self.cpu_seconds) + 1,
            resource.RLIMIT_AS: (self.memory_mb << 20) if self.address_space else resource.RLIM_INFINITY,
            resource.RLIMIT_FSIZE: self.output_mb << 20,
            resource.RLIMIT_NPROC: self.processes,
            resource.RLIMIT_NOFILE: 64,
        }


def _limits(cpu_seconds: float, memory_mb: int, output_mb: int, processes: int = 32,
            address_space: bool = True) -> Limits:
    return Limits(cpu_seconds, memory_mb, output_mb, processes, address_space)


def _run_as(uid: int | None, cmd: list[str], stdin, stdout, limits: Limits, wall: float, started=None) -> RunResult:
    tree = TreeLimits(cpu_seconds=math.ceil(limits.cpu_seconds) + 0.05, memory_bytes=limits.memory_mb << 20,
                      processes=limits.processes)
    confinement = confine(uid, tree) if uid is not None else None
    err = tempfile.TemporaryFile()
    try:
        status, reaped_cpu, timed_out, elapsed = _execute(cmd, stdin, stdout, err, limits, uid, confinement, wall,
                                                          started)
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


def _execute(cmd, stdin, stdout, err, limits: Limits, uid: int | None, confinement, wall: float, started=None):
    """Start ``cmd`` under a reaper of ours (``reaper.py``: a program of its own, so nothing
    runs between fork and exec in this process, whose threads judge other runs), watch it
    until it ends, ``wall`` seconds pass or a limit of the whole tree is passed (then kill it
    all); (wait status, CPU seconds of every process the reaper collected, timed out, seconds
    it ran). The reaper's own start (a Python's) counts in neither time: the clock starts
    when the command is exec'd, and the reaper's own CPU seconds are taken out."""
    report, reported = os.pipe()
    ready, execed = os.pipe()
    how = {"parent": os.getpid(), "uid": uid, "join": confinement.join_files() if confinement else [],
           "rlimits": [[kind, value] for kind, value in limits.rlimits().items()], "report": reported,
           "ready": execed}
    try:  # the reaper and bubblewrap: a session of their own (the sandbox makes its own too)
        proc = subprocess.Popen([sys.executable, "-I", "-S", str(REAPER), json.dumps(how), *cmd],
                                stdin=stdin or subprocess.DEVNULL, stdout=stdout or subprocess.DEVNULL, stderr=err,
                                start_new_session=True, close_fds=True, pass_fds=(reported, execed))
    finally:
        os.close(reported)
        os.close(execed)
    try:
        # the end closes when the reaper has handed on and the command's process exec'd (or died):
        # from then on, as if it had been exec'd straight from here
        select.select([ready], [], [], REAPER_START)
        start = time.monotonic()
        status, cpu, timed_out = _watch(proc, uid, confinement, start + wall, started)
        elapsed = time.monotonic() - start
        own = os.read(report, 64)  # the reaper's own CPU seconds (its start), not the run's
    finally:
        os.close(report)
        os.close(ready)
    try:
        own_cpu = float(own or 0)
    except ValueError:
        own_cpu = 0.0
    return status, max(0.0, cpu - own_cpu), timed_out, elapsed


def _watch(proc: subprocess.Popen, uid: int | None, confinement, deadline: float, started=None):
    """Wait for the reaper, stopping the run at its deadline or a limit of its tree."""
    if started is not None:
        started(proc.pid)
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
    status, _, _, _ = _execute(probe, None, None, subprocess.DEVNULL, _limits(10, 256, 1), uid, None, 30)
    if uid is not None:
        kill_uid(uid)
    return status == 0
