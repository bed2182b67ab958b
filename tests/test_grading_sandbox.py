"""Hostile submissions are contained; the next submission grades normally."""

from __future__ import annotations

import json
import os
import time

import pytest

from sabaq.autograders.sandbox.bwrap import SandboxError, check_bubblewrap
from sabaq.autograders.sandbox.executor import Executor
from sabaq.settings import Settings

pytestmark = pytest.mark.grading


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory):
    """A stand-in for the teacher's course folder and the data directory."""
    d = tmp_path_factory.mktemp("secret-course")
    (d / "source.ipynb").write_text("### BEGIN HIDDEN TESTS")
    (d / "gradebook.db").write_text("grades")
    os.chmod(d, 0o755)
    return d


@pytest.fixture(scope="module")
def executor(tmp_path_factory):
    os.environ["JUPYTERHUB_API_TOKEN"] = "hub-token-must-not-leak"
    os.environ["SABAQ_WORKER_TOKEN"] = "worker-token-must-not-leak"
    settings = Settings.load(data_dir=tmp_path_factory.mktemp("data"), environ={
        "SABAQ_GRADING_CELL_TIMEOUT": "3", "SABAQ_GRADING_MEMORY_MB": "1024", "SABAQ_GRADING_PROCESSES": "32",
        "SABAQ_GRADING_OUTPUT_MB": "1", "SABAQ_GRADING_NOTEBOOK_SECONDS": "30",
    })
    ex = Executor(settings.grading, parallel=2).start()
    yield ex
    ex.close()
    for key in ("JUPYTERHUB_API_TOKEN", "SABAQ_WORKER_TOKEN"):
        os.environ.pop(key, None)


def run(executor, *sources, files=None):
    result = executor.run(files or {"mine.txt": b"mine"}, list(enumerate(sources))).result(timeout=120)
    return result


def texts(result, index=0) -> str:
    parts = []
    for o in result["outputs"].get(str(index), []):
        parts.append(o.get("text") or o.get("ename", "") + ": " + o.get("evalue", "")
                     or json.dumps(o.get("data", {})))
    return "".join(parts)


def assert_healthy(executor):
    result = run(executor, "print(sum(range(10)))")
    assert result["status"] == "ok" and texts(result) == "45\n"


def test_reads_of_solutions_gradebook_secrets_and_system_files_fail(executor, secrets_dir):
    code = f"""
import os
for path in [{str(secrets_dir / 'source.ipynb')!r}, {str(secrets_dir / 'gradebook.db')!r}, '/etc/shadow',
             '/root/.bashrc', '/home', '/var/lib/postgresql']:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path).read()
        print('READ', path)
    except OSError as e:
        print('blocked', type(e).__name__)
print(open('mine.txt').read())
"""
    result = run(executor, code)
    out = texts(result)
    assert "READ" not in out and out.count("blocked") == 6
    assert out.endswith("mine\n")
    assert_healthy(executor)


def test_environment_holds_no_tokens(executor):
    out = texts(run(executor, "import os; print(dict(os.environ))"))
    assert "must-not-leak" not in out and "SABAQ" not in out and "JUPYTERHUB" not in out
    assert "'NBGRADER_EXECUTION': 'autograde'" in out


def test_no_network(executor):
    code = ("import socket\ntry:\n    socket.create_connection(('127.0.0.1', 22), timeout=2)\n    print('CONNECTED')\n"
            "except OSError as e:\n    print('no network', e.errno)")
    assert "no network" in texts(run(executor, code))


def test_another_submission_cannot_be_read(executor):
    writer = executor.run({"answer.txt": b"secret answer of A"}, [(0, "import time; time.sleep(3)")])
    time.sleep(0.5)
    code = """
import os
found = []
for name in os.listdir('/grade') if os.path.isdir('/grade') else []:
    path = os.path.join('/grade', name, 'answer.txt')
    try:
        found.append(open(path).read())
    except OSError as e:
        found.append(type(e).__name__)
print(found)
"""
    out = texts(run(executor, code))
    writer.result(timeout=60)
    assert "secret answer of A" not in out


