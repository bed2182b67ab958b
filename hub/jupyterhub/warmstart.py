"""Warm start: users' servers forked from a process that has already imported JupyterLab.

Starting ``jupyterhub-singleuser`` costs seconds of CPU, almost all of it Python imports; at
08:30 a class starts thirty at once. The fork server is a fresh Python (started by the hub,
``python -m sabaq.hub.jupyterhub.warmstart``, environment reduced to PATH, LANG and the run's
id) that imports what a server imports at start, then waits. For each server the hub sends it
one end of a new socket pair; it forks at once and the child, not the fork server, reads the
request from it: so a user's token and environment never enter the fork server's memory, and
no later child inherits them. The child then does what the cold start's preexec and exec did:

- a session of its own, default signal handlers, the hub's stdin/stdout/stderr (passed over
  the socket) as 0, 1 and 2, every other descriptor closed;
- the user's gid, supplementary groups and uid (and dumpable again, as after an exec), her home;
- exactly the environment the spawner passes (``os.environ``, and the text /proc/<pid>/environ
  shows, rewritten in place: the fork server is started with room for it), Python's random
  generator reseeded, the user's own site-packages as a new Python would add them;
- then the server's own ``main()``, as the ``jupyterhub-singleuser`` script runs it.

The fork server starts no thread and no event loop (it checks it has one thread before each
fork); it dies when the hub does (its control socket reaches end of file) and with the hub's
process group. Servers it forked run on in sessions of their own, like cold-started ones.
Python kernels are forked likewise, from the hub's kernel fork server (``kernelfork``).
"""

from __future__ import annotations

import atexit
import ctypes
import gc
import importlib
import json
import os
import random
import runpy
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field

from sabaq.hub.jupyterhub.rundir import RUN_ENV

# What a server imports at start (jupyterhub-singleuser as an extension of jupyter_server,
# JupyterLab, the notebook, the extensions installed with sabaq, sabaq's exchange and kernel provisioner); a module
# that is missing is skipped.
PRELOAD = (
    "jupyterhub.singleuser", "jupyterhub.singleuser.extension", "jupyter_server.serverapp",
    "jupyter_server.services.kernels.kernelmanager", "jupyter_server.services.contents.largefilemanager",
    "jupyter_server.gateway.managers", "jupyter_client.manager", "jupyter_client.provisioning.local_provisioner",
    "jupyterlab", "jupyterlab.labapp", "jupyterlab_server", "notebook", "notebook.app", "notebook_shim",
    "jupyter_lsp", "jupyter_server_terminals", "terminado", "jupyterlab_widgets", "jupyterlab_pygments",
    "nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.assignment_list", "nbgrader.server_extensions.validate_assignment",
    "nbgrader.apps", "sabaq.hub.exchange", "sabaq.hub.exchange.status", "nbconvert", "nbformat",
    "sabaq.hub.jupyterhub.warmkernels",
)
# Read by the preloaded modules at import (the singleuser module's mode, jupyter_core's and the
# gateway's settings): a spawn that sets one of them starts cold.
IMPORT_TIME_VARIABLES = ("JUPYTERHUB_SINGLEUSER_EXTENSION", "JUPYTERHUB_SINGLEUSER_APP",
                         "JUPYTER_ALLOW_INSECURE_WRITES", "GATEWAY_WS_PING_INTERVAL_SECS")
ROOM_VARIABLE = "SABAQ_WARM_ENV_ROOM"
ROOM = 32768  # bytes of /proc/<pid>/environ a child can rewrite with the spawner's environment
ARGV_ROOM = "-" * 4096  # an argument the fork server ignores: room for a child's command line
READY = b"ready"
START_TIMEOUT = 120.0  # seconds for the fork server's imports, on a loaded machine
REPLY_TIMEOUT = 60.0  # seconds for a child to say it runs as the user
PR_SET_DUMPABLE = 4


class WarmStartUnavailable(RuntimeError):
    """The fork server could not be started or has gone: start the server cold."""


