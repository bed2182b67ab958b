"""Output written straight to file descriptors 1 and 2 in the grading child (subprocesses,
C code) goes into the cell's streams, as ipykernel's fd capture does."""

from __future__ import annotations

from processes import forked


def test_a_subprocess_writing_more_than_a_pipe_holds_is_captured_by_a_bare_thread():
    """The pump drains the pipes while the cell runs, so a subprocess writing more than a
    pipe holds (64 KiB) is not blocked; it is a bare thread (starting a threading.Thread cost
    each freshly forked child 0.5 ms more), which threading does not list."""
    def child():
        import subprocess
        import sys
        import threading

        from sabaq.autograders.sandbox.shell import CapturedStream, FdCapture, Recorder

        recorder = Recorder(1 << 22)
        out, err = CapturedStream("stdout", recorder, 1), CapturedStream("stderr", recorder, 2)
        threads = threading.active_count()
        capture = FdCapture({1: out, 2: err})
        done = subprocess.run([sys.executable, "-c", "import sys\nsys.stdout.write('ә' * 150000)\n"
                               "sys.stdout.flush()\nsys.stderr.write('Қате\\n')"], timeout=60)
        capture.drain()
        out.flush()
        err.flush()
        texts = {}
        for output in recorder.current:
            texts[output["name"]] = texts.get(output["name"], "") + output["text"]
        return done.returncode, threading.active_count() - threads, texts == {"stdout": "ә" * 150000,
                                                                                "stderr": "Қате\n"}

    assert forked(child) == "(0, 0, True)"