def test_fork_bomb_memory_output_and_parent_attacks_are_contained(executor):
    bomb = run(executor, "import os\nfor _ in range(10000):\n    os.fork()")
    assert bomb["status"] in ("ok", "died")
    assert "BlockingIOError" in json.dumps(bomb["outputs"]) or bomb["status"] == "died"
    assert_healthy(executor)

    memory = run(executor, "x = bytearray(10 * 1024 ** 3)")
    assert "MemoryError" in texts(memory)

    flood = run(executor, "print('x' * 100_000_000)", "print('after')")
    assert len(json.dumps(flood["outputs"])) < 3 << 20
    assert "output limit" in json.dumps(flood["outputs"]) or flood["status"] == "died"

    parent = run(executor, "import os, signal\nfor pid in (os.getppid(), 1):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
                           "    except OSError as e:\n        print(type(e).__name__)")
    assert texts(parent).count("PermissionError") == 2

    outside = run(executor, "for p in ['/usr/evil', '/grade/evil', '/etc/evil']:\n    try:\n        open(p, 'w')\n"
                            "        print('WROTE', p)\n    except OSError as e:\n        print(type(e).__name__)")
    assert "WROTE" not in texts(outside)
    assert_healthy(executor)


def test_infinite_loops_are_interrupted_or_stopped(executor):
    interrupted = run(executor, "while True:\n    pass", "print('next cell runs')")
    names = [o.get("ename") for o in interrupted["outputs"]["0"]]
    assert names == ["KeyboardInterrupt", "CellTimeoutError"]
    assert texts(interrupted, 1) == "next cell runs\n"

    stubborn = run(executor, "while True:\n    try:\n        while True:\n            pass\n    except KeyboardInterrupt:\n"
                             "        pass", "print('never')")
    assert stubborn["status"] == "unresponsive"
    assert "1" not in stubborn["outputs"]
    assert_healthy(executor)


def test_sandbox_fails_closed_without_bubblewrap(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SandboxError, match="apt-get install bubblewrap"):
        check_bubblewrap()


def test_without_root_notebooks_run_one_at_a_time_in_a_user_namespace():
    """A Kubernetes worker pod runs as an ordinary user: bubblewrap still sandboxes."""
    import subprocess
    import sys

    script = (
        "import json, tempfile\n"
        "from sabaq.settings import Settings\n"
        "from sabaq.autograders.sandbox.executor import Executor\n"
        "s = Settings.load(data_dir=tempfile.mkdtemp(), environ={})\n"
        "ex = Executor(s.grading).start()\n"
        "r = ex.run({'a.txt': b'mine'}, [(0, \"import os; print(os.getuid(), open('a.txt').read())\"),"
        " (1, \"import socket; socket.create_connection(('127.0.0.1', 22), timeout=2)\")]).result(120)\n"
        "print(json.dumps({'parallel': ex.parallel, 'result': r}))\n"
        "ex.close()\n")
    out = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/tmp",
                          sys.executable, "-c", script], capture_output=True, text=True, timeout=180, cwd="/tmp")
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["parallel"] == 1 and report["result"]["status"] == "ok"
    assert report["result"]["outputs"]["0"][0]["text"] == "65534 mine\n"
    assert report["result"]["outputs"]["1"][0]["output_type"] == "error"  # no network