@dataclass
class Spawn:
    """One server to start: its command line, environment, credentials and folder."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    uid: int | None = None  # None: as the fork server's own user (same-user development mode)
    gid: int | None = None
    groups: list[int] = field(default_factory=list)
    entry: str = "jupyterhub.singleuser:main"  # module:function run as the program's main


# --- framing: an 8-byte length, then JSON -----------------------------------------------


def frame(obj) -> bytes:
    data = json.dumps(obj).encode()
    return struct.pack("!Q", len(data)) + data


def read_exactly(sock: socket.socket, size: int, got: bytes = b"") -> bytes:
    while len(got) < size:
        chunk = sock.recv(size - len(got))
        if not chunk:
            raise EOFError("the other end closed the socket mid-message")
        got += chunk
    return got


def read_frame(sock: socket.socket, first: bytes = b"", limit: int | None = None):
    """One message; ``limit``: the most bytes one from an untrusted sender may announce."""
    head = read_exactly(sock, 8, first[:8])
    (size,) = struct.unpack("!Q", head)
    if limit is not None and size > limit:
        raise ValueError(f"a message of {size} bytes, more than {limit}")
    return json.loads(read_exactly(sock, size, first[8:]))


# --- the hub's side ------------------------------------------------------------------------


class ForkServer:
    """The hub's handle on its fork server: started on first use, again if it has died."""

    def __init__(self, python: str = sys.executable, start_timeout: float = START_TIMEOUT,
                 modules: tuple[str, ...] = PRELOAD, module: str = __name__):
        self.python = python
        self.modules = modules
        self.module = module  # the fork server's program: this one (servers) or another (kernels)
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        self._control: socket.socket | None = None
        self._lock = threading.Lock()

    def environment(self) -> dict[str, str]:
        """The fork server's whole environment: no secret of the hub's, the run's id (so `sabaq up`
        finds it and its children), and room for a child's environment text."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", ROOM_VARIABLE: "x" * ROOM}
        if os.environ.get(RUN_ENV):
            env[RUN_ENV] = os.environ[RUN_ENV]
        return env

    def arguments(self) -> list[str]:
        """Options of the fork server's program (each starts with "-": not a module to import)."""
        return []

    def running(self) -> bool:
        """Started and ready (not while it is still importing)."""
        return self._control is not None and self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        """Start the fork server and wait until it has imported everything (a spawn meanwhile waits)."""
        with self._lock:
            if self.running():
                return
            self._close()
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                # the hub's process group: stopped with the hub (its end of file stops it too)
                self.proc = subprocess.Popen([self.python, "-m", self.module, ARGV_ROOM, *self.arguments(), *self.modules],
                                             stdin=theirs,
                                             env=self.environment(), cwd="/", close_fds=True)
            except OSError as e:
                ours.close()
                raise WarmStartUnavailable(f"the fork server could not be started: {e}") from e
            finally:
                theirs.close()
            ours.settimeout(self.start_timeout)
            try:
                ready = ours.recv(16)
            except OSError:
                ready = b""
            if ready != READY:
                ours.close()
                self._kill()
                raise WarmStartUnavailable("the fork server did not get ready")
            ours.settimeout(None)
            self._control = ours

    def spawn(self, request: Spawn, stdio: tuple[int, int, int] | None = None,
              timeout: float = REPLY_TIMEOUT) -> int:
        """Fork a server for ``request``; its pid once it runs as the user. ``stdio``: the
        descriptors it gets as 0, 1 and 2 (default: /dev/null, and the hub's stdout and stderr)."""
        self.start()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with ours:
            try:
                with self._lock:
                    socket.send_fds(self._control, [b"fork"], [theirs.fileno()])
            except (OSError, AttributeError) as e:
                raise WarmStartUnavailable(f"the fork server does not answer: {e}") from e
            finally:
                theirs.close()
            with open(os.devnull, "rb") as null:
                fds = list(stdio) if stdio else [null.fileno(), sys.stdout.fileno(), sys.stderr.fileno()]
                ours.settimeout(timeout)
                socket.send_fds(ours, [frame(asdict(request))], fds)
            try:
                reply = read_frame(ours)
            except (OSError, EOFError, ValueError) as e:
                raise RuntimeError(f"the warm server did not report that it started: {e}") from e
        if "error" in reply:
            raise RuntimeError(f"the warm server could not start: {reply['error']}")
        return int(reply["pid"])

    def stop(self) -> None:
        with self._lock:
            self._close()
            self._kill()

    def _close(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


    def start_in_background(self) -> None:
        """Start it now, so that the first login does not wait for its imports."""

        def start():
            try:
                self.start()
            except WarmStartUnavailable as e:
                print(f"sabaq warm start: {e}; the next server's start will try again", file=sys.stderr)

        threading.Thread(target=start, name="fork-server-start", daemon=True).start()


def one_per_process(make):
    """A function that gives ``make()``'s one instance in this process, made on first use (the
    hub's spawners may ask from several threads at once)."""
    lock, made = threading.Lock(), []

    def get():
        with lock:
            if not made:
                made.append(make())
            return made[0]

    return get


shared_fork_server = one_per_process(ForkServer)
"""The hub's one fork server."""


# --- the fork server ----------------------------------------------------------------------


def preload(modules=PRELOAD) -> list[str]:
    """Import what a server imports at start; the names that could not be imported."""
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # an extension that is not installed, or fails: the server will say so
            missing.append(name)
    return missing


def thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


def serve(control: socket.socket, modules=PRELOAD) -> int:
    """Fork a child for each socket the hub sends; return when the hub has gone."""
    preload(modules)
    if thread_count() != 1:
        print(f"sabaq warm start: {thread_count()} threads after the imports; not forking", file=sys.stderr)
        return 1
    gc.collect()
    gc.freeze()  # the imported objects stay on shared pages: the collector does not touch them
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    control.send(READY)
    while True:
        msg, fds, _flags, _addr = socket.recv_fds(control, 16, 4)
        if not msg:
            return 0  # the hub has gone
        if len(fds) != 1 or thread_count() != 1:
            for fd in fds:
                os.close(fd)
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = child(fds[0])
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        os.close(fds[0])


def default_signals() -> None:
    """A forked child's signals as a new Python's: default handlers, Ctrl-C a KeyboardInterrupt."""
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def child(conn_fd: int) -> int:
    """In the forked child: become the user's server (see the module's docstring)."""
    default_signals()
    conn = socket.socket(fileno=conn_fd)
    try:
        msg, stdio, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
        request = Spawn(**read_frame(conn, msg))
        become(request, stdio)
    except Exception as e:
        traceback.print_exc()
        try:
            conn.sendall(frame({"error": f"{type(e).__name__}: {e}"}))
        except OSError:
            pass
        return 1
    conn.sendall(frame({"pid": os.getpid()}))
    conn.close()
    os.closerange(3, os.sysconf("SC_OPEN_MAX") if os.sysconf("SC_OPEN_MAX") > 0 else 65536)
    return run_server(request)


def become(request: Spawn, stdio: list[int]) -> None:
    """Session, descriptors, credentials, folder and environment of the user's server."""
    if len(stdio) != 3:
        raise ValueError("stdin, stdout and stderr were not passed")
    os.setsid()
    for target, fd in enumerate(stdio):
        os.dup2(fd, target)
    for fd in stdio:
        if fd > 2:
            os.close(fd)
    if request.uid is not None:
        take_credentials(request.uid, request.gid, request.groups)
    os.chdir(request.cwd)
    os.environ.clear()
    os.environ.update(request.env)
    rewrite_proc_text(ENVIRON, [f"{k}={v}" for k, v in request.env.items()])
    rewrite_proc_text(CMDLINE, request.argv)


def take_credentials(uid: int, gid: int, groups: list[int]) -> None:
    """Become the user for good: gid, groups and uid (real, effective, saved), dumpable again."""
    os.setgid(gid)
    os.setgroups(groups)
    os.setuid(uid)
    if os.getresuid() != (uid,) * 3 or os.getresgid() != (gid,) * 3:
        raise PermissionError("the user's credentials were not taken")
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # as after an exec


ENVIRON, CMDLINE = 47, 45  # env_start and arg_start in /proc/self/stat (fields 50 and 48), counted after the name


def rewrite_proc_text(which: int, strings: list[str]) -> None:
    """Make /proc/<pid>/environ (or cmdline) show ``strings``: without an exec it would show the
    fork server's. They are written over the fork server's own text (its room variable and
    argument make it long enough); if they do not fit, nothing is shown, and the rest is zeros.
    Only a range inside the process's stack (where the kernel put that text) is written."""
    with open("/proc/self/stat", "rb") as f:
        stat = f.read()
    fields = stat[stat.rindex(b")") + 2:].split()
    start, end = int(fields[which]), int(fields[which + 1])
    if not start < end or not in_stack(start, end):
        raise RuntimeError(f"/proc/self/stat names no text at {start:#x}-{end:#x}")
    text = b"".join(s.encode() + b"\0" for s in strings)
    ctypes.memset(start, 0, end - start)
    if len(text) <= end - start:
        ctypes.memmove(start, text, len(text))


def in_stack(start: int, end: int) -> bool:
    with open("/proc/self/maps") as f:
        for line in f:
            if line.rstrip().endswith("[stack]"):
                low, high = (int(x, 16) for x in line.split()[0].split("-"))
                return low <= start and end <= high
    return False


def run_server(request: Spawn) -> int:
    """Run the program's main as its script (or `python -m`, for an entry without a function) would, then exit."""
    random.seed()
    import site

    site.USER_BASE = site.USER_SITE = None  # computed again from the user's HOME
    if site.ENABLE_USER_SITE:
        site.addusersitepackages(set())
    extra = [p for p in request.env.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[1:1] = extra
    module, _, function = request.entry.partition(":")
    try:
        if function:
            sys.argv = [request.argv[0].removesuffix(".exe"), *request.argv[1:]]
            code = getattr(importlib.import_module(module), function)()
        else:  # `python -m module args...`: the arguments after the module's name
            sys.argv = ["-m", *request.argv[request.argv.index(module) + 1:]]
            runpy.run_module(module, run_name="__main__", alter_sys=True)
            code = 0
    except SystemExit as e:
        code = e.code
    except BaseException:
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    return code if isinstance(code, int) else (0 if code is None else 1)


def main() -> int:
    control = socket.socket(fileno=0)
    started = time.monotonic()
    try:
        return serve(control, tuple(a for a in sys.argv[1:] if not a.startswith("-")))
    finally:
        print(f"sabaq warm start: fork server {os.getpid()} stops after {time.monotonic() - started:.0f} s",
              file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
