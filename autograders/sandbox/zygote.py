"""The trusted process inside the sandbox: it holds each notebook's cells and decides what they did.

Start: import IPython and the scientific stack once, build one pristine shell, then fork
the *forker*, a process that never holds a notebook and forks one child per notebook
(so no child pays for interpreter start and imports, and no child inherits another
notebook's cells, or its own, from the memory it was forked from). A child drops to
the notebook's unprivileged uid, gets resource limits and runs cells (see ``child``).

Per notebook, the zygote keeps the cells and sends them one at a time over a command
pipe, each with a nonce made when it is sent, and waits for the reply (outputs, display
updates, execution count, execute status) on a socket whose kernel-checked credentials
name the sender: only the child itself may answer, and only for the cell in flight.
The zygote records the outputs and decides: an error status without an error output
gets one (a student replaced IPython's traceback display), a test cell's only execute_result
is its value's (nbgrader reads the first: one the student's code displayed inside the test
becomes display data), a cell that did not answer
within its timeout and a grace is "unresponsive" (then the notebook stops), and the
notebook stops when its child exits, its wall time passes, or together its processes
hold more memory or its files more disk than allowed. Stopping kills every process of
the notebook's uid (``uidwatch``), whatever still holds a pipe open.

Protocol with the executor, JSON lines: requests on stdin ``{"id", "dir", "cells":
[[index, source, test], ...], "uid", "gid", "env", "limits", "timeout", "keep_traceback",
"kill_uid"}``; answers on stdout ``{"id", "status", "outputs", "execution_counts",
"reason", "truncated"}``. Status: ok, unresponsive, or died (with the reason: wall-time,
cpu-time, memory, disk, output-size, file-size, killed, exit-N, ...). Ids, cell indexes
and statuses in answers are the zygote's own, never text of the child's.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import secrets
import selectors
import signal
import socket
import struct
import sys
import time
from collections import deque

from sabaq.autograders.sandbox import _native, arrays, ctypes_sizes, uidwatch
from sabaq.autograders.sandbox.shell import TIMEOUT_ERROR

GRACE_SECONDS = 4.0  # after a cell's timeout, for the interrupt to end it
WATCH_SECONDS = 0.25  # how often the watchdog sums a notebook's memory and disk
SHARED_DIRS = ["/tmp", "/dev/shm"]  # every notebook of the sandbox may write here
OUTPUT_TYPES = {"stream", "display_data", "execute_result", "error"}
CREDENTIALS = struct.Struct("3i")


def preload(modules: list[str]) -> None:
    """Import what most notebooks use, once, before forking."""
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    for name in modules:
        try:
            __import__(name)
        except Exception:  # noqa: BLE001, S110 - a missing optional package only costs speed
            pass


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


# --- the child ------------------------------------------------------------------


def become(uid: int | None, gid: int | None) -> bool:
    """Take the student's uid and gid (as root; True if it did), dying with the parent.

    The parent-death signal is set after the change of uid, which clears it: set before, a
    child whose forker was killed ran on as an orphan."""
    parent = os.getppid()
    switched = uid is not None and os.getuid() == 0
    if switched:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    _native.die_with_parent()
    if os.getppid() != parent:  # the parent died before the signal was set
        os._exit(1)
    return switched


def child_main(shell, guard, setup: dict, commands: int, replies: int) -> None:
    """In the forked child: become the student's sandboxed process and serve cells."""
    from sabaq.autograders.sandbox.child import serve_cells

    os.setsid()
    _limit(setup.get("limits", {}))
    switched = become(setup.get("uid"), setup.get("gid"))
    # Not dumpable (setuid made it so; said again, whatever fs.suid_dumpable says): its /proc
    # files are root's, so its own code cannot open /proc/self/mem, where the nonce of the
    # cell in flight is, nor can its other processes. The zygote reads its memory with
    # CAP_SYS_PTRACE (see bwrap). Without root there is no other uid: the child stays
    # dumpable, for the watchdog (a user namespace has no capability to read it otherwise).
    _native.set_dumpable(not switched)  # once: a student's call cannot set it again
    _native.no_new_privs()
    os.chdir(setup["dir"])
    os.environ.clear()
    os.environ.update(setup.get("env", {}))
    sys.path[:] = [p for p in sys.path if p]
    sys.path.insert(0, "")
    serve_cells(shell, commands, replies, float(setup.get("timeout", 30)),
                max_output_bytes=int(setup.get("limits", {}).get("output_bytes", 4 << 20)),
                keep_traceback=setup.get("keep_traceback"), guard=guard)


