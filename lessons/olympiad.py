"""In a task's notebook: test the solution on the samples, submit it, show the verdict.

The notebook's solution cell saves ``solution.py``; ``check_samples()`` runs it
on ``samples/*.in`` right here (the student's own program in their own server),
``submit()`` sends it to sabaq with the server's hub token and waits for the
judge. Both work from the folder the notebook was fetched into (``task.json``).

An interactive task (``"interactive": true`` in task.json) ships its interactor in
``interactor/`` (a Python one: it runs here, with the student's Python): each sample
runs the program and the interactor joined by two pipes, as the judge does, and the
interactor's exit code (42 accepted, 43 wrong) and message decide.
"""

from __future__ import annotations

import html
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sabaq.contracts import Note
from sabaq.i18n import N_, translator

VERDICT_NAMES = {  # shown translated
    "AC": N_("Accepted"), "WA": N_("Wrong answer"), "TLE": N_("Time limit exceeded"),
    "MLE": N_("Memory limit exceeded"), "RTE": N_("Run-time error"), "CE": N_("Compilation error"),
}


class Task:
    """The fetched task folder: task.json, samples/, solution.py, the notebook."""

    def __init__(self, folder: str | os.PathLike | None = None):
        self.folder = Path(folder or os.getcwd())
        self.lang = os.environ.get("SABAQ_LANG", "en")
        meta = self.folder / "task.json"
        if not meta.exists():
            raise FileNotFoundError(self._("This folder has no task.json: open the notebook from the task folder "
                                           "you fetched."))
        self.meta = json.loads(meta.read_text(encoding="utf-8"))
        notebook = self.folder / f"{self.meta.get('assignment', '')}.ipynb"
        try:  # the fetched notebook is in the student's language
            self.lang = json.loads(notebook.read_text(encoding="utf-8"))["metadata"]["sabaq"]["language"]
        except (OSError, ValueError, KeyError):
            pass

    def _(self, message: str) -> str:
        return translator(self.lang)(message)

    def solution(self) -> bytes:
        path = self.folder / "solution.py"
        if not path.exists():
            raise FileNotFoundError(self._("There is no solution.py yet: run your solution cell first."))
        return path.read_bytes()


class _Shown:
    """A helper's result shown as its table and nothing else: once in the cell that made it
    (the helper showed it there), again when a later cell shows the result itself. Its plain
    repr is one short line, never the data; the data are the object itself (a list or a dict)."""

    _shown_in: int | None = None

    def html(self) -> str:
        raise NotImplementedError

    def summary(self) -> str:
        raise NotImplementedError

    def show(self, replacing=None) -> None:
        """The table in the notebook (in place of ``replacing``'s output: a display handle),
        or the summary in a terminal."""
        ipython = _ipython()
        if ipython is None:
            print(self.summary())
            return
        from IPython.display import HTML, display

        if replacing is not None:
            replacing.update(HTML(self.html()))
        else:
            display(HTML(self.html()))
        self._shown_in = ipython.execution_count

    def _ipython_display_(self) -> None:
        ipython = _ipython()
        if ipython is None or self._shown_in != ipython.execution_count:
            self.show()

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(self.summary())

    def __repr__(self) -> str:
        return self.summary()


def _status(text: str):
    """A line saying what is happening, which the result replaces: its display handle (None
    in a terminal, where the line is printed)."""
    if _ipython() is None:
        print(text)
        return None
    from IPython.display import HTML, display

    return display(HTML(f"<p>{html.escape(text)}</p>"), display_id=True)


def _note(judged, lang: str) -> str:
    """A judgement's reason in ``lang``: sabaq's note translated, or the checker's own words."""
    return judged.note.text(lang) if judged.note else judged.message


def _test_text(test: dict, lang: str) -> str:
    """What the judge said about one test (a verdict's dict) in ``lang``."""
    note = test.get("note")
    return Note.model_validate(note).text(lang) if note else test.get("message", "")


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


class SampleResults(_Shown, list):
    """check_samples()'s rows (dicts: sample, verdict, time, note, output), shown as a table."""

    def __init__(self, rows: list[dict], lang: str):
        super().__init__(rows)
        self.lang = lang

    def html(self) -> str:
        _ = translator(self.lang)
        head = "".join(f"<th>{html.escape(t)}</th>" for t in (_("Sample"), _("Verdict"), _("Time, s"), ""))
        body = "".join(f"<tr><td>{html.escape(r['sample'])}</td><td>{_verdict_html(r['verdict'], _)}</td>"
                       f"<td>{r['time']:.2f}</td><td>{html.escape(r['note'])}</td></tr>" for r in self)
        return f"<table><tr>{head}</tr>{body}</table>"

    def summary(self) -> str:
        _ = translator(self.lang)
        return _("Samples: {verdicts}").format(
            verdicts=", ".join(f"{r['sample']} {r['verdict'] or '…'}" for r in self) or "—")


