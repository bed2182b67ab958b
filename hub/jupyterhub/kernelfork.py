"""Warm kernels: students' Python kernels forked from a process that has already imported ipykernel.

A cold kernel (``python -m ipykernel_launcher``) costs seconds of CPU in imports (ipykernel,
IPython, then numpy and ipywidgets in a lesson's set-up cells); at 08:30 thirty students open a
lesson at once. The hub starts one kernel fork server (``python -m sabaq.hub.jupyterhub.kernelfork``,
as root, environment reduced as for ``warmstart``'s), which imports them and listens on a unix
socket in a folder of root's that anyone may connect to. Users' servers ask it through their
kernel provisioner (``sabaq.hub.jupyterhub.warmkernels``). For each connection it learns the
asking process's uid from the kernel (SO_PEERCRED), forks at once, and the child, not the fork
server, reads the request: so a kernel's environment (her server's token) never enters the fork
server's memory (and a user may keep at most ``MAX_PENDING`` such children waiting: each costs a
process the fork server made). The child:

- takes the asking process's uid, with its account's gid and groups, as her server has them (a
  fork server that is not root serves only its own uid), then reads the request, and refuses one
  for any other uid;
- does what ``warmstart``'s child does (its own session and process group, the stdin, stdout and
  stderr the provisioner passed, every other descriptor closed, the folder asked for, exactly the
  environment the provisioner gives, also in /proc/<pid>/environ and cmdline);
- tells the provisioner its pid, and starts the kernel once the provisioner holds it (a pidfd);
- makes what a fresh Python would have made differently from the fork server's: the random
  generators reseeded (numpy's too: students must not share "random" exercises), BLAS's threads
  as many as a cold kernel's (the fork server imported numpy single-threaded: it must not fork
  with threads), the locale, time zone and temporary folder from the environment, and ipywidgets imported again by the kernel's
  own import (its submodules stay loaded), so that it registers with the running kernel;
- exits when the server that asked for it has gone, as a cold kernel does (ipykernel's own
  watch of its parent would watch the fork server: its application is told to watch the server);
- then runs ``ipykernel_launcher`` as ``python -m`` would.

matplotlib is not imported beforehand: it reads its user's settings (``matplotlibrc``, its
folders, MPLBACKEND) when imported. The fork server starts no thread and dies with the hub.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import locale
import os
import pwd
import re
import select
import shutil
import signal
import socket
import stat
import struct
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass

from sabaq.hub.jupyterhub.rundir import RUN_ENV
from sabaq.hub.jupyterhub.warmstart import (
    IMPORT_TIME_VARIABLES,
    READY,
    ForkServer,
    Spawn,
    WarmStartUnavailable,
    become,
    default_signals,
    frame,
    one_per_process,
    preload,
    read_exactly,
    read_frame,
    run_server,
    take_credentials,
    thread_count,
)
from sabaq.processes import is_running, start_time

# What a lesson's kernel imports: ipykernel and IPython, then its set-up cells' numpy and
# ipywidgets, and matplotlib's own dependencies (not matplotlib: see above). Missing ones are skipped.
PRELOAD = (
    "ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell", "ipykernel.comm", "IPython",
    "IPython.core.interactiveshell", "IPython.core.completer", "jedi", "comm", "numpy", "ipywidgets",
    "PIL.Image", "pyparsing", "kiwisolver", "cycler", "dateutil.parser", "contourpy", "packaging.version",
)
PROVISIONER = "sabaq-warm-kernel"  # the entry point of users' servers' provisioner (sabaq.hub.jupyterhub.warmkernels)
# packages whose own import does work for the running kernel (ipywidgets registers its comm targets
# with it): forgotten in a kernel, so that the kernel's import runs them again (their modules stay)
REIMPORTED = ("ipywidgets",)
ENTRY = "ipykernel_launcher"  # the stock python3 kernelspec's `python -m ipykernel_launcher -f {connection_file}`
SOCKET_NAME = "kernels.sock"
RUN_FOLDER = "/run"  # root's, on Debian and in containers
# numpy's BLAS would start threads at import (a process with threads must not fork); a child
# sets as many as a cold kernel would have
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# read by a Python as it starts (the fork server's are fixed): a kernel whose environment sets one starts cold
INTERPRETER_VARIABLES = ("PYTHONHOME", "PYTHONOPTIMIZE", "PYTHONDEBUG", "PYTHONINSPECT", "PYTHONNOUSERSITE",
                         "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE", "PYTHONWARNINGS", "PYTHONDEVMODE",
                         "PYTHONSAFEPATH", "PYTHONUTF8", "PYTHONMALLOC", "PYTHONFAULTHANDLER", "PYTHONTRACEMALLOC",
                         "PYTHONPLATLIBDIR", "PYTHONIOENCODING", "PYTHONUNBUFFERED", "PYTHONINTMAXSTRDIGITS",
                         "PYTHONPYCACHEPREFIX", "PYTHONCASEOK", "PYTHONEXECUTABLE", "PYTHONUSERBASE")
# read by the preloaded modules at import (IPython's, numpy's): a kernel whose environment sets one starts cold
KERNEL_IMPORT_VARIABLES = ("IPYTHON_SUPPRESS_CONFIG_ERRORS", "NUMPY_MADVISE_HUGEPAGE", "NPY_PROMOTION_STATE")
REQUEST_LIMIT = 1 << 20  # bytes of a request (its environment, mostly)
MAX_PENDING = 8  # connections of one user whose children have not started a kernel yet
REQUEST_TIMEOUT = 30.0  # seconds a connection may take to send its request (then its child gives up)
PARENT_POLL = 1.0  # seconds between two looks at the asking server, as ipykernel's own watch


class WarmKernelUnavailable(RuntimeError):
    """No warm kernel this time (no fork server, a refusal, a timeout): start it cold."""


@dataclass(frozen=True)
class Peer:
    """The process at the other end of a unix socket, as the kernel tells it (SO_PEERCRED)."""

    pid: int
    uid: int
    gid: int


def peer_of(sock: socket.socket) -> Peer:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return Peer(*struct.unpack("3i", creds))


def can_start_warm(argv: list[str], env: dict[str, str], python: str = sys.executable) -> bool:
    """Only the stock python3 kernel of this very Python, with no setting a fork cannot take."""
    return (len(argv) >= 3 and argv[1:3] == ["-m", ENTRY]
            and os.path.abspath(argv[0]) == os.path.abspath(python)
            and not any(env.get(name) for name in (*INTERPRETER_VARIABLES, *IMPORT_TIME_VARIABLES,
                                                    *KERNEL_IMPORT_VARIABLES)))


# --- the hub's side ------------------------------------------------------------------------


class KernelForkServer(ForkServer):
    """The hub's handle on its kernel fork server and the socket users' servers reach it by."""

    def __init__(self, folder: str | None = None, **kwargs):
        kwargs.setdefault("modules", PRELOAD)
        super().__init__(module=__name__, **kwargs)
        self.folder = folder or default_folder()
        self.socket_path = os.path.join(self.folder, SOCKET_NAME)

    def start(self) -> None:
        """Start it, in its folder again if a fork server that stopped removed it."""
        with contextlib.suppress(FileExistsError):
            os.mkdir(self.folder, 0o755)
        if not self._folder_is_ours():
            raise WarmStartUnavailable(f"{self.folder} is not a folder of this user's only")
        super().start()

    def stop(self) -> None:
        super().stop()
        if self._folder_is_ours():
            shutil.rmtree(self.folder, ignore_errors=True)  # killed: it could not remove its socket

    def _folder_is_ours(self) -> bool:
        """A folder (not a link) of this user's that nobody else may write in."""
        try:
            st = os.lstat(self.folder)
        except FileNotFoundError:
            return False
        return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o022

    def environment(self) -> dict[str, str]:
        return {**super().environment(), **SINGLE_THREADED}

    def arguments(self) -> list[str]:
        return [f"--socket={self.socket_path}"]