# --- the forker -------------------------------------------------------------------


def spare_main(shell, guard, handoff: socket.socket) -> None:
    """A child forked before its notebook was asked for (as root: it runs as root until its
    setup comes, holding nothing but the forker's memory): wait for the setup and the pipe
    ends on `handoff`, then become the notebook's child. The forker's end closing (it is
    gone) ends it."""
    import sabaq.autograders.sandbox.child  # noqa: F401 - imported while no notebook waits

    data, fds, _, _ = socket.recv_fds(handoff, 1 << 20, 2)
    handoff.close()
    if data and len(fds) == 2:
        child_main(shell, guard, json.loads(data), fds[0], fds[1])


def forker_main(shell, guard, channel: socket.socket) -> None:
    """Fork a child for each request on `channel` (no cells: uid, folder, environment, limits,
    and the child's two pipe ends passed along); report each child's pid and, when it is
    reaped, its wait status.

    As root one child is forked ahead (a *spare*, see ``spare_main``) and handed the next
    request, so a notebook need not wait for a fork of this large process nor for the
    child's first page faults. Not without root: there every process of the sandbox's uid
    but the zygote's is killed between notebooks, the spare with them."""
    _native.die_with_parent()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    selector = selectors.DefaultSelector()
    selector.register(channel, selectors.EVENT_READ, "channel")
    selector.register(wake_r, selectors.EVENT_READ, "wake")

    def fork(run, *args) -> int:
        """A child of this forker that keeps none of its descriptors but `args`' ones."""
        pid = os.fork()
        if pid == 0:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for fd in (wake_r, wake_w, channel.fileno(), *(s.fileno() for s in spares)):
                os.close(fd)
            try:
                run(shell, guard, *args)
            finally:
                os._exit(0)
        return pid

    spares: list[socket.socket] = []  # the spare's end of its handoff, this forker's side

    def fork_spare() -> int | None:
        if os.getuid() != 0:
            return None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        spares.append(ours)  # before the fork: the spare closes it, so the forker's end closing ends it
        pid = fork(spare_main, theirs)
        theirs.close()
        return pid

    spare_pid = fork_spare()
    while True:
        for key, _ in selector.select():
            if key.data == "wake":
                os.read(wake_r, 4096)
            else:
                data, fds, _, _ = socket.recv_fds(channel, 1 << 20, 2)
                if not data:
                    os._exit(0)
                setup = json.loads(data)
                pid = None
                if spares:
                    handoff = spares.pop()
                    try:
                        socket.send_fds(handoff, [data], fds)
                        pid = spare_pid
                    except OSError:  # the spare is gone: fork one now
                        pass
                    handoff.close()
                if pid is None:
                    pid = fork(child_main, setup, fds[0], fds[1])
                for fd in fds:
                    os.close(fd)
                channel.send(json.dumps({"started": setup["key"], "pid": pid}).encode())
                spare_pid = fork_spare()
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            channel.send(json.dumps({"exited": pid, "status": status}).encode())


# --- the zygote's side of one notebook ---------------------------------------------------


