"""The olympiad judge cannot be fooled (issue 15, item 6): each attack as a contestant
would write it, judged for real (root, bubblewrap).

What decides a verdict is measured from outside the judged tree (a cgroup, or without
one a watchdog over the run's uid: both are tried where it matters), the program holds
no descriptor but 0, 1 and 2, every process of its uid dies with the run, its folder is
its uid's alone, and root copies a built binary only if it is a regular file."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from sabaq.autograders.olympiad import run as runner
from sabaq.autograders.olympiad.judge import Judge
from sabaq.autograders.olympiad.scaffold import generate, new
from sabaq.autograders.sandbox import confine
from sabaq.kattis.package import Program, load

pytestmark = [
    pytest.mark.grading,
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("bwrap") is None, reason="needs root and bubblewrap"),
]
NOBODY = 65534  # someone else on the machine: another contestant's own account, say


@pytest.fixture(scope="module")
def sum2(tmp_path_factory):
    root = new("sum2", tmp_path_factory.mktemp("tasks"))
    generate(root, out=lambda *_: None)
    return load(root)


@pytest.fixture(params=["cgroup", "watchdog"])
def backend(request, monkeypatch):
    """Both ways of watching a run: cgroups where the kernel gives them, else the uid watchdog."""
    if request.param == "cgroup" and not confine.cgroups_usable():
        pytest.skip("no writable cgroup v1 hierarchies here")
    monkeypatch.setattr(confine, "cgroups_usable", lambda: request.param == "cgroup")
    return request.param


def write(folder: Path, name: str, text: str) -> Program:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return Program(folder / name, "cpp" if name.endswith(".cpp") else "python")


@pytest.fixture
def boxes():
    """A folder for boxes that their uids can cross (pytest's own is root's only)."""
    folder = Path(tempfile.mkdtemp(prefix="sabaq-test-boxes-"))
    folder.chmod(0o711)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def run_once(tmp_path: Path, boxes: Path, program: Program, stdin: bytes = b"1 2\n", time_limit: float = 1.0,
             memory_mb: int = 256, after=None):
    """One run of ``program`` in a box of its own; (result, output); ``after(box)`` is
    called once the run is over, before the box's uid is given back."""
    (tmp_path / "input").write_bytes(stdin)
    with runner.Box(boxes) as box:
        command = box.prepare(program)
        result = box.run(command, tmp_path / "input", tmp_path / "output", time_limit, memory_mb, 8)
        if after:
            after(box)
    return result, (tmp_path / "output").read_text()


def alive(uid: int) -> list[int]:
    return [p.pid for p in confine.processes_of(uid) if not p.zombie]


FORGER = """
import os, time
a, b = map(int, input().split())
start = time.process_time()
while time.process_time() - start < 1.5:  # too slow for the 1 s limit
    pass
for fd in range(3, 64):  # the old judge's measuring pipe was fd 3: claim 10 ms, then kill the measurer
    try:
        os.write(fd, b"0 0.010000 9000")
    except OSError:
        pass
os.kill(os.getppid(), 9)
print(a + b)
"""

SPREAD = """
import os, time
a, b = map(int, input().split())
kids = []
for _ in range(3):  # 0.6 s of CPU in each of three processes: under any one process's limit
    pid = os.fork()
    if pid == 0:
        start = time.process_time()
        while time.process_time() - start < 0.6:
            pass
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
print(a + b)
"""


def test_a_forged_report_and_a_killed_parent_stay_tle(sum2, tmp_path, backend, monkeypatch):
    # the clock's deadline far away, so that CPU time decides even on a loaded machine
    monkeypatch.setattr(runner, "wall_time", lambda limit: 30.0)
    with Judge(sum2, time_limit=1.0) as judge:
        forged = judge.judge(write(tmp_path / "forger", "solution.py", FORGER))
        spread = judge.judge(write(tmp_path / "spread", "solution.py", SPREAD))
    assert forged.verdict == "TLE" and forged.score == 0, forged.groups
    assert all(t.time > 1.0 for g in forged.groups for t in g.tests if t.verdict == "TLE")
    assert spread.verdict == "TLE" and spread.score == 0, spread.groups
    assert all(t.time > 1.0 for g in spread.groups for t in g.tests if t.verdict == "TLE")