def default_folder() -> str:
    """Where the socket is: a folder of root's that anyone may enter, so nobody else can put a
    socket at its path. One per run of `sabaq up`, in /run: a hub that `sabaq up` starts again
    listens at the same path, which the servers that outlived the last hub name. Elsewhere (not
    root, or no run) a fresh one in /tmp."""
    run = os.environ.get(RUN_ENV, "")
    if os.geteuid() == 0 and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", run) and os.path.isdir(RUN_FOLDER):
        with contextlib.suppress(FileExistsError):
            os.mkdir(os.path.join(RUN_FOLDER, "sabaq"), 0o755)
        return os.path.join(RUN_FOLDER, "sabaq", f"kernels-{run}")
    folder = tempfile.mkdtemp(prefix="sabaq-kernels-")
    os.chmod(folder, 0o755)
    return folder


shared_kernel_fork_server = one_per_process(KernelForkServer)
"""The hub's one kernel fork server."""


# --- the provisioner's side ------------------------------------------------------------------


def ask_for_kernel(socket_path: str, argv: list[str], env: dict[str, str], cwd: str,
                   timeout: float = REQUEST_TIMEOUT) -> tuple[int, int]:
    """A warm kernel for this process's user: its pid and a pidfd that holds it."""
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stdin, no_input = os.pipe()  # as a cold kernel's: a pipe nobody writes to
    try:
        conn.settimeout(timeout)
        conn.connect(socket_path)
        server = peer_of(conn)
        if server.uid not in (0, os.getuid()):  # a socket put there by someone else: tell it nothing
            raise WarmKernelUnavailable(f"the kernel fork server runs as uid {server.uid}, not root's")
        request = {"argv": argv, "env": env, "cwd": cwd, "uid": os.getuid()}
        socket.send_fds(conn, [frame(request)], [stdin, 1, 2])
        reply = read_frame(conn)
        if "error" in reply:
            raise WarmKernelUnavailable(f"the kernel fork server refused: {reply['error']}")
        pid = int(reply["pid"])
        pidfd = os.pidfd_open(pid)  # the child waits for "go": this is it, and it cannot be recycled
        try:
            conn.sendall(b"go")
        except OSError:
            os.close(pidfd)
            raise
        return pid, pidfd
    except (OSError, EOFError, ValueError, KeyError) as e:
        raise WarmKernelUnavailable(f"the kernel fork server did not start a kernel: {e}") from e
    finally:
        conn.close()
        os.close(stdin)
        os.close(no_input)