class Job:
    """One notebook: its cells not yet run, the cell in flight and what was recorded."""

    def __init__(self, key: int, request: dict):
        self.key = key
        self.request = request
        limits = request.get("limits", {})
        self.cells = deque((int(c[0]), str(c[1]), bool(c[2]) if len(c) > 2 else False)
                           for c in request["cells"] if str(c[1]).strip())
        self.timeout = float(request.get("timeout", 30))
        self.deadline = time.monotonic() + float(limits.get("wall_seconds", 600))
        self.memory_limit = int(limits.get("memory_bytes", 0))
        self.disk_limit = int(limits.get("disk_bytes", 0))
        self.max_bytes = int(limits.get("output_bytes", 4 << 20)) * 2 + 65536
        self.uid = request.get("uid")
        self.pid: int | None = None
        self.commands: int | None = None  # the write end of the child's command pipe
        self.replies: socket.socket | None = None
        self.unsent = b""
        self.waiting = False  # for room in the command pipe
        self.in_flight: tuple[int, str, float, bool] | None = None  # index, nonce, when sent, is a test
        self.data = bytearray()
        self.received = 0
        self.outputs: dict[str, list] = {}
        self.counts: dict[str, int] = {}
        self.displays: dict[str, list[tuple[str, int]]] = {}
        self.next_count = 1
        self.truncated = False


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return "cpu-time"
        if sig == signal.SIGXFSZ:
            return "file-size"
        return f"signal-{signal.Signals(sig).name}"
    return f"exit-{os.WEXITSTATUS(status)}"


def _clean_output(output) -> dict | None:
    """An output as nbformat has it, from the child's text; None if it is not one."""
    if not isinstance(output, dict) or output.get("output_type") not in OUTPUT_TYPES:
        return None
    kind = output["output_type"]
    if kind == "stream":
        return {"output_type": kind, "name": "stderr" if output.get("name") == "stderr" else "stdout",
                "text": str(output.get("text", ""))}
    if kind == "error":
        traceback = output.get("traceback")
        return {"output_type": kind, "ename": str(output.get("ename", "")), "evalue": str(output.get("evalue", "")),
                "traceback": [str(line) for line in traceback] if isinstance(traceback, list) else []}
    data, metadata = output.get("data"), output.get("metadata")
    cleaned = {"output_type": kind, "data": data if isinstance(data, dict) else {},
               "metadata": metadata if isinstance(metadata, dict) else {}}
    if kind == "execute_result":
        count = output.get("execution_count")
        cleaned["execution_count"] = count if isinstance(count, int) else None
    return cleaned


def record_reply(job: Job, reply: dict, elapsed: float) -> None:
    """Record the cell in flight from the child's reply; the zygote decides its errors."""
    index, is_test = job.in_flight[0], job.in_flight[3]
    key = str(index)
    outputs = [o for o in map(_clean_output, reply.get("outputs") or []) if o is not None] \
        if isinstance(reply.get("outputs"), list) else []
    count = reply.get("count")
    count = count if isinstance(count, int) and not isinstance(count, bool) else job.next_count
    for update in reply.get("updates") or [] if isinstance(reply.get("updates"), list) else []:
        if isinstance(update, list) and len(update) == 3 and isinstance(update[1], dict):
            for cell, position in job.displays.get(str(update[0]), []):
                target = job.outputs.get(cell, [])
                if position < len(target) and target[position]["output_type"] == "display_data":
                    target[position]["data"] = update[1]
                    target[position]["metadata"] = update[2] if isinstance(update[2], dict) else {}
    for shown in reply.get("displays") or [] if isinstance(reply.get("displays"), list) else []:
        if isinstance(shown, list) and len(shown) == 2 and isinstance(shown[0], int):
            job.displays.setdefault(str(shown[1]), []).append((key, shown[0]))
    is_error = reply.get("status") != "ok"
    if is_error and not any(o["output_type"] == "error" for o in outputs):
        ename = str(reply.get("ename") or "Error")[:200]
        evalue = str(reply.get("evalue") or "")[:2000]
        outputs.append({"output_type": "error", "ename": ename, "evalue": evalue,
                        "traceback": [f"\x1b[0;31m{ename}\x1b[0m: {evalue}"]})
    value = reply.get("result")
    if is_test:  # the test cell's value, as nbgrader reads partial credit (from the first execute_result)
        results = [o for o in outputs if o["output_type"] == "execute_result"]
        value_shown = results[-1] if results and isinstance(value, str) else None
        for other in results:  # displayed by the notebook's code (sys.displayhook called in the test)
            if other is not value_shown:
                other["output_type"] = "display_data"  # stays in place (display ids' positions)
                other.pop("execution_count", None)
        if value_shown is not None:
            value_shown["data"] = {**value_shown["data"], "text/plain": value}
        elif isinstance(value, str):
            outputs.append({"output_type": "execute_result", "execution_count": count,
                            "data": {"text/plain": value}, "metadata": {}})
    timed_out = job.timeout and elapsed > job.timeout + 0.25
    if timed_out and not (outputs and outputs[-1].get("ename") == TIMEOUT_ERROR["ename"]):
        outputs.append(dict(TIMEOUT_ERROR))
    job.outputs[key] = outputs
    job.counts[key] = count
    job.next_count = count + 1
    job.truncated = job.truncated or bool(reply.get("truncated"))