def test_a_judged_program_holds_only_stdin_stdout_and_stderr(tmp_path, boxes):
    program = write(tmp_path / "fds", "solution.py", """
import os
listed = []
for name in os.listdir("/proc/self/fd"):
    try:
        target = os.readlink("/proc/self/fd/" + name)
    except OSError:
        continue  # the listing's own descriptor, closed by now
    if target != "/proc/%d/fd" % os.getpid():
        listed.append(int(name))
opened = []
for fd in range(1024):
    try:
        os.fstat(fd)
        opened.append(fd)
    except OSError:
        pass
print(sorted(listed), opened)
""")
    result, output = run_once(tmp_path, boxes, program)
    assert result.status == "ok", result.stderr
    assert output.split("\n")[0] == "[0, 1, 2] [0, 1, 2]"


DAEMON = """
import os, time
a, b = map(int, input().split())
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:  # a daemon, out of the program's session, holding stdout
            time.sleep(0.05)
    os._exit(0)
print(a + b, flush=True)
if {stay}:
    time.sleep(1000)
"""


def test_a_setsid_daemon_dies_with_the_run_and_the_run_ends_at_its_deadline(tmp_path, boxes, backend, monkeypatch):
    monkeypatch.setattr(runner, "wall_time", lambda limit: 6.0)
    seen = []

    def look(box):
        seen.append(alive(box.uid))

    quits = write(tmp_path / "quits", "solution.py", DAEMON.format(stay=False))
    result, output = run_once(tmp_path, boxes, quits, after=look)
    assert result.status == "ok" and output.strip() == "3"

    stays = write(tmp_path / "stays", "solution.py", DAEMON.format(stay=True))
    result, output = run_once(tmp_path, boxes, stays, after=look)
    assert result.status == "tle" and output.strip() == "3"
    assert 6 <= result.wall < 30  # ended by the deadline (6 s here); nothing holds it open past that
    assert seen == [[], []]  # no process of the run's uid left, before the uid is given back


HOARDERS = """
import os
a, b = map(int, input().split())
ready_r, ready_w = os.pipe()
go_r, go_w = os.pipe()
kids = []
for _ in range(3):  # 120 MB each, held at once: 360 MB against a 256 MB limit
    pid = os.fork()
    if pid == 0:
        block = bytearray(b"x") * (120 << 20)
        os.write(ready_w, b".")
        os.read(go_r, 1)
        os._exit(0)
    kids.append(pid)
ready = b""
while len(ready) < 3:
    ready += os.read(ready_r, 3)
os.write(go_w, b"...")
for pid in kids:
    os.waitpid(pid, 0)
print(a + b)
"""


def test_memory_counts_for_all_the_processes_together(tmp_path, boxes, backend, monkeypatch):
    monkeypatch.setattr(runner, "wall_time", lambda limit: 30.0)  # time for all three to allocate, however loaded
    result, output = run_once(tmp_path, boxes, write(tmp_path / "hoard", "solution.py", HOARDERS), memory_mb=256)
    assert result.status in ("mle", "rte"), (result.status, output, result.stderr[-300:])