# --- the fork server ----------------------------------------------------------------------


def serve(control: socket.socket, listener: socket.socket, modules=PRELOAD) -> int:
    """Fork a child for each connection; return when the hub has gone."""
    preload(modules)
    if thread_count() != 1:
        print(f"sabaq warm kernels: {thread_count()} threads after the imports; not forking", file=sys.stderr)
        return 1
    gc.collect()
    gc.freeze()  # the imported objects stay on shared pages
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stopped with the hub's group: its socket removed
    control.send(READY)
    pending: dict[int, int] = {}  # a pipe's end -> the asker's uid, until her child runs a kernel or ends
    while True:
        readable, _, _ = select.select([control, listener, *pending], [], [])
        if control in readable and not control.recv(16):
            return 0  # the hub has gone
        for done in [r for r in readable if isinstance(r, int)]:
            os.close(done)
            del pending[done]
        if listener not in readable:
            continue
        try:
            conn, _ = listener.accept()
        except OSError:
            continue
        peer = peer_of(conn)
        if thread_count() != 1 or list(pending.values()).count(peer.uid) >= MAX_PENDING:
            conn.close()  # a student who opens connections and says nothing gets no more root's forks
            continue
        done, busy = os.pipe()  # the child holds ``busy`` open while it is pending
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                for fd in (*pending, done):
                    os.close(fd)
                control.close()
                listener.close()
                code = child(conn, peer)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        os.close(busy)
        pending[done] = peer.uid
        conn.close()


def child(conn: socket.socket, peer: Peer) -> int:
    """In the forked child: become the asker, then read and check her request (see the module's docstring)."""
    default_signals()
    server_started = start_time(peer.pid)  # while it waits for the answer: the asking server itself
    conn.settimeout(REQUEST_TIMEOUT)
    try:
        if peer.uid != os.getuid():  # her request is read as her: nothing of it as root
            take_credentials(*credentials_of(peer))
        msg, stdio, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
        request = read_frame(conn, msg, limit=REQUEST_LIMIT)
        spawn = kernel_spawn(request, peer)
        become(spawn, stdio)
    except Exception as e:
        try:
            conn.sendall(frame({"error": f"{type(e).__name__}: {e}"}))
        except OSError:
            pass
        return 1
    try:
        conn.sendall(frame({"pid": os.getpid()}))
        go = read_exactly(conn, 2)
    except (OSError, EOFError):
        go = b""
    if go != b"go":  # the provisioner has gone, or could not hold this process
        return 1
    conn.close()
    os.closerange(3, os.sysconf("SC_OPEN_MAX") if os.sysconf("SC_OPEN_MAX") > 0 else 65536)
    sys.path[0] = os.getcwd()  # as `python -m` puts its folder first (the launcher takes it out again)
    fresh_process_state(spawn.env)
    kernel_app(peer, server_started)
    return run_server(spawn)


