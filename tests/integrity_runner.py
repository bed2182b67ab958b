"""Runs scenarios of cells in a grading shell, each in a child forked from one warm shell
(as the zygote does), and prints what each cell did as JSON: for tests of
``sabaq.autograders.sandbox.integrity`` that must not pollute pytest's own process.

stdin: ``{"scenarios": [{"cells": [["answer" | "test", source], ...]}],
"preload": [modules], "no_ctypes": false, "ctypes_stand_in": false, "bound": false}``.
stdout: one JSON list per scenario, one entry per cell: ``{"ok", "ename", "evalue",
"partial", "tampered", "outputs"}``. Test cells run inside ``integrity.TestCellGuard`` as the
grading child runs them; ``tampered`` holds the messages of its integrity errors.
"""

from __future__ import annotations

import builtins
import json
import os
import subprocess
import sys


def run_scenarios(scenarios: list[dict], **options) -> list[list[dict]]:
    """Run the scenarios in a fresh process (this file as a script): one list per scenario."""
    done = subprocess.run([sys.executable, __file__], input=json.dumps({"scenarios": scenarios, **options}),
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) == len(scenarios), done.stderr[-3000:]
    for result in results:
        assert isinstance(result, list), result
    return results


def run_scenario(shell, guard, scenario: dict) -> list[dict]:
    """In the forked child: the cells in order, test cells inside the guard as the grading
    child runs them (``sandbox.child``)."""
    from sabaq.autograders.sandbox import integrity
    from sabaq.autograders.sandbox.shell import CapturedStream, Recorder

    recorder = Recorder(1 << 20)
    shell.recorder = recorder
    sys.stdout = CapturedStream("stdout", recorder, 1)
    sys.stderr = CapturedStream("stderr", recorder, 2)
    from sabaq.autograders.sandbox import shell as shell_module

    builtins.input = getattr(shell_module, "refuse_input", None) or shell_module._refuse_input
    guard.before_first(shell)
    seal, before_test, after_test = guard.seal, guard.before_test, guard.after_test  # as the child binds them
    results = []
    for index, (kind, source) in enumerate(scenario["cells"]):
        recorder.begin(index)
        if kind == "test":
            seal()
            before_test(shell)
        result = shell.run_cell(source, store_history=True)
        sys.stdout.flush()
        sys.stderr.flush()
        if kind == "test":
            after_test(shell, seal(), source)
        error = result.error_in_exec or result.error_before_exec
        outputs = [o for o in list(recorder.current) if o["output_type"] != "display_data"]
        results.append({
            "ok": error is None,
            "ename": type(error).__name__ if error is not None else None,
            "evalue": str(error) if error is not None else None,
            "partial": guard.result_text(result.result) if kind == "test" else None,
            "tampered": [o["evalue"] for o in outputs if o.get("ename") == integrity.TAMPERED_ERROR],
            "outputs": outputs,
        })
    return results


def main() -> None:
    from sabaq.autograders.sandbox import integrity
    from sabaq.autograders.sandbox.shell import make_shell

    request = json.loads(sys.stdin.read())
    if request.get("no_ctypes"):  # a zygote that keeps native memory access out
        sys.modules["ctypes"] = None
        sys.modules.pop("_ctypes", None)
    if request.get("ctypes_stand_in"):  # as the zygote keeps it out: ctypes with sizes only
        from sabaq.autograders.sandbox import ctypes_sizes

        ctypes_sizes.install()
    if request.get("arrays_guard"):  # as the zygote: numpy's arrays only over memory they own
        from sabaq.autograders.sandbox import arrays

        arrays.install()
    for name in request.get("preload", ["numpy", "matplotlib", "matplotlib.pyplot"]):
        __import__(name)
    shell = make_shell()
    guard = integrity.TestCellGuard(shell, bound=bool(request.get("bound")))
    out = os.fdopen(os.dup(1), "w")
    for scenario in request["scenarios"]:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            try:
                payload = json.dumps(run_scenario(shell, guard, scenario), default=repr)
            except BaseException as e:  # noqa: BLE001 - the scenario broke the runner itself
                payload = json.dumps({"runner_error": repr(e)})
            with os.fdopen(write, "w") as w:
                w.write(payload)
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as r:
            data = r.read()
        _, status = os.waitpid(pid, 0)
        ended = (f"killed by signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status)
                 else f"exit code {os.waitstatus_to_exitcode(status)}")
        out.write((data or json.dumps({"runner_error": f"no result: the child's {ended}"})) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