def test_tracebacks_are_formatted_as_ipython_formats_them(monkeypatch):
    """The grading shell formats each distinct frame once (module lookup, source, colours):
    the text is exactly IPython's, for a RecursionError of a cell, for frames whose
    arguments were deleted and for a library's frames."""
    import inspect
    import re
    import sys

    from IPython.core import ultratb
    from pygments.formatters import terminal256

    from sabaq.autograders.sandbox import shell as shell_module
    from sabaq.autograders.sandbox.shell import Recorder, make_shell

    shell = make_shell()
    shell.recorder = Recorder(1 << 20)
    shell.run_cell("def fib(n):\n    return fib(n - 1)\n"
                   "def gone(n, *rest, **kw):\n    if n:\n        return gone(n - 1, n)\n    del rest\n"
                   "    raise ValueError('Қате')\n")
    formatted, counted = [], []
    tb_class = type(shell.InteractiveTB)
    original = tb_class.format_record
    monkeypatch.setattr(tb_class, "format_record",
                        lambda self, record: formatted.append(record) or original(self, record))
    count_lines = ultratb.get_line_number_of_frame
    colour_tables = []  # pygments' formatter builds one when made
    setup_styles = terminal256.Terminal256Formatter._setup_styles
    monkeypatch.setattr(terminal256.Terminal256Formatter, "_setup_styles",
                        lambda self: colour_tables.append(self) or setup_styles(self))
    monkeypatch.setattr(shell_module, "_formatters", {})
    monkeypatch.setattr(ultratb, "get_line_number_of_frame", lambda frame: counted.append(frame) or count_lines(frame))
    texts = []
    for cell in ("fib(3)", "gone(3)", "import json\njson.loads('{bad')"):
        shell.run_cell(cell)
        info = (sys.last_type, sys.last_value, sys.last_traceback)
        formatted.clear()
        counted.clear()
        once = shell.InteractiveTB.structured_traceback(*info)
        if cell == "fib(3)":
            assert len(formatted) < 5  # a thousand frames of fib, formatted once
            assert len(counted) < 5  # and the cell's file (there is none) looked for once
        every = shell.InteractiveTB.structured_traceback.__wrapped__(*info)
        assert once == every
        texts.append(re.sub("\x1b\\[[0-9;]*m", "", "".join(once)))
    assert texts[0].count("return fib(n - 1)") > 900 and "RecursionError" in texts[0]
    # the cells' errors (shown, then formatted twice above) took one formatter; the unwrapped ones each a new one
    assert len(colour_tables) == 1 + len(texts)
    assert "ValueError" in texts[1] and "Қате" in texts[1] and "JSONDecodeError" in texts[2]
    assert inspect.getmodule.__module__ == "inspect"  # put back after formatting
    assert ultratb.get_line_number_of_frame is not count_lines or counted == []
    assert inspect.getsourcelines.__module__ == "inspect"
    assert "format_record" not in vars(shell.InteractiveTB)