class VerdictReport(_Shown, dict):
    """submit()'s answer from sabaq (status, verdict, score, best, judge: groups and tests),
    shown as the verdict table."""

    def __init__(self, verdict: dict, lang: str):
        super().__init__(verdict)
        self.lang = lang

    def html(self) -> str:
        return verdict_html(self, translator(self.lang), self.lang)

    def summary(self) -> str:
        _ = translator(self.lang)
        if self.get("status") == "queued":
            return _("The judge is busy; your submission is stored.")
        return _("Verdict {verdict}: {score} of {max}.").format(
            verdict=self.get("verdict") or "…", score=f"{self.get('score') or 0:g}", max=f"{self.get('max_score') or 0:g}")


def check_samples(folder: str | os.PathLike | None = None, show: bool = True) -> SampleResults:
    """Run solution.py on every sample; a row per sample: verdict, time, note, output. Shown
    as a table (``show``); the rows are the result, whose repr is one line."""
    from sabaq.kattis.compare import default_validate

    task = Task(folder)
    _ = task._
    task.solution()
    rows = []
    limit = float(task.meta.get("time_limit", 1.0))
    for sample in sorted((task.folder / "samples").glob("*.in")):
        if task.meta.get("interactive"):
            rows.append(_interactive_sample(task, sample, limit))
            continue
        wanted = sample.with_suffix(".ans").read_bytes()
        start = time.monotonic()
        try:
            entry = task.meta.get("entry", "solution.py")  # a grader that imports the function, or the program
            proc = subprocess.run([sys.executable, entry], input=sample.read_bytes(), capture_output=True,
                                  cwd=task.folder, timeout=limit * 3 + 1)
            seconds = time.monotonic() - start
            if proc.returncode != 0:
                verdict, note = "RTE", proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
                note = note[0] if note else ""
            else:
                judged = default_validate(proc.stdout, wanted, task.meta.get("validator_flags", []))
                verdict = "AC" if judged.accepted else "WA"
                note = "" if judged.accepted else (
                    _("Differs from the sample answer; this task accepts other correct answers too, "
                      "the judge will decide.") if task.meta.get("custom_checker") else _note(judged, task.lang))
                if verdict == "AC" and seconds > limit:
                    verdict = "TLE"
            output = proc.stdout.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            seconds, verdict, note, output = time.monotonic() - start, "TLE", "", ""
        rows.append({"sample": sample.stem, "verdict": verdict, "time": round(seconds, 3), "note": note,
                     "output": output[:2000]})
    results = SampleResults(rows, task.lang)
    if show:
        results.show()
    return results


def _interactive_sample(task: Task, sample: Path, limit: float) -> dict:
    """One sample of an interactive task: the program and the interactor joined by pipes, the
    verdict by the judge's rules: a rejection by an interactor that ended first (the program
    then finding its input closed), then the program's own failure, then the interactor's verdict."""
    _ = task._
    interactor = sorted((task.folder / "interactor").glob("*.py"))
    if not interactor:
        return {"sample": sample.stem, "verdict": None, "time": 0.0, "output": "",
                "note": _("This interactive task cannot be tried here: submit your program and the judge will run it.")}
    entry = task.meta.get("entry", "solution.py")
    to_program, from_program = os.pipe(), os.pipe()
    with tempfile.TemporaryDirectory(prefix="sabaq-sample-") as feedback, tempfile.TemporaryFile() as errors:
        start = time.monotonic()
        program = subprocess.Popen([sys.executable, entry], stdin=to_program[0], stdout=from_program[1],
                                   stderr=errors, cwd=task.folder)
        judge = subprocess.Popen([sys.executable, str(interactor[0]), str(sample), str(sample.with_suffix(".ans")),
                                  feedback + os.sep], stdin=from_program[0], stdout=to_program[1],
                                 stderr=subprocess.DEVNULL, cwd=task.folder)
        for fd in (*to_program, *from_program):
            os.close(fd)  # the two processes hold them now: each sees the other's end close
        verdict, judge_first = None, False
        deadline = start + limit * 3 + 1
        while program.poll() is None:  # which of them ends first decides between WA and RTE
            judge_first = judge_first or judge.poll() is not None
            if time.monotonic() > deadline:
                verdict = "TLE"
                break
            time.sleep(0.001)
        judge_first = judge_first or program.returncode == -signal.SIGPIPE
        seconds = time.monotonic() - start
        for process in (program, judge):  # the judge's rules end the interactor with the program's time
            try:
                process.wait(timeout=0 if verdict else limit * 3 + 1)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        message_file = Path(feedback) / "judgemessage.txt"
        note = message_file.read_text(errors="replace").strip() if message_file.exists() else ""
        errors.seek(0)
        crash = errors.read(65536).decode("utf-8", "replace").strip().splitlines()[-1:]
    if verdict is None:
        if judge.returncode == 43 and (judge_first or program.returncode == 0):
            verdict = "WA"
        elif program.returncode != 0:
            verdict, note = "RTE", crash[0] if crash else ""
        elif judge.returncode == 42:
            verdict = "TLE" if seconds > limit else "AC"
        else:
            verdict, note = None, _("The interactor failed (exit {code}); the judge will decide.").format(
                code=judge.returncode)
    return {"sample": sample.stem, "verdict": verdict, "time": round(seconds, 3), "note": note, "output": ""}


