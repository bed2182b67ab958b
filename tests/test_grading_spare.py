"""The grading child forked ahead of its notebook (the forker's spare, see ``sandbox.zygote``)
waits as root beside running notebooks: a notebook can neither signal it nor read it, nor
the zygote and the forker, and the notebooks after it start from it as before."""

from __future__ import annotations

import json
import os

import pytest

from sabaq.autograders.sandbox.executor import Executor
from sabaq.settings import Settings

pytestmark = pytest.mark.grading

# The attack, as a student would write it: every process of the sandbox that is not the
# notebook's own uid (the zygote, the forker, the waiting spare) is stopped, killed and read.
ATTACK = """
import json, os, signal, time
mine, forker = os.getuid(), os.getppid()

def others():
    found = {}
    for entry in os.listdir('/proc'):
        try:
            with open(f'/proc/{entry}/status') as fh:
                status = dict(line.split(':', 1) for line in fh if ':' in line)
            uid, parent = int(status['Uid'].split()[0]), int(status['PPid'])
        except (OSError, KeyError, ValueError):
            continue
        if uid != mine:
            found[int(entry)] = (parent, uid)
    return found

for _ in range(100):  # the forker forks the spare just after handing this notebook its child
    found = others()
    # the spare waits as root; the notebook before this one (its own uid) may still be exiting
    spares = [pid for pid, (parent, uid) in found.items() if parent == forker and uid == 0]
    if spares:
        break
    time.sleep(0.05)
done = []
for pid in found:
    for how in (signal.SIGSTOP, signal.SIGKILL):
        try:
            os.kill(pid, how)
            done.append(f'{pid} signal {how}')
        except OSError:
            pass
    for name in ('mem', 'environ', 'maps'):
        try:
            with open(f'/proc/{pid}/{name}', 'rb') as fh:
                fh.read(1)
            done.append(f'{pid} read {name}')
        except OSError:
            pass
print(json.dumps({'others': len(found), 'spares': len(spares), 'done': done}))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="the spare is forked ahead only as root")
def test_a_notebook_cannot_touch_the_waiting_spare_and_the_next_notebooks_start_from_it(tmp_path):
    settings = Settings.load(data_dir=tmp_path, environ={"SABAQ_GRADING_CELL_TIMEOUT": "10"})
    with Executor(settings.grading, parallel=1) as executor:
        first = executor.run({}, [(0, "print('first')")]).result(timeout=120)
        assert first["status"] == "ok"  # a spare is forked once a child is handed out: one waits now
        attacked = executor.run({}, [(0, ATTACK)]).result(timeout=120)
        assert attacked["status"] == "ok", attacked
        seen = json.loads(attacked["outputs"]["0"][0]["text"])
        # the zygote, the forker and the spare at least (bubblewrap's init too); the spare is
        # the forker's other child, waiting as root beside the notebook
        assert seen["others"] >= 3 and seen["spares"] == 1 and seen["done"] == []
        for n in range(3):  # each from the spare forked after the one before
            after = executor.run({}, [(0, f"print({n} * 2)")]).result(timeout=120)
            assert after["status"] == "ok" and after["outputs"]["0"][0]["text"] == f"{n * 2}\n"