def test_nobody_reads_a_solution_while_it_is_judged(sum2, tmp_path):
    """Two judge runs at once: the contestant judged beside, and another account on the
    machine, try to read the solution being judged; root checks that it is there to read."""
    half = f"SECRET-{os.getpid()}"
    tail = f"-{time.time_ns()}"
    marker = half + tail
    victim = write(tmp_path / "victim", "solution.py", f"""
# {marker}
import time
a, b = map(int, input().split())
start = time.process_time()
while time.process_time() - start < 0.3:
    pass
print(a + b)
""")
    thief = write(tmp_path / "thief", "solution.py", f"""
import glob, os
marker = "{half}" + "{tail}"
found = False
for pattern in ["/*.py", "/*/*.py", "/*/*/*.py", "/tmp/**/*.py", "/proc/*/cwd/*.py", "/proc/*/root/tmp/**/*.py",
                "/proc/*/root/*/*.py", "/sandbox/../*/*.py"]:
    for path in glob.glob(pattern, recursive=True):
        try:
            found = found or marker in open(path).read()
        except (OSError, UnicodeDecodeError):
            pass
a, b = map(int, input().split())
print(a + b + found)  # a wrong answer if it read the victim's file
""")
    signals = Path(tempfile.mkdtemp(prefix="sabaq-test-signals-"))  # the spy's to read and root's to write
    signals.chmod(0o755)
    (signals / "where").write_text("")
    spy = subprocess.Popen(["/usr/bin/python3", "-I", "-c", SPY, str(signals), half + tail], user=NOBODY,
                           group=NOBODY, extra_groups=[], stdout=subprocess.PIPE, text=True, cwd="/")
    where: dict[str, os.stat_result] = {}

    def watch():  # root finds the victim's file in the judges' folders, and tells the spy
        # (only there: a walk of all of /tmp, thousands of other tests' files, took longer than
        # the victim's judging on a loaded machine and once never saw it)
        judges = os.path.join(tempfile.gettempdir(), "sabaq-judge-*")
        while not (signals / "done").exists():
            for folder, _, files in (entry for judge in glob.glob(judges) for entry in os.walk(judge)):
                path = os.path.join(folder, "solution.py")
                if "solution.py" in files and path not in where and not path.startswith(str(tmp_path)):
                    try:
                        if marker in Path(path).read_text():
                            where[path] = os.stat(folder)
                            (signals / "where").write_text("\n".join(where))
                    except OSError:
                        pass
            time.sleep(0.05)

    verdicts = {}

    def judge(name, program):
        with Judge(sum2, time_limit=5.0) as j:
            verdicts[name] = j.judge(program)

    threads = [threading.Thread(target=watch), threading.Thread(target=judge, args=("victim", victim)),
               threading.Thread(target=judge, args=("thief", thief))]
    for t in threads:
        t.start()
    for t in threads[1:]:
        t.join()
    (signals / "done").write_text("")
    threads[0].join()
    found, refused = map(int, spy.communicate(timeout=120)[0].split())
    shutil.rmtree(signals)
    assert verdicts["victim"].verdict == "AC" and verdicts["thief"].verdict == "AC", verdicts
    assert where, "the victim's solution was never seen on disk: nothing was tested"
    for folder in where.values():
        assert folder.st_uid != 0 and folder.st_mode & 0o777 == 0o700  # the run's uid's alone
    assert found == 0 and refused > 0  # it tried the exact places, and was refused


