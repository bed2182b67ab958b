"""The warm process inside the sandbox that forks one child per notebook.

It imports IPython and the scientific stack once and builds one pristine
shell; every notebook then runs in a child forked from it, so no child
pays for interpreter start and imports, and no two children share state (each
starts from the same untouched copy). A child drops to its own unprivileged
uid, gets resource limits, runs the cells (see ``shell``) and reports back.

Protocol, JSON lines: requests on stdin
``{"id", "dir", "cells": [[index, source], ...], "uid", "gid", "env", "limits"}``;
answers on stdout ``{"id", "status", "outputs", "execution_counts", "reason", ...}``.
Status: ok, unresponsive (ignored the interrupt), or died (with the reason:
wall time, CPU time, memory, killed, exited).
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import selectors
import signal
import sys
import time

PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1


def preload(modules: list[str]) -> None:
    """Import what most notebooks use, once, before forking."""
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    for name in modules:
        try:
            __import__(name)
        except Exception:  # a missing optional package only costs speed
            pass


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(option, value, 0, 0, 0)


def _limit(limits: dict) -> None:
    def set_limit(kind, value):
        if value:
            resource.setrlimit(kind, (value, value))

    set_limit(resource.RLIMIT_AS, int(limits.get("memory_bytes", 0)))
    set_limit(resource.RLIMIT_CPU, int(limits.get("cpu_seconds", 0)))
    set_limit(resource.RLIMIT_FSIZE, int(limits.get("file_bytes", 0)))
    set_limit(resource.RLIMIT_NPROC, int(limits.get("processes", 0)))
    set_limit(resource.RLIMIT_NOFILE, int(limits.get("open_files", 0)))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def child_main(shell, request: dict, result_fd: int) -> None:
    """In the forked child: become the student's sandboxed process and run the cells."""
    from sabaq.autograders.sandbox.shell import run_cells

    os.setsid()
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    uid, gid = request.get("uid"), request.get("gid")
    _limit(request.get("limits", {}))
    if uid is not None and os.getuid() == 0:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    os.chdir(request["dir"])
    os.environ.clear()
    os.environ.update(request.get("env", {}))
    sys.path[:] = [p for p in sys.path if p]
    sys.path.insert(0, "")
    writer = os.fdopen(result_fd, "w", encoding="utf-8")

    def emit(result: dict) -> None:
        writer.write(json.dumps(result) + "\n")
        writer.flush()

    run_cells(shell, [tuple(c) for c in request["cells"]], float(request.get("timeout", 30)), emit,
              max_output_bytes=int(request.get("limits", {}).get("output_bytes", 4 << 20)),
              keep_traceback=request.get("keep_traceback"))
    writer.close()


class Job:
    def __init__(self, request: dict, pid: int, fd: int):
        self.request = request
        self.pid = pid
        self.fd = fd
        self.data = bytearray()
        self.deadline = time.monotonic() + float(request.get("limits", {}).get("wall_seconds", 600))
        self.max_bytes = int(request.get("limits", {}).get("output_bytes", 4 << 20)) * 2 + 65536
        self.reason = ""
        self.eof = False


def _describe(status: int, job: Job) -> str:
    if job.reason:
        return job.reason
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return "cpu-time"
        if sig == signal.SIGXFSZ:
            return "file-size"
        return f"signal-{signal.Signals(sig).name}"
    return f"exit-{os.WEXITSTATUS(status)}"


def _kill_leftovers(uid: int | None) -> None:
    """Kill what a finished notebook left running (daemons, fork bombs).

    As root, every process of the notebook's uid; without root (one notebook at
    a time, all under one uid) every process of the sandbox but this one and init.
    """
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (me, 1):
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                owner = next(int(line.split()[1]) for line in fh if line.startswith("Uid:"))
        except (OSError, StopIteration, ValueError):
            continue
        if (uid is not None and owner == uid) or (uid is None and owner == os.getuid()):
            try:
                os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass


def serve(shell, stdin, stdout) -> None:
    selector = selectors.DefaultSelector()
    jobs: dict[int, Job] = {}
    buffer = b""
    stdin_fd = stdin.fileno()
    selector.register(stdin_fd, selectors.EVENT_READ, "stdin")
    stdin_open = True

    def answer(payload: dict) -> None:
        stdout.write(json.dumps(payload) + "\n")
        stdout.flush()

    def finish(job: Job) -> None:
        _, status = os.waitpid(job.pid, 0)
        _kill_leftovers(job.request.get("uid"))
        lines = bytes(job.data).decode("utf-8", "replace").splitlines()
        result = None
        for line in lines:
            try:
                result = json.loads(line)
            except ValueError:
                pass
        if result is None or job.reason:
            answer({"id": job.request["id"], "status": "died", "reason": _describe(status, job),
                    "outputs": (result or {}).get("outputs", {}),
                    "execution_counts": (result or {}).get("execution_counts", {})})
        else:
            answer({"id": job.request["id"], **result})

    while stdin_open or jobs:
        timeout = None
        if jobs:
            timeout = max(0.0, min(j.deadline for j in jobs.values()) - time.monotonic())
        for key, _ in selector.select(timeout):
            if key.data == "stdin":
                chunk = os.read(stdin_fd, 1 << 20)
                if not chunk:
                    selector.unregister(stdin_fd)
                    stdin_open = False
                    continue
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        job = start(shell, json.loads(line))
                        jobs[job.fd] = job
                        selector.register(job.fd, selectors.EVENT_READ, "job")
            else:
                job = jobs[key.fd]
                chunk = os.read(key.fd, 1 << 20)
                if chunk:
                    job.data += chunk
                    if len(job.data) > job.max_bytes:
                        job.reason = "output-size"
                        os.killpg(job.pid, signal.SIGKILL)
                else:
                    selector.unregister(key.fd)
                    os.close(key.fd)
                    del jobs[key.fd]
                    finish(job)
        now = time.monotonic()
        for job in list(jobs.values()):
            if now > job.deadline and not job.reason:
                job.reason = "wall-time"
                try:
                    os.killpg(job.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def start(shell, request: dict) -> Job:
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            child_main(shell, request, write_fd)
        finally:
            os._exit(0)
    os.close(write_fd)
    return Job(request, pid, read_fd)


def main() -> None:
    from sabaq.autograders.sandbox.shell import make_shell

    # `python -m` put the zygote's working folder first on sys.path; students' code must not import from it
    sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]
    modules = [m for m in os.environ.get("SABAQ_PRELOAD", "").split(",") if m]
    preload(modules)
    shell = make_shell()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    stdout = os.fdopen(os.dup(1), "w", encoding="utf-8")
    # nothing the zygote itself prints may corrupt the protocol
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    stdout.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    stdout.flush()
    serve(shell, sys.stdin, stdout)


if __name__ == "__main__":
    main()