def test_a_cells_traceback_walks_no_module_unless_one_may_have_its_file(monkeypatch):
    """The zygote maps every module's file before it forks (``settle_modules``): formatting a
    cell's traceback then needs no walk over sys.modules (``inspect.getmodule``'s, which
    touched every module in a fresh fork) while no module was added or changed its file
    since; when one was, IPython's own lookup runs. The text is IPython's either way, also
    when an IPython module claims the cell's file (IPython leaves its own frames out)."""
    import inspect
    import re
    import sys
    import types

    from sabaq.autograders.sandbox import shell as shell_module
    from sabaq.autograders.sandbox.shell import Recorder, make_shell

    shell = make_shell()
    shell.recorder = Recorder(1 << 20)
    shell.run_cell("def bad(x):\n    raise ValueError(f'Қате {x}')\n")
    cell_file = shell.user_ns["bad"].__code__.co_filename
    monkeypatch.setattr(shell_module, "_settled", [])
    for name in ("modulesbyfile", "_filesbymodname"):  # the walks below map the cell's file
        monkeypatch.setattr(inspect, name, dict(getattr(inspect, name)))
    looked_up = []  # the cells' files IPython's getmodule was asked for
    getmodule = inspect.getmodule
    monkeypatch.setattr(inspect, "getmodule", lambda obj, _filename=None: looked_up.append(
        _filename or shell_module._code_of(obj).co_filename) or getmodule(obj, _filename))

    def traceback_of_bad():
        shell.run_cell("bad(1)")
        info = (sys.last_type, sys.last_value, sys.last_traceback)
        looked_up.clear()
        once = shell.InteractiveTB.structured_traceback(*info)
        walked = [f for f in looked_up if f in shell.compile._filename_map]
        assert once == shell.InteractiveTB.structured_traceback.__wrapped__(*info)
        return re.sub("\x1b\\[[0-9;]*m", "", "".join(once)), walked

    shell_module.settle_modules()
    text, walked = traceback_of_bad()
    assert walked == [] and "raise ValueError" in text and "Қате 1" in text
    release = sys.modules["IPython.core.release"]  # an IPython module's file changed after the settling
    monkeypatch.setattr(release, "__file__", cell_file)
    text, walked = traceback_of_bad()
    assert walked and "raise ValueError" not in text and "Қате 1" in text
    monkeypatch.undo()
    monkeypatch.setattr(shell_module, "_settled", [])
    for name in ("modulesbyfile", "_filesbymodname"):
        monkeypatch.setattr(inspect, name, dict(getattr(inspect, name)))
    monkeypatch.setattr(inspect, "getmodule", lambda obj, _filename=None: looked_up.append(
        _filename or shell_module._code_of(obj).co_filename) or getmodule(obj, _filename))
    shell_module.settle_modules()
    claimer = types.ModuleType("IPython.claims_the_cell")  # an IPython module added after the settling
    claimer.__file__ = cell_file
    monkeypatch.setitem(sys.modules, claimer.__name__, claimer)
    text, walked = traceback_of_bad()
    assert walked and "raise ValueError" not in text
    monkeypatch.undo()

    class Loud(str):  # what a notebook could put in the module's list (it can import the module)
        def __eq__(self, other):
            raise AssertionError("the notebook's code ran")

        def __hash__(self):
            raise AssertionError("the notebook's code ran")

    for position in range(4):
        monkeypatch.setattr(shell_module, "_settled", [])
        shell_module.settle_modules()
        tags = shell_module._settled[2]
        tags[1] = tags[1] + 1  # the first module's dict looks changed: its name is read
        shell_module._settled[position] = (
            dict(sys.modules), (Loud("a"),) * len(tags), [Loud("0")] * len(tags), (Loud("sys"),) * len(tags))[position]
        text, _ = traceback_of_bad()  # read by exact types: nothing of the notebook's runs
        assert "raise ValueError" in text


def test_an_error_is_formatted_once_and_the_history_keeps_ipythons_text(monkeypatch):
    """IPython formats a cell's error twice (to show it, to keep it in the history); the
    grading shell keeps the text it showed, which must be what IPython would have kept."""
    import sys

    from IPython.core.interactiveshell import InteractiveShell

    from sabaq.autograders.sandbox.shell import Recorder, make_shell

    shell = make_shell()
    shell.recorder = Recorder(1 << 20)
    shell.run_cell("def fib(n):\n    return fib(n - 1)\ndef bad(x):\n    raise ValueError(f'Қате {x}')\n")
    calls = []
    wrapped = shell.InteractiveTB.structured_traceback
    monkeypatch.setattr(shell.InteractiveTB, "structured_traceback",
                        lambda *a, **kw: calls.append(a) or wrapped(*a, **kw))
    for cell, ename in (("bad(1)", "ValueError"), ("fib(2)", "RecursionError"), ("1/0", "ZeroDivisionError")):
        calls.clear()
        count = shell.execution_count
        shell.run_cell(cell, store_history=True)
        assert len(calls) == 1
        kept = shell.history_manager.exceptions[count]
        assert kept["ename"] == ename
        assert kept == InteractiveShell._format_exception_for_storage(shell, sys.last_value)
        assert shell._shown == (None, None)  # no frames held after the cell
    shell.run_cell("1 +* 2", store_history=True)  # a syntax error: IPython's own storage
    assert shell.history_manager.exceptions[shell.execution_count - 1]["ename"] == "SyntaxError"