# another account's loop: every file under /tmp it can open, and the places root points it to
SPY = """
import os, stat, sys, time
signals, marker = sys.argv[1:]
found = refused = 0
deadline = time.time() + 120
while time.time() < deadline and not os.path.exists(signals + "/done"):
    places = [os.path.join(d, f) for d, _, fs in os.walk("/tmp") for f in fs]
    try:
        places += open(signals + "/where").read().split()
    except OSError:
        pass
    for path in places:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            refused += path.endswith("solution.py")
            continue
        with os.fdopen(fd, "rb") as f:
            if stat.S_ISREG(os.fstat(fd).st_mode) and marker.encode() in f.read(1 << 20):
                found += 1
    time.sleep(0.01)
print(found, refused)
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="C++ needs g++")
def test_root_copies_only_a_regular_file_out_of_the_build_folder(sum2, tmp_path, boxes, monkeypatch):
    """Whatever runs as the build's uid may leave anything at /out0/prog: a link to a secret
    (root copying it would hand the secret to the program), or a FIFO (a hang)."""
    secret_answer = next(g for g in sum2.groups if not g.sample).tests[0].answer
    program = write(tmp_path / "cpp", "main.cpp", "int main() { return 0; }\n")
    built_in = {}

    def hostile(plant):
        def command(sources):
            return ["/bin/sh", "-c", f"ls -ldn /out0 > /out0/seen; {plant}; cat /out0/seen >&2"]
        return command

    for plant in (f"ln -s {secret_answer} /out0/prog", "mkfifo /out0/prog"):
        monkeypatch.setattr(runner, "compile_command", hostile(plant))
        with runner.Box(boxes) as box:
            with pytest.raises(runner.CompileError, match="not a regular file"):
                box.prepare(program)
            assert not (box.folder / "prog").exists()
            built_in[plant] = box.uid
    # the real compiler's folder: the build's uid's own, 0700, made with mkdtemp in the box (not /tmp)
    monkeypatch.setattr(runner, "compile_command", hostile("cp /sandbox/main.cpp /out0/prog"))
    with runner.Box(boxes) as box:
        assert box.prepare(program) == [f"{runner.SANDBOX}/prog"]
        assert (box.folder / "prog").read_text() == program.path.read_text()
        # prepare does not return the build's stderr: the same command by hand shows the folder it had
        build = box.private("build-")
        result = box.execute(box.command(runner.compile_command(["main.cpp"]), writable=[build]), None, None,
                             runner._limits(10, 256, 1), 30)
        mode, _, uid = result.stderr.split()[:3]
        assert mode == "drwx------" and int(uid) == box.uid and build.parent == box.home


FORGER_CPP = r"""
#include <csignal>
#include <cstdio>
#include <ctime>
#include <unistd.h>
int main() {
    long long a, b;
    if (scanf("%lld %lld", &a, &b) != 2) return 1;
    clock_t start = clock();
    volatile unsigned long spin = 0;
    while ((double)(clock() - start) / CLOCKS_PER_SEC < 1.5) spin++;  // too slow for 1 s
    for (int fd = 3; fd < 64; fd++) write(fd, "0 0.010000 9000", 15);
    kill(getppid(), SIGKILL);
    printf("%lld\n", a + b);
}
"""

FDS_CPP = r"""
#include <cstdio>
#include <fcntl.h>
int main() {
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) != -1) printf("%d ", fd);
    printf("\n");
}
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="C++ needs g++")
def test_the_same_attacks_in_cpp(sum2, tmp_path, boxes, monkeypatch):
    monkeypatch.setattr(runner, "wall_time", lambda limit: 30.0)  # CPU time decides, however loaded
    with Judge(sum2, time_limit=1.0) as judge:
        forged = judge.judge(write(tmp_path / "forger", "main.cpp", FORGER_CPP))
    assert forged.verdict == "TLE" and forged.score == 0, forged.groups
    assert all(t.time > 1.0 for g in forged.groups for t in g.tests if t.verdict == "TLE")
    result, output = run_once(tmp_path, boxes, write(tmp_path / "fds", "main.cpp", FDS_CPP))
    assert result.status == "ok" and output.split() == ["0", "1", "2"], (result, output)


JUDGE_THAT_DIES = """
import sys
from pathlib import Path
from sabaq.autograders.olympiad import run as runner
from sabaq.kattis.package import Program
folder, boxes = Path(sys.argv[1]), Path(sys.argv[2])
runner.wall_time = lambda limit: 600.0
with runner.Box(boxes) as box:
    command = box.prepare(Program(folder / "solution.py", "python"))
    print(box.uid, flush=True)
    box.run(command, folder / "input", folder / "output", 300.0, 256, 8)
"""