def credentials_of(peer: Peer) -> tuple[int, int, list[int]]:
    """The asker's account: its uid, gid and groups, as her server has them (the spawner's)."""
    if os.getuid() != 0:
        raise PermissionError(f"this fork server cannot start kernels as uid {peer.uid}: refused")
    try:
        account = pwd.getpwuid(peer.uid)
    except KeyError:
        raise PermissionError(f"uid {peer.uid} has no account: refused") from None
    return account.pw_uid, account.pw_gid, os.getgrouplist(account.pw_name, account.pw_gid)


def kernel_spawn(request: dict, peer: Peer) -> Spawn:
    """The kernel the asker may have (already as her): as her own uid only, the stock kernel only."""
    argv, env, cwd, uid = request["argv"], request["env"], request["cwd"], request["uid"]
    if uid != peer.uid:
        raise PermissionError(f"uid {peer.uid} asked for a kernel as uid {uid}: refused")
    if not can_start_warm(argv, env):
        raise ValueError("not the stock python3 kernel of this Python, or a setting a fork cannot take")
    return Spawn(argv=argv, env=env, cwd=cwd, entry=ENTRY)


def fresh_process_state(env: dict[str, str]) -> None:
    """What a new Python would have made from its own start and environment, not the fork server's."""
    for name in REIMPORTED:
        sys.modules.pop(name, None)
    tempfile.tempdir = None  # worked out again, from her TMPDIR, when first needed
    time.tzset()  # time.timezone and tzname, from her TZ
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()  # the global generator: seeded at import, once for every kernel
        blas_threads(int(env.get("OPENBLAS_NUM_THREADS") or env.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
    try:
        locale.setlocale(locale.LC_CTYPE, "")
    except locale.Error:
        pass
    user_cache_folders()


def user_cache_folders() -> None:
    """The completion caches in the user's home, as her HOME and XDG_CACHE_HOME say: jedi and
    parso work their folders out when imported, which the fork server did as root."""
    settings, cache = sys.modules.get("jedi.settings"), sys.modules.get("parso.cache")
    if settings is not None:
        importlib.reload(settings)
    if cache is not None:
        cache._default_cache_path = cache._get_default_cache_path()


def blas_threads(count: int) -> None:
    """Give numpy's OpenBLAS ``count`` threads (it was loaded with one)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "openblas" in line.split()[-1]}
    for path in paths:
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_", "openblas_set_num_threads"):
            setter = getattr(lib, name, None)
            if setter is not None:
                setter(ctypes.c_int(count))
                break


class ServerWatch(threading.Thread):
    """ipykernel's watch of its parent (its ParentPollerUnix) for a kernel whose parent is the fork
    server: it exits when the server that asked for it has gone."""

    def __init__(self, pid: int, started: int | None):
        super().__init__(name="server-watch", daemon=True)
        self.pid, self.started = pid, started

    def run(self):
        while is_running(self.pid, self.started):
            time.sleep(PARENT_POLL)
        print("sabaq warm kernel: its server has gone, shutting down", file=sys.stderr)
        os._exit(1)


def kernel_app(server: Peer, started: int | None) -> None:
    """ipykernel's application, made before ``ipykernel_launcher`` asks for it (it is a singleton):
    told its parent's pid from JPY_PARENT_PID, which it read when the fork server imported it, and
    watching that server, not its own parent, as ParentPollerUnix would."""
    from ipykernel.kernelapp import IPKernelApp

    class WarmKernelApp(IPKernelApp):
        def init_poller(self):
            if self.parent_handle:
                pid = self.parent_handle
                self.poller = ServerWatch(pid, started if pid == server.pid else start_time(pid))

    WarmKernelApp.instance(parent_handle=int(os.environ.get("JPY_PARENT_PID") or 0))


def main() -> int:
    control = socket.socket(fileno=0)
    path = next(a.removeprefix("--socket=") for a in sys.argv[1:] if a.startswith("--socket="))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # a socket left by a fork server that was killed
    try:
        listener.bind(path)
        os.chmod(path, 0o666)  # anyone may ask: each is answered as herself only
        listener.listen(128)
        return serve(control, listener, tuple(a for a in sys.argv[1:] if not a.startswith("-")))
    finally:
        listener.close()
        with contextlib.suppress(OSError):
            os.unlink(path)
            os.rmdir(os.path.dirname(path))  # nothing left in /tmp (a new start makes it again, checked)
        print(f"sabaq warm kernels: fork server {os.getpid()} stops", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