def _verdict_html(code: str | None, _) -> str:
    if not code:
        return "…"
    colour = "#1a7f37" if code == "AC" else "#b42318"
    return f'<b style="color:{colour}">{code}</b> {html.escape(_(VERDICT_NAMES.get(code, code)))}'


def submit(folder: str | os.PathLike | None = None, wait_seconds: float = 120.0, show: bool = True) -> VerdictReport:
    """Send solution.py (and the notebook) to the judge; wait for the verdict and show it as
    a table (``show``), which replaces the line saying it waits. The verdict (a dict) is the result.

    The service's refusal, or its absence, is raised in the task's language."""
    from sabaq.client import ServiceClient  # httpx only when a student submits
    from sabaq.errors import SabaqError

    task = Task(folder)
    _ = task._
    source = task.solution()
    service, token = os.environ.get("SABAQ_SERVICE_URL"), os.environ.get("JUPYTERHUB_API_TOKEN")
    if not service or not token:
        raise RuntimeError(_("Submitting needs sabaq: open this notebook from your sabaq server."))
    course, name = task.meta["course"], task.meta["assignment"]
    files = [("files", ("solution.py", source, "text/x-python"))]
    notebook = task.folder / f"{name}.ipynb"
    if notebook.exists():
        files.append(("files", (notebook.name, notebook.read_bytes(), "application/x-ipynb+json")))
    with ServiceClient(service, token, language=task.lang, timeout=60) as client:
        try:
            submission = client.json("POST", f"api/v1/courses/{course}/assignments/{name}/submissions", files=files)
        except SabaqError as e:
            raise RuntimeError(e.translated(task.lang)) from None
        status = _status(_("Submitted: attempt {attempt}. Waiting for the judge…").format(
            attempt=submission["attempt"])) if show else None
        deadline = time.monotonic() + wait_seconds
        verdict = {"status": "queued"}
        while time.monotonic() < deadline:
            try:
                verdict = client.json("GET", f"api/v1/submissions/{submission['id']}/verdict", timeout=30)
            except SabaqError as e:
                raise RuntimeError(_("sabaq could not show the verdict (HTTP {status}); your submission is stored. "
                                     "Look at sabaq's page of the course.").format(status=e.status)) from None
            if verdict.get("status") != "queued":
                break
            time.sleep(1.0)
    report = VerdictReport(verdict, task.lang)
    if show:
        report.show(replacing=status)
    return report


def verdict_html(verdict: dict, _, lang: str = "en") -> str:
    """The verdict table: one row per test group with its verdict, time and points."""
    if verdict.get("status") == "queued":
        return "<p>" + html.escape(_("The judge is busy; your submission is stored. Run submit's cell again "
                                     "later, or look at sabaq's page of the course.")) + "</p>"
    judge = verdict.get("judge") or {}
    rows = []
    for g in judge.get("groups", []):
        first = g.get("first_failure") or ""
        failed = next((t for t in g.get("tests", []) if t.get("name") == first), None)
        said = _test_text(failed, lang) if failed else ""
        first = f"{first}: {said}" if said else first
        rows.append(f"<tr><td>{html.escape(g['name'])}</td><td>{_verdict_html(g['verdict'], _)}</td>"
                    f"<td>{g['time']:.2f}</td><td>{g['points']:g} / {g['max_points']:g}</td>"
                    f"<td>{html.escape(first)}</td></tr>")
    head = "".join(f"<th>{html.escape(t)}</th>" for t in (_("Tests"), _("Verdict"), _("Time, s"), _("Points"),
                                                          _("First failed test")))
    head = f"<tr>{head}</tr>"
    summary = _("Score: {score} of {max}. Best so far: {best}.").format(
        score=f"{verdict.get('score') or 0:g}", max=f"{verdict.get('max_score') or 0:g}",
        best=f"{verdict.get('best') or 0:g}")
    compile_message = judge.get("compile_message")
    extra = f"<pre>{html.escape(compile_message)}</pre>" if compile_message else ""
    return (f"<p>{_verdict_html(judge.get('verdict'), _)} — {html.escape(summary)}</p>{extra}"
            f"<table>{head}{''.join(rows)}</table>")