def test_a_judge_killed_mid_run_leaves_no_process_behind(tmp_path, boxes):
    """The worker dies (OOM, a restart) while a program sleeps: its reaper dies with it,
    bubblewrap with the reaper, the sandbox with bubblewrap."""
    write(tmp_path, "solution.py", "import os, time\nif os.fork() == 0:\n    os.setsid()\ntime.sleep(1000)\n")
    (tmp_path / "input").write_text("")
    judge = subprocess.Popen([sys.executable, "-c", JUDGE_THAT_DIES, str(tmp_path), str(boxes)],
                             stdout=subprocess.PIPE, text=True)
    uid = int(judge.stdout.readline())
    deadline = time.monotonic() + 60
    while len(alive(uid)) < 3 and time.monotonic() < deadline:  # bubblewrap, the program, its child
        time.sleep(0.05)
    assert len(alive(uid)) >= 3
    judge.kill()
    judge.wait()
    deadline = time.monotonic() + 30
    while alive(uid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive(uid) == []
    for group in Path("/sys/fs/cgroup").glob(f"**/sabaq-run-{uid}-*"):  # the dead judge's, now empty
        group.rmdir()


FILLER = """
written = 0
try:
    for i in range(64):  # 64 files of 7 MB (each under the 8 MB a file may hold): 448 MB against 256 MB
        with open("/tmp/fill%d" % i, "wb") as f:
            for _ in range(7):
                f.write(b"x" * (1 << 20))
                f.flush()
                written += 1
except OSError as e:
    print(e)
print(written)
"""


def test_the_sandboxs_tmp_holds_no_more_than_the_runs_memory(tmp_path, boxes, backend, monkeypatch):
    monkeypatch.setattr(runner, "wall_time", lambda limit: 60.0)
    result, output = run_once(tmp_path, boxes, write(tmp_path / "fill", "solution.py", FILLER), time_limit=10.0,
                              memory_mb=256)
    if backend == "cgroup":  # /tmp's pages are the run's memory: the group's limit is reached first
        assert result.status == "mle", (result, output)
    else:  # /tmp is full at its size, which is the run's memory
        assert result.status == "ok" and "No space left on device" in output, (result, output)
        assert int(output.split()[-1]) <= 256


COMPILER_BOMBS = {  # a source that keeps the compiler busy, fills its memory, or makes a huge object file
    "spin.cpp": ("constexpr long spin() {\n    long s = 0;\n    for (int i = 0; i < 200000; ++i)\n"
                 "        for (int j = 0; j < 200000; ++j)\n            s += i ^ j;\n    return s;\n}\n"
                 "constexpr long x = spin();\nint main() { return x == 0; }\n",
                 "the compiler ran out of time (3 s)"),
    "zero.c": ('#include "/dev/zero"\nint main(void) { return 0; }\n', "out of memory"),
    "big.c": ("char big[64 << 20] = {1};\nint main(void) { return big[0] - 1; }\n", "File too large"),
}


@pytest.mark.skipif(shutil.which("g++") is None or shutil.which("gcc") is None, reason="needs gcc and g++")
def test_a_compiler_is_held_to_the_compile_limits(sum2, tmp_path, monkeypatch):
    """Compiling is running the contestant's code too (constexpr, #include of a device): the
    compiler runs under languages.COMPILE_LIMITS (here 3 s, 256 MB, 8 MB of output), and a
    source that would keep it busy for hours, read /dev/zero or write a 64 MB object is CE
    saying which limit it reached, soon, and the judge goes on."""
    from sabaq.autograders.olympiad import languages

    monkeypatch.setattr(languages, "COMPILE_LIMITS", languages.CompileLimits(
        cpu_seconds=3, memory_mb=256, output_mb=8, wall_seconds=30))
    with Judge(sum2) as judge:
        for name, (source, said) in COMPILER_BOMBS.items():
            start = time.monotonic()
            result = judge.judge(write(tmp_path / name.split(".")[0], name, source))
            assert (result.verdict, result.score) == ("CE", 0), (name, result)
            assert said in result.compile_message, (name, result.compile_message)
            assert time.monotonic() - start < 30, name
        good = judge.judge(Program(sum2.root / "submissions" / "accepted" / "solution.py", "python"))
    assert good.verdict == "AC"