class Zygote:
    """The serving loop: requests in, cells out one at a time, answers out."""

    def __init__(self, shell, guard, stdin, stdout):
        self.stdin = stdin
        self.stdout = stdout
        self.jobs: dict[int, Job] = {}
        self.by_pid: dict[int, Job] = {}
        self.keys = iter(range(1, 1 << 62))
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the forker, and every child after it, keeps none of the executor's pipes
            ours.close()
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            os.close(devnull)
            os.close(stdout.fileno())
            try:
                forker_main(shell, guard, theirs)
            finally:
                os._exit(0)
        theirs.close()
        self.forker_pid = pid
        self.forker = ours
        self.selector = selectors.DefaultSelector()  # made after the fork: no child shares it
        self.selector.register(self.forker, selectors.EVENT_READ, "forker")

    def answer(self, payload: dict) -> None:
        self.stdout.write(json.dumps(payload) + "\n")
        self.stdout.flush()

    # --- starting ---

    def start(self, request: dict) -> None:
        job = Job(next(self.keys), request)
        self.jobs[job.key] = job
        if request.get("kill_uid", True):  # what the uid's last notebook left is gone first
            uidwatch.settle(job.uid, spare=(self.forker_pid,))
        commands_r, commands_w = os.pipe()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)  # before the child can write
        ours.setblocking(False)
        os.set_blocking(commands_w, False)
        job.commands, job.replies = commands_w, ours
        setup = {k: request.get(k) for k in ("dir", "uid", "gid", "env", "limits", "timeout", "keep_traceback")}
        setup["key"] = job.key
        socket.send_fds(self.forker, [json.dumps(setup).encode()], [commands_r, theirs.fileno()])
        os.close(commands_r)
        theirs.close()
        self.send_next(job)  # waits in the pipe for the child; its reply is read once its pid is known

    def started(self, key: int, pid: int) -> None:
        job = self.jobs.get(key)
        if job is None:  # stopped before its child was there
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
            return
        job.pid = pid
        self.by_pid[pid] = job
        if job.in_flight is not None:  # the first cell's time starts with the child
            job.in_flight = (*job.in_flight[:2], time.monotonic(), job.in_flight[3])
        self.selector.register(job.replies, selectors.EVENT_READ, job)

    def send_next(self, job: Job) -> None:
        if not job.cells:
            self.stop(job, "ok")
            return
        index, source, test = job.cells.popleft()
        nonce = secrets.token_hex(16)
        job.in_flight = (index, nonce, time.monotonic(), test)
        job.data.clear()
        job.unsent += (json.dumps({"nonce": nonce, "index": index, "source": source, "test": test}) + "\n").encode()
        self.flush(job)

    def flush(self, job: Job) -> None:
        try:
            written = os.write(job.commands, job.unsent)
        except BlockingIOError:
            written = 0
        except OSError:  # the child closed its end: it is exiting
            written = len(job.unsent)
        job.unsent = job.unsent[written:]
        if job.unsent and not job.waiting:  # a big cell and a full pipe: go on when the child has read
            self.selector.register(job.commands, selectors.EVENT_WRITE, ("commands", job))
            job.waiting = True

    # --- replies ---

    def receive(self, job: Job) -> None:
        """Read what is there on the reply socket; only the child's own bytes count."""
        while job.key in self.jobs:
            try:
                data, ancillary, _, _ = job.replies.recvmsg(1 << 20, socket.CMSG_SPACE(CREDENTIALS.size))
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data, ancillary = b"", []
            if not data:  # every holder closed it: nothing more will come
                self._unregister(job.replies)
                return
            sender = None
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    sender = CREDENTIALS.unpack(payload[:CREDENTIALS.size])[0]
            if sender is None or sender != job.pid:
                continue  # another process of the notebook's (forked, setsid'd...) wrote this
            job.received += len(data)
            if job.received > job.max_bytes:
                self.stop(job, "died", "output-size")
                return
            job.data += data
            self.take_reply(job)

    def take_reply(self, job: Job) -> None:
        while job.in_flight is not None and b"\n" in job.data:
            line, _, rest = bytes(job.data).partition(b"\n")
            job.data[:] = rest
            try:
                reply = json.loads(line)
            except ValueError:
                continue
            _, nonce, sent, _ = job.in_flight
            if not isinstance(reply, dict) or reply.get("nonce") != nonce:
                continue  # written before this cell was sent: not its reply
            record_reply(job, reply, time.monotonic() - sent)
            job.in_flight = None
            if self.over_disk(job):  # after each cell too: a quick notebook could end between two watches
                self.stop(job, "died", "disk")
                return
            self.send_next(job)

    # --- stopping ---

    def exited(self, pid: int, status: int) -> None:
        job = self.by_pid.get(pid)
        if job is None or job.key not in self.jobs:
            return
        self.receive(job)  # a reply written just before the exit is still there
        if job.key in self.jobs:
            self.stop(job, "died", _describe(status))

    def stop(self, job: Job, status: str, reason: str = "") -> None:
        """Finish a notebook: kill all its processes, close its pipes, answer."""
        if self.jobs.pop(job.key, None) is None:
            return
        self.kill(job)
        self._unregister(job.replies)
        if job.waiting:
            self._unregister(job.commands)
        job.replies.close()
        os.close(job.commands)
        if job.pid is not None:
            self.by_pid.pop(job.pid, None)
        if status == "unresponsive" and job.in_flight is not None:
            key = str(job.in_flight[0])
            job.outputs[key] = [dict(TIMEOUT_ERROR)]
            job.counts[key] = job.next_count
        answer = {"id": job.request["id"], "status": status, "outputs": job.outputs,
                  "execution_counts": job.counts, "truncated": job.truncated}
        if reason:
            answer["reason"] = reason
        self.answer(answer)

    def _unregister(self, registered) -> None:
        try:
            self.selector.unregister(registered)
        except (KeyError, ValueError):
            pass

    def kill(self, job: Job) -> None:
        if job.request.get("kill_uid", True):
            uidwatch.kill_all(job.uid, spare=(self.forker_pid,))
        elif job.pid is not None:  # unsandboxed, unprivileged: only the notebook's own session
            try:
                os.killpg(job.pid, signal.SIGKILL)
            except OSError:
                pass

    # --- the clock and the watchdog ---

    def watch(self) -> None:
        now = time.monotonic()
        for job in list(self.jobs.values()):
            if now > job.deadline:
                self.stop(job, "died", "wall-time")
            elif job.in_flight is not None and job.timeout and now > job.in_flight[2] + job.timeout + GRACE_SECONDS:
                self.stop(job, "unresponsive")
            elif job.pid is not None and job.request.get("kill_uid", True):
                pids = uidwatch.processes(job.uid, spare=(self.forker_pid,))
                if job.memory_limit and uidwatch.memory_bytes(pids, job.uid) > job.memory_limit:
                    self.stop(job, "died", "memory")
                elif self.over_disk(job):
                    self.stop(job, "died", "disk")

    def over_disk(self, job: Job) -> bool:
        """Whether the notebook's files together passed the limit (its folder, and what it may
        have written in the shared folders: a few scandir calls)."""
        if not job.disk_limit or not job.request.get("kill_uid", True):
            return False
        return uidwatch.disk_bytes([job.request["dir"]], job.uid, SHARED_DIRS) > job.disk_limit

    def serve(self) -> None:
        self.selector.register(self.stdin.fileno(), selectors.EVENT_READ, "stdin")
        next_watch = time.monotonic()
        while self.stdin_open or self.jobs:
            timeout = None
            if self.jobs:
                timeout = max(0.0, min(next_watch, *(j.deadline for j in self.jobs.values())) - time.monotonic())
            for key, _ in self.selector.select(timeout):
                try:
                    self.handle(key)
                except Exception:
                    if not isinstance(key.data, Job):
                        raise
                    self.stop(key.data, "died", "grader-error")
            if self.jobs and time.monotonic() >= next_watch:
                self.watch()
                next_watch = time.monotonic() + WATCH_SECONDS

    stdin_open = True
    _requests = b""

    def handle(self, key) -> None:
        """One ready descriptor: a request, the forker's news, room in a command pipe, a reply."""
        if key.data == "stdin":
            chunk = os.read(key.fd, 1 << 20)
            if not chunk:
                self.selector.unregister(key.fd)
                self.stdin_open = False
                return
            self._requests += chunk
            while b"\n" in self._requests:
                line, self._requests = self._requests.split(b"\n", 1)
                if line.strip():
                    self.start(json.loads(line))
        elif key.data == "forker":
            message = self.forker.recv(65536)
            if not message:  # the forker is gone: nothing more can run
                for job in list(self.jobs.values()):
                    self.stop(job, "died", "grader-lost")
                raise SystemExit(1)
            event = json.loads(message)
            if "started" in event:
                self.started(event["started"], event["pid"])
            else:
                self.exited(event["exited"], event["status"])
        elif isinstance(key.data, tuple):  # a command pipe with room again
            job = key.data[1]
            self._unregister(key.fd)
            job.waiting = False
            if job.key in self.jobs:
                self.flush(job)
        elif key.data.key in self.jobs:
            self.receive(key.data)