def test_a_notebook_starts_with_a_new_shell_although_the_zygote_warmed_its_shell_up(executor):
    """The zygote runs warm-up cells before forking; a notebook must see none of them."""
    result = run(executor, "print(len(In), Out, repr(_), [k for k in globals() if k in ('_warm', 'broken')])", "1 + 1")
    assert result["status"] == "ok"
    assert texts(result) == "2 {} '' []\n"
    assert result["execution_counts"] == {"0": 1, "1": 2}
    assert result["outputs"]["1"][0]["execution_count"] == 2


def test_the_warm_heap_is_frozen_and_its_collapse_is_not_the_notebooks(executor):
    """The zygote froze its heap (no collection walks it: a full one in the forker touched
    every page of it) and put it in huge pages before forking; a notebook cannot do that again."""
    result = run(executor, "import gc\nprint(gc.get_freeze_count() > 10000)",
                 "from sabaq.autograders.sandbox import _native\n_native.collapse_memory()")
    assert texts(result) == "True\n"
    assert result["outputs"]["1"][-1]["ename"] == "PermissionError"


@pytest.mark.parametrize("max_traceback", [-1, 0, 1, 2, 3, 4, 7, 100])
def test_the_sandbox_sends_enough_of_a_traceback_for_limit_output_to_cut_it_alike(max_traceback):
    """A RecursionError's thousand entries are cut in the sandbox; nbgrader's LimitOutput must give the same."""
    import nbformat
    from nbgrader.preprocessors import LimitOutput

    from sabaq.autograders.notebook.engine import traceback_to_keep
    from sabaq.autograders.sandbox.shell import prune_traceback

    full = [f"frame {i}" for i in range(1000)]

    def limited(traceback):
        cell = nbformat.v4.new_code_cell("f()", outputs=[nbformat.v4.new_output(
            "error", ename="RecursionError", evalue="deep", traceback=list(traceback))])
        cell, _ = LimitOutput(max_traceback=max_traceback).preprocess_cell(cell, {}, 0)
        return cell.outputs[0].traceback

    sent = prune_traceback(full, traceback_to_keep(max_traceback))
    assert limited(sent) == limited(full)
    if max_traceback >= 3:
        assert len(sent) == 2 * max_traceback  # and it was cut


# --- the protocol: one cell at a time, the zygote decides (issue 15) -------------------------------

def test_a_test_cell_is_forgotten_once_it_ran(executor):
    """A later answer cell finds the test's source nowhere IPython keeps sources."""
    import sys

    sys.path.insert(0, os.path.dirname(__file__))
    from hostile.process_cases import HISTORY, TRACEBACK

    cells = [(0, "def square(x):\n    return x + x", False),
             (1, "assert square(3) == 6\nassert square(-2) == 4  # HIDDEN-4711", True),
             (2, HISTORY, False), (3, TRACEBACK, False), (4, "print(len(In), _i2 == '')", False)]
    result = executor.run({}, cells).result(timeout=120)
    assert result["status"] == "ok"
    assert "HIDDEN-4711" in json.dumps(result["outputs"]["1"])  # its own error shows it, as in nbgrader
    later = json.dumps({k: v for k, v in result["outputs"].items() if k != "1"})
    assert "HIDDEN-4711" not in later and "square(-2)" not in later
    assert "print('In'" in later or "In [" in later or "'In'" in later  # the history was printed
    assert texts(result, 4) == "6 True\n"  # In keeps its numbering (In[0] is empty)
    assert result["execution_counts"] == {"0": 1, "1": 2, "2": 3, "3": 4, "4": 5}


