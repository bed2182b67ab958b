"""Runs scenarios of cells in a grading shell, each in a child forked from one warm shell
(as the zygote does), and prints what each cell did as JSON: for tests of
``sabaq.autograders.sandbox.integrity`` that must not pollute pytest's own process.

stdin: ``{"scenarios": [{"cells": [["answer" | "test", source], ...], "guard": true}],
"preload": [modules], "no_ctypes": false}``.
stdout: one JSON list per scenario, one entry per cell: ``{"ok", "ename", "value_text",
"partial", "tampered", "outputs"}``. A test cell runs after ``Pristine.restore`` with
``StrictComparisons`` applied, and ``tampered`` is what changed while it ran.
"""

from __future__ import annotations

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


def run_scenario(shell, pristine, scenario: dict) -> list[dict]:
    from sabaq.autograders.sandbox import integrity
    from sabaq.autograders.sandbox.shell import CapturedStream, Recorder

    recorder = Recorder(1 << 20)
    shell.recorder = recorder
    sys.stdout = CapturedStream("stdout", recorder, 1)
    sys.stderr = CapturedStream("stderr", recorder, 2)
    if scenario.get("guard", True):
        integrity.install_audit_guard(shell.user_global_ns)
    results = []
    for index, (kind, source) in enumerate(scenario["cells"]):
        recorder.begin(index)
        transformer = None
        if kind == "test":
            pristine.restore(shell)
            transformer = integrity.StrictComparisons()
            shell.ast_transformers.append(transformer)
        try:
            result = shell.run_cell(source, store_history=True)
        finally:
            if transformer is not None:
                list.remove(shell.ast_transformers, transformer)
        sys.stdout.flush()
        sys.stderr.flush()
        error = result.error_in_exec or result.error_before_exec
        value = result.result
        results.append({
            "ok": error is None,
            "ename": type(error).__name__ if error is not None else None,
            "evalue": str(error) if error is not None else None,
            "partial": integrity.partial_credit_text(value) if kind == "test" else None,
            "tampered": pristine.tampered(shell) if kind == "test" else [],
            "outputs": [o for o in list(recorder.current) if o["output_type"] != "display_data"],
        })
    return results


def main() -> None:
    from sabaq.autograders.sandbox import integrity
    from sabaq.autograders.sandbox.shell import make_shell

    request = json.loads(sys.stdin.read())
    if request.get("no_ctypes"):  # a zygote that keeps native memory access out
        sys.modules["ctypes"] = None
        sys.modules.pop("_ctypes", None)
    for name in request.get("preload", ["numpy", "matplotlib", "matplotlib.pyplot"]):
        __import__(name)
    shell = make_shell()
    pristine = integrity.Pristine.capture(shell)
    out = os.fdopen(os.dup(1), "w")
    for scenario in request["scenarios"]:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            try:
                payload = json.dumps(run_scenario(shell, pristine, scenario), default=repr)
            except BaseException as e:  # noqa: BLE001 - the scenario broke the runner itself
                payload = json.dumps({"runner_error": repr(e)})
            with os.fdopen(write, "w") as w:
                w.write(payload)
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as r:
            data = r.read()
        os.waitpid(pid, 0)
        out.write((data or json.dumps({"runner_error": "no result"})) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