def integrity_guard(shell):
    """The integrity module's defences around test cells, from the shell as it is now (warmed
    up, before any notebook): what test cells get put back."""
    import sabaq.autograders.sandbox.child  # noqa: F401 - its module is the grader's too: sealed with the rest
    from sabaq.autograders.sandbox import integrity

    return integrity.TestCellGuard(shell, bound=True)


def main() -> None:
    from sabaq.autograders.sandbox.shell import make_shell, settle_modules

    # before any import could load _ctypes: no process of the sandbox has raw memory access
    ctypes_sizes.install()
    # `python -m` put the zygote's working folder first on sys.path; students' code must not import from it
    sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]
    modules = [m for m in os.environ.get("SABAQ_PRELOAD", "").split(",") if m]
    arrays.install()  # numpy's arrays only over memory they own, before any library makes one for a notebook
    preload(modules)
    shell = make_shell()
    guard = integrity_guard(shell)
    ctypes_sizes.check_kept_out()  # before the forker, which every child is forked from
    settle_modules()  # last before the forker: what the children's tracebacks look up (see shell)
    # The heap as it is now is the zygote's for good: the collector no longer walks it (a
    # full collection in the forker wrote to every object's header: copy-on-write pages and
    # split huge pages, and each child forked from it after that cost more), then in huge pages
    gc.freeze()
    _native.collapse_memory()  # last before the forker, which every child is forked from
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    stdout = os.fdopen(os.dup(1), "w", encoding="utf-8")
    # nothing the zygote itself prints may corrupt the protocol
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    zygote = Zygote(shell, guard, sys.stdin, stdout)
    stdout.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    stdout.flush()
    zygote.serve()


if __name__ == "__main__":
    main()