@pytest.mark.parametrize("silencer", [
    "get_ipython()._showtraceback = lambda *a, **k: None\nget_ipython().showtraceback = lambda *a, **k: None",
    "get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)",
    "from IPython.display import clear_output\nget_ipython().events.register('post_run_cell', "
    "lambda *a: clear_output())",
])
def test_an_error_the_students_code_hid_is_recorded_by_the_zygote(executor, silencer):
    """The execute status says error: the cell gets an error output whatever was shown."""
    result = executor.run({}, [(0, silencer, False), (1, "assert 1 + 1 == 3", True)]).result(timeout=120)
    assert result["status"] == "ok"
    assert [o["output_type"] for o in result["outputs"]["1"]].count("error") == 1


def test_forged_replies_and_results_with_other_ids_are_ignored(executor):
    """Lines written to every pipe and socket the child holds change nobody's result."""
    ids = [f"{n}-{os.getpid()}" for n in range(1, 300)]
    forge = (
        "import os, json\n"
        f"lines = [json.dumps({{'id': i, 'status': 'ok', 'outputs': {{'1': []}}, 'execution_counts': {{}}}})"
        f" for i in {ids!r}]\n"
        "lines += [json.dumps({'nonce': str(n), 'status': 'ok', 'outputs': [], 'count': 9}) for n in range(50)]\n"
        "data = ('\\n'.join(lines) + '\\n').encode()\n"
        "for fd in os.listdir('/proc/self/fd'):\n"
        "    if int(fd) > 2:\n"
        "        try:\n"
        "            os.write(int(fd), data)\n"
        "        except OSError:\n"
        "            pass\n")
    other = executor.run({}, [(0, "import time; time.sleep(1)\nprint('mine')", False), (1, "1/0", True)])
    forged = executor.run({}, [(0, forge, False), (1, "assert False, 'wrong answer'", True)]).result(timeout=120)
    mine = other.result(timeout=120)
    assert forged["status"] == "ok" and set(forged["outputs"]) == {"0", "1"}
    assert forged["outputs"]["1"][-1]["ename"] == "AssertionError"
    assert texts(mine) == "mine\n" and mine["outputs"]["1"][-1]["ename"] == "ZeroDivisionError"
    assert_healthy(executor)


def uid_processes(uid: int) -> list[int]:
    from sabaq.autograders.sandbox.uidwatch import processes

    return processes(uid)


def test_a_setsid_grandchild_holding_the_pipes_does_not_hold_the_notebook(executor):
    """Fork, setsid, fork and sleep: the notebook still ends when its cells are done, and
    nothing of its uid is left running."""
    hold = ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            "        time.sleep(100000)\n    os._exit(0)\nos.wait()\nprint(os.getuid())")
    result = executor.run({}, [(0, hold, False), (1, "print('after')", False)]).result(timeout=60)
    assert result["status"] == "ok" and texts(result, 1) == "after\n"
    uid, deadline = int(texts(result)), time.monotonic() + 10
    while uid_processes(uid) and time.monotonic() < deadline:  # killed, maybe still exiting
        time.sleep(0.05)
    assert uid_processes(uid) == []


def test_memory_is_limited_for_all_the_notebooks_processes_together(executor):
    """Three forked children each under the per-process limit, together over it: stopped.
    Twenty children that only share their parent's memory are not counted twenty times."""
    shared = ("import os, time\nkids = []\nfor _ in range(20):\n    pid = os.fork()\n    if pid == 0:\n"
              "        time.sleep(1.5)\n        os._exit(0)\n    kids.append(pid)\n"
              "for k in kids:\n    os.waitpid(k, 0)\nprint('shared')")
    result = executor.run({}, [(0, shared, False)]).result(timeout=60)
    assert result["status"] == "ok" and texts(result) == "shared\n"
    hog = ("import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        block = b'x' * (400 << 20)\n"
           "        time.sleep(60)\n        os._exit(0)")
    wait = "import time\ntime.sleep(2.5)"
    result = executor.run({}, [(0, hog, False), *[(i, wait, False) for i in range(1, 6)],
                               (6, "print('never')", False)]).result(timeout=60)
    assert (result["status"], result.get("reason")) == ("died", "memory")
    assert "6" not in result["outputs"]
    assert_healthy(executor)


