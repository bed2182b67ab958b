"""A judged run's first process, a program of its own (``python -I -S reaper.py HOW COMMAND...``).

The judge starts each run from threads (an interactive test runs the program and the
interactor at once), and code run between fork and exec in a process with threads may
deadlock on a lock another thread held (ruff PLW1509 on ``preexec_fn``). So the judge only
execs this file, with subprocess's own session and descriptor handling, and this process
does the rest, single-threaded: it dies with the judge, becomes the subreaper of the run,
forks the command's process, which joins the run's control groups, takes the limits and
the run's uid and execs the command; then it collects every process of the run that ends
and exits with the command's status. It imports nothing but the standard library (-S: not
even site-packages): as root, it must not run code from anywhere else.

HOW is JSON: ``parent`` (the judge's pid: if it is already gone, stop), ``uid`` (or null),
``join`` (files to write the command's pid to), ``rlimits`` ([resource, value] pairs) and
``report`` (a descriptor to write this process's own CPU seconds to as it ends, so that the
judge can leave them out of the run's time) and ``ready`` (a descriptor closed once the
command is exec'd: the judge watches the run from then, as if it had exec'd it itself).
"""

import ctypes
import json
import os
import resource
import signal
import sys

PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36


def start(how: dict, command: list[str]) -> None:
    """In the command's process: join, limit, demote, exec; never returns."""
    try:
        os.close(how["report"])
        os.set_inheritable(how["ready"], False)  # closed by the exec: the judge's sign that it ran
        for path in how["join"]:
            with open(path, "w") as fh:
                fh.write(str(os.getpid()))
        for kind, value in how["rlimits"]:
            resource.setrlimit(kind, (value, value))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if how["uid"] is not None:
            os.setgroups([])
            os.setgid(how["uid"])
            os.setuid(how["uid"])
        os.execvp(command[0], command)
    except BaseException as e:  # noqa: BLE001 - whatever it was, the run did not start
        os.write(2, f"sabaq reaper: {e}\n".encode())
    os._exit(127)


def reap(child: int, report: int) -> None:
    """Collect every process of the run that ends (the sandbox's first one is left to us when
    bubblewrap exits), holding none of the run's descriptors; exit with the command's status."""
    os.closerange(0, report)
    os.closerange(report + 1, 1 << 16)
    code = 1
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        if pid == child:
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
    own = resource.getrusage(resource.RUSAGE_SELF)
    os.write(report, repr(own.ru_utime + own.ru_stime).encode())
    os._exit(code)


def main() -> None:
    how, command = json.loads(sys.argv[1]), sys.argv[2:]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the judge killed: this, then bubblewrap,
    if os.getppid() != how["parent"]:  # then the sandbox go too (--die-with-parent)
        os._exit(1)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    child = os.fork()
    if child == 0:
        start(how, command)
    reap(child, how["report"])


if __name__ == "__main__":
    main()