def test_disk_is_limited_for_all_the_notebooks_files_together(executor):
    """Eight files each under the file limit, together over [grading] disk_mb (200 MB)."""
    write = ("for n in range(8):\n    with open(f'big{n}.bin', 'wb') as fh:\n        for _ in range(30):\n"
             "            fh.write(b'x' * (1 << 20))")
    result = executor.run({}, [(0, write, False), (1, "print('never')", False)]).result(timeout=60)
    assert (result["status"], result.get("reason")) == ("died", "disk")
    assert "1" not in result["outputs"]
    assert_healthy(executor)


def test_a_cell_that_ignores_the_interrupt_is_stopped_by_the_zygote(executor):
    """The child's own timer and signal handlers replaced: the zygote still ends the cell."""
    code = ("import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nsignal.setitimer = lambda *a: (1.0, 0)\n"
            "signal.signal = lambda *a: None")
    loop = "while True:\n    try:\n        while True:\n            pass\n    except KeyboardInterrupt:\n        pass"
    result = executor.run({}, [(0, code, False), (1, loop, True), (2, "print('never')", False)]).result(timeout=60)
    assert result["status"] == "unresponsive"
    assert result["outputs"]["1"][-1]["ename"] == "CellTimeoutError"
    assert "2" not in result["outputs"]


def test_the_child_holds_no_cell_before_it_runs(executor):
    """Read raw, the child's memory holds no later cell's source (the zygote sends each cell
    when it is to run, and the process children are forked from never held a notebook); the
    same scan finds the text once a cell held it. As root the child cannot read its own
    memory at all (it is not dumpable: /proc/self/mem is root's)."""
    import sys

    sys.path.insert(0, os.path.dirname(__file__))
    from hostile.process_cases import RAW_MEMORY

    later = executor.run({}, [(0, RAW_MEMORY, False), (1, "assert square(-2) == 4", True)])
    other = executor.run({}, [(0, "import time; time.sleep(1)", False), (1, "assert square(-2) == 4", True)])
    held = executor.run({}, [(0, "kept = 'square(-2) == 4'", False), (1, RAW_MEMORY, False)]).result(timeout=120)
    if executor.root_mode and executor.sandboxed:
        refused = "PermissionError: [Errno 13] Permission denied: '/proc/self/mem'"
        assert texts(later.result(timeout=120)) == refused and texts(held, 1) == refused
    else:
        assert texts(later.result(timeout=120)) == "memory []\n"
        assert "square(-2) == 4" in texts(held, 1)
    other.result(timeout=120)


def test_a_display_is_updated_from_a_later_cell(executor):
    """Display updates travel with the later cell's reply; the zygote applies them."""
    cells = [(0, "from IPython.display import display, update_display\ndisplay('first', display_id='d')", False),
             (1, "update_display('second', display_id='d')\nprint('updated')", False)]
    result = executor.run({}, cells).result(timeout=60)
    assert result["outputs"]["0"][0]["data"]["text/plain"] == "'second'"
    assert texts(result, 1) == "updated\n"


def test_the_process_limit_holds_for_every_process_of_the_notebook(executor):
    """RLIMIT_NPROC counts per uid: a tree of forks (each child forking too) stays within
    [grading] processes (32 here) all together."""
    tree = ("import os, time\ndef spread():\n    for _ in range(100):\n        try:\n            if os.fork() == 0:\n"
            "                spread()\n                time.sleep(2)\n                os._exit(0)\n"
            "        except OSError:\n            return\nspread()\ntime.sleep(0.5)\n"
            "me = os.getuid()\nprint(sum(1 for p in os.listdir('/proc') if p.isdigit() and\n"
            "          os.stat(f'/proc/{p}').st_uid == me))")
    result = executor.run({}, [(0, tree, False)]).result(timeout=60)
    assert 0 < int(texts(result)) <= 32
    assert_healthy(executor)
